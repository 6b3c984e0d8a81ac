"""Watch a run to its end, as SDK v1's `wait_for_completion(show_output=True)` did: each
step's status changes and its output as it is written, with the time elapsed.

Each poll reads the run, its steps' statuses, and the log of every step that runs
(`GET .../Graph/Shareable/{STDOUT|STDERR}?nodeId=`, which answers the text so far);
only what is new is printed, a whole line at a time, each line after its step's name:

    PipelineRunId: 5f0c...
    [0:00:01] compare: Running
    compare | param1: 20
    compare (stderr) | a warning
    [0:00:04] compare: Finished
    [0:00:04] PipelineRun 5f0c...: Finished

On a terminal a spinner line at the bottom shows the elapsed time and the steps
that run; elsewhere (a file, CI) a line says the run is still going every minute.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

import requests

from pipelines.client.status import RUN_ENDED, STEP_ENDED, parse_time, run_status, step_status
from pipelines.client.workspace import ServiceError

if TYPE_CHECKING:
    from pipelines.client.entities import PipelineRun

LOG_KINDS = ("STDOUT", "STDERR")
HEARTBEAT_SECONDS = 60.0
RETRY_SECONDS = 120.0
# A log route answers the whole text so far: read a large log less often.
_BYTES_PER_EXTRA_SECOND = 1024 * 1024
_SKIPPED = re.compile(r"^\[\.\.\. the first (\d+) bytes are not shown \.\.\.\]\n")

__all__ = ["LogTail", "RunWatcher", "format_elapsed"]


def format_elapsed(seconds: float) -> str:
    """0:00:07, 1:02:03: hours, minutes, seconds."""
    whole = int(max(0.0, seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


@dataclass
class LogTail:
    """What of one step attempt's log has been printed, and the part line held back."""

    attempt: Any = None
    printed: int = 0  # bytes of the log already printed (or held back as a part line)
    pending: bytes = b""
    size: int = 0
    next_read: float = 0.0
    drained: bool = False

    def take(self, text: str, final: bool) -> tuple[list[str], int]:
        """The whole new lines of `text` (the log so far); with `final`, the last part line too.

        Returns them and the number of bytes that were beyond reach (a log longer than a
        log answer shows only its end).
        """
        start = 0
        match = _SKIPPED.match(text)
        if match:
            start = int(match.group(1))
            text = text[match.end():]
        data = text.encode("utf-8")
        end = start + len(data)
        self.size = end
        lost = 0
        if self.printed < start:
            lost = start - self.printed
            self.printed, self.pending = start, b""
        if end > self.printed:
            self.pending += data[self.printed - start:]
            self.printed = end
        if final:
            complete, self.pending = self.pending, b""
            complete = complete.removesuffix(b"\n")
            if not complete:
                return [], lost
        else:
            cut = self.pending.rfind(b"\n")
            if cut < 0:
                return [], lost
            complete, self.pending = self.pending[:cut], self.pending[cut + 1:]
        return complete.decode("utf-8", errors="replace").split("\n"), lost


class _Plain:
    """Lines to a file, a pipe or CI's log."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __enter__(self) -> _Plain:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def line(self, text: str, style: str | None = None) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def status(self, text: str) -> None:
        return None


class _Live:
    """A terminal: lines printed above a spinner line that shows the elapsed time."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console

        self.console = Console(file=out, highlight=False)
        self._status = self.console.status("", spinner="dots")

    def __enter__(self) -> _Live:
        self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._status.stop()

    def line(self, text: str, style: str | None = None) -> None:
        from rich.text import Text

        self.console.print(Text(text, style=style or ""), soft_wrap=True)

    def status(self, text: str) -> None:
        self._status.update(text)


_STYLES = {"Finished": "green", "Failed": "bold red", "Canceled": "magenta", "Running": "cyan",
           "Queued": "yellow"}


