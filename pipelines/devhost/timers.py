"""Timer triggers: one host thread per timer function, firing on its schedule.

As in the Functions host (`TimerListener`, azure-webjobs-sdk-extensions), a timer
never overlaps itself: the next occurrence is computed after an invocation ends,
so a run longer than the period skips the occurrences it covered instead of
queueing them. The invocation itself runs on the worker's shared pool
(`pipelines.devhost.worker`), where it may wait for a thread like any other.
`runOnStartup` fires once when the host starts.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from azure.functions.timer import TimerRequest

from pipelines.devhost.functions import FunctionEntry
from pipelines.devhost.hostconfig import resolve_binding_expression
from pipelines.devhost.ncrontab import Schedule, parse_schedule
from pipelines.devhost.worker import Worker

log = logging.getLogger("pipelines.devhost")

# Lateness under this is scheduling jitter, not a missed occurrence.
_PAST_DUE_TOLERANCE = timedelta(seconds=1)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class TimerRunner:
    def __init__(self, entry: FunctionEntry, stopping: threading.Event, worker: Worker) -> None:
        self.entry = entry
        self._worker = worker
        expression = resolve_binding_expression(str(entry.setting("schedule")), what=f"timer {entry.name!r}")
        self.schedule: Schedule = parse_schedule(expression)
        self.run_on_startup = bool(entry.setting("runOnStartup"))
        self._stopping = stopping
        self._thread = threading.Thread(target=self._run, name=f"devhost-timer-{entry.name}", daemon=True)
        self._last: datetime | None = None

    def describe(self) -> str:
        startup = ", runs on startup" if self.run_on_startup else ""
        return f"{self.entry.name}: timer '{self.schedule.expression}'{startup}"

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        if self._thread.ident is not None:  # started
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _fire(self, scheduled: datetime, *, past_due: bool) -> None:
        now = datetime.now(UTC)
        request = TimerRequest(
            past_due=past_due,
            schedule_status={
                "Last": _iso(self._last),
                "Next": _iso(self.schedule.next_after(now)),
                "LastUpdated": _iso(now),
            },
            schedule={"AdjustForDST": True},
        )
        self._last = scheduled
        self._worker.invoke(self.entry, request)

    def _run(self) -> None:
        now = datetime.now(UTC)
        if self.run_on_startup and not self._stopping.is_set():
            self._fire(now, past_due=False)
        while not self._stopping.is_set():
            now = datetime.now(UTC)
            due = self.schedule.next_after(now)
            if self._stopping.wait((due - now).total_seconds()):
                return
            # Event.wait may return a little early: never fire before the occurrence.
            while (late := datetime.now(UTC) - due) < timedelta(0):
                if self._stopping.wait(-late.total_seconds()):
                    return
            self._fire(due, past_due=late > _PAST_DUE_TOLERANCE)