class RunWatcher:
    """Polls a run until it ends, printing what happens to `out`."""

    def __init__(
        self,
        run: PipelineRun,
        out: TextIO,
        *,
        poll_seconds: float = 1.0,
        log_kinds: Iterable[str] = LOG_KINDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.run = run
        self.out = out
        self.poll_seconds = poll_seconds
        self.log_kinds = tuple(log_kinds)
        self.clock = clock
        self.sleep = sleep
        self.tails: dict[tuple[str, str], LogTail] = {}
        self.seen: dict[str, tuple[str, Any, Any]] = {}
        self._origin = clock()
        self._offset = 0.0
        self._last_line = clock()

    # -- time ----------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self._offset + self.clock() - self._origin

    def _stamp(self) -> str:
        return f"[{format_elapsed(self.elapsed())}]"

    # -- the loop ------------------------------------------------------------------------------------
    def watch(self, timeout_seconds: float | None = None) -> str:
        """Print until the run ends; its final status word. TimeoutError after `timeout_seconds`.

        A service that does not answer for a while (a restart, a network blip) is asked
        again every poll for up to RETRY_SECONDS before the error is raised.
        """
        live = self.out.isatty() if hasattr(self.out, "isatty") else False
        deadline = None if timeout_seconds is None else self.clock() + timeout_seconds
        failing_since: float | None = None
        started = False
        with (_Live(self.out) if live else _Plain(self.out)) as view:
            while True:
                try:
                    entity = self.run.refresh().entity
                    if failing_since is not None:
                        failing_since = None
                        view.line(f"{self._stamp()} the service answers again")
                    if not started:
                        self._start(view, entity)
                        started = True
                    status = run_status(entity)
                    steps = self.run.get_step_statuses()
                    ended = status in RUN_ENDED
                    for node_id, step in _in_order(steps):
                        self._follow(view, node_id, step, run_ended=ended)
                except Exception as exc:  # noqa: BLE001 - only transient errors are retried
                    if not _transient(exc):
                        raise
                    if failing_since is None:
                        failing_since = self.clock()
                        view.line(f"{self._stamp()} the service did not answer ({_short(exc)}); asking again")
                    elif self.clock() - failing_since > RETRY_SECONDS:
                        raise
                    self.sleep(self.poll_seconds)
                    continue
                running = [str(s.get("Name") or n) for n, s in _in_order(steps) if step_status(s) == "Running"]
                view.status(f"{status} {format_elapsed(self.elapsed())}"
                            + (f"  {', '.join(running)}" if running else ""))
                if ended:
                    detail = (entity.get("Status") or {}).get("StatusDetail")
                    view.line(f"{self._stamp()} PipelineRun {self.run.id}: {status}"
                              + (f" ({detail})" if detail else ""), _STYLES.get(status))
                    return status
                if deadline is not None and self.clock() > deadline:
                    raise TimeoutError(f"run {self.run.id} is still {status} after {timeout_seconds:g} s")
                if not live and self.clock() - self._last_line >= HEARTBEAT_SECONDS:
                    what = f": {', '.join(running)} running" if running else ""
                    view.line(f"{self._stamp()} still {status}{what}")
                    self._last_line = self.clock()
                self.sleep(self.poll_seconds)

    def _start(self, view: Any, entity: dict[str, Any]) -> None:
        created = parse_time((entity.get("Status") or {}).get("CreationTime")) or parse_time(entity.get("CreatedDate"))
        if created is not None:  # elapsed counts from the run's creation, not from when we looked
            self._offset = max(0.0, (datetime.now(UTC) - created).total_seconds()) - (
                self.clock() - self._origin)
        view.line(f"PipelineRunId: {self.run.id}")

    def _follow(self, view: Any, node_id: str, step: dict[str, Any], *, run_ended: bool) -> None:
        name = str(step.get("Name") or node_id)
        word = step_status(step)
        attempt = step.get("Attempt")
        ended = word in STEP_ENDED or run_ended
        # Logs first: a step that ended between two polls shows its output before its status.
        if step.get("StartTime") is not None:
            for kind in self.log_kinds:
                self._tail(view, node_id, name, kind, attempt, ended)
        key = (word, attempt, step.get("StatusDetail"))
        if self.seen.get(node_id) != key:
            previous = self.seen.get(node_id)
            self.seen[node_id] = key
            if previous is not None and previous[1] is not None and attempt != previous[1]:
                view.line(f"{self._stamp()} {name}: attempt {attempt}")
            if previous is None and word == "NotStarted":
                return  # every step starts so: say so only when it moves
            detail = step.get("StatusDetail")
            view.line(f"{self._stamp()} {name}: {word}" + (f" ({detail})" if detail else ""), _STYLES.get(word))
            self._last_line = self.clock()

    def _tail(self, view: Any, node_id: str, name: str, kind: str, attempt: Any, ended: bool) -> None:
        tail = self.tails.get((node_id, kind))
        if tail is None or tail.attempt != attempt:
            tail = self.tails[(node_id, kind)] = LogTail(attempt=attempt)
        if tail.drained or (not ended and self.clock() < tail.next_read):
            return
        text = self.read_log(node_id, kind)
        lines, lost = tail.take(text, final=ended)
        label = name if kind == "STDOUT" else f"{name} ({kind.lower()})"
        if lost:
            view.line(f"{label} | [... {lost} bytes not shown: read them with run logs ...]")
        for line in lines:
            view.line(f"{label} | {line}")
        if lines:
            self._last_line = self.clock()
        tail.drained = ended
        tail.next_read = self.clock() + tail.size / _BYTES_PER_EXTRA_SECOND

    def read_log(self, node_id: str, kind: str) -> str:
        response = self.run.workspace.request(
            "GET", f"/PipelineRuns/{quote(self.run.id, safe='')}/Graph/Shareable/{kind}", params={"nodeId": node_id}
        )
        return response.text


def _transient(exc: BaseException) -> bool:
    """A service restarting or a network blip: worth asking again."""
    if isinstance(exc, ServiceError):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, (requests.ConnectionError, requests.Timeout))


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _in_order(steps: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Started steps in the order they started, then the others by name."""
    return sorted(steps.items(), key=lambda item: (item[1].get("StartTime") is None,
                                                   str(item[1].get("StartTime") or ""),
                                                   str(item[1].get("Name") or item[0])))
