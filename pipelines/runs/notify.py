"""Nudges: how a run's events get to their deliverer, and how none is lost on the way.

A run's events are derived from its rows (`pipelines.runs.events`); what moves them is a
small message on the notify queue (`<steps queue>-notify`, `NotifyMessage`: ids only),
taken by the function `deliver_run_events` (`pipelines.events`); a message for a sink
slower than that function waits for goes to the sinks queue (`<steps queue>-sinks`)
instead. Three senders of the first kind:

- a submit, once its run is written (`RunQueued`);
- a commit that made new events (a run started or ended; with step events on, a step
  started or ended): one message, sent from a background thread after the commit, so the
  step hand-off never waits on it. Nudges are coalesced: the nudge of a run not ended is
  sent `NUDGE_WINDOW_SECONDS` late, and its visibility time is noted on the run row
  (`Run.events_nudge`) in the same commit; a later commit made well before then sends none,
  as that nudge reads the partition after it. A quick run thus costs one delivery, not one
  per transition, for events at most that much later. A run's end is nudged at once unless
  a nudge is on its way;
- the sweeper, for a run whose events are not all handed off a grace period after the
  last of them (`Notifier.sweep`): the one that makes a lost message (a crash between a
  commit and its nudge) harmless.

For that, a run with events stays in the `active` index (`RunIndex`) until every event of
it, its end included, has been handed to every sink (delivered, or given up on and
recorded), and its active row carries the fingerprint of what was handed off
(`EventsDigest`) and when the sweeper should look again (`EventsCheck`). Those are written
by the deliverer and the sweeper, never with the run row, whose ETag the engine's commits
are conditioned on. With no sink configured and no webhook on the run's endpoint, nothing
here sends or writes anything.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pipelines.catalogue.webhooks import Webhook
from pipelines.runs.devops import DevOpsTask
from pipelines.runs.engine import RunState
from pipelines.runs.events import derive, digest, keys, latest_time
from pipelines.runs.model import Run
from pipelines.settings import Settings
from pipelines.store import StorageAccount, messages

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

log = logging.getLogger("pipelines.events")

# A run not ended is nudged this late, so that one delivery carries what the next moments make
# (queued, started, and a quick run's end). Queue visibility is counted in whole seconds.
NUDGE_WINDOW_SECONDS = 2
# A nudge on its way covers a change only if it becomes visible at least this long after the
# change is decided: the change's commit must have landed when the deliverer reads. A commit
# slower than that is not lost: its events go with the next nudge, or the sweeper's.
NUDGE_MARGIN = timedelta(milliseconds=500)

# Nudges after a commit go from here: the committing worker does not wait on the queue.
_background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="run-events")


@dataclass(frozen=True)
class NotifyMessage:
    """Deliver the run's events; with `sink`, only to that sink (a retry, `attempt` of it);
    `slow`: a sink that did not answer in the notify queue's moment, for the sinks queue."""

    workspace: str
    run_id: str
    sink: str | None = None
    attempt: int = 0
    slow: bool = False

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"ws": self.workspace, "run": self.run_id}
        if self.sink is not None:
            payload.update(sink=self.sink, n=self.attempt)
            if self.slow:
                payload["slow"] = 1
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> NotifyMessage:
        sink = payload.get("sink")
        return cls(str(payload["ws"]), str(payload["run"]), None if sink is None else str(sink),
                   int(payload.get("n", 0)), sink is not None and bool(payload.get("slow")))


@dataclass(frozen=True)
class SinkRef:
    """Where a run's events go: the local queue, the Event Grid topic, a webhook of its endpoint,
    or the Azure DevOps job that submitted it and waits for its end."""

    id: str
    kind: Literal["queue", "eventgrid", "webhook", "devops"]
    label: str  # what a user is shown (a webhook's URL without its query)
    webhook: Webhook | None = None
    devops: DevOpsTask | None = None
    run: tuple[str, str] | None = None  # the run's workspace and id: where a DevOps job's token is kept


def sinks_of(settings: Settings, run: Run) -> list[SinkRef]:
    found: list[SinkRef] = []
    if settings.events_queue:
        found.append(SinkRef("queue", "queue", f"queue {settings.events_queue}"))
    if settings.events_topic_endpoint:
        topic = f" topic {settings.events_namespace_topic}" if settings.events_namespace_topic else ""
        found.append(SinkRef("eventgrid", "eventgrid", f"Event Grid {settings.events_topic_endpoint}{topic}"))
    for hook in run.webhooks:
        name = hashlib.sha256(f"{hook.url}\n{hook.secret_setting}".encode()).hexdigest()[:12]
        parts = urlsplit(hook.url)
        found.append(SinkRef(f"webhook-{name}", "webhook", f"webhook {parts.scheme}://{parts.netloc}{parts.path}",
                             hook))
    if run.devops_task is not None:
        found.append(SinkRef("devops", "devops", run.devops_task.label, devops=run.devops_task,
                             run=(run.workspace, run.id)))
    return found


@dataclass(frozen=True)
class ActiveRun:
    """A row of the `active` index: a run not yet ended, or whose events are not all handed off."""

    workspace: str
    run_id: str
    created: datetime
    events_digest: str | None = None
    events_check: datetime | None = None


class Notifier:
    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self.settings = account.settings

    @property
    def grace(self) -> timedelta:
        """How long after the last event (or the deliverer's next look) the sweeper nudges a run
        whose events are not all handed off: enough for the first nudge to have been taken."""
        return timedelta(seconds=self.settings.events_grace_seconds)

    def queue(self, message: NotifyMessage) -> QueueClient:
        """Where `message` goes: a delivery to a sink slower than the notify queue's deliverer
        waits for to the sinks queue, any other (a retry of a sink that answered, but not 2xx,
        included) to the notify queue."""
        settings = self.settings
        return self.account.queue(settings.sinks_queue_name if message.slow else settings.notify_queue_name)

    def enabled(self, run: Run) -> bool:
        """Whether the run has events to deliver: a sink for every run, webhooks of its endpoint, or
        the Azure DevOps job that waits for it."""
        return self.settings.events_everywhere or bool(run.webhooks) or run.devops_task is not None

    def marks(self, state: RunState) -> frozenset[str] | None:
        """The run's events before a change (None when it has none to deliver): cheap, no storage."""
        return keys(state, steps=self.settings.events_steps) if self.enabled(state.run) else None

    def plan(self, state: RunState, before: frozenset[str] | None, run_written: bool, when: datetime) -> int | None:
        """Before a commit: the delay of the nudge to send once it has committed (None: none).
        A change that made no new events needs none, nor one that a nudge already on its way
        will read; otherwise the nudge's visibility time is noted on the run row, which the
        commit writes (`run_written`; a commit that does not write it is nudged at once)."""
        if before is None or keys(state, steps=self.settings.events_steps) <= before:
            return None
        if not run_written:
            return 0
        run = state.run
        if run.events_nudge is not None and run.events_nudge >= when + NUDGE_MARGIN:
            return None
        delay = 0 if run.status.terminal else NUDGE_WINDOW_SECONDS
        run.events_nudge = when + timedelta(seconds=delay)
        return delay

    def first(self, run: Run, when: datetime) -> int | None:
        """A new run's nudge delay (None: it has no events), noted on the run row to be created."""
        if not self.enabled(run):
            return None
        delay = 0 if run.status.terminal else NUDGE_WINDOW_SECONDS
        run.events_nudge = when + timedelta(seconds=delay)
        return delay

    def nudge(self, message: NotifyMessage, *, delay: int = 0, wait: bool = False) -> None:
        """Send `message` (after `delay` seconds); in the background unless `wait`. A nudge lost
        here is made good by the sweeper: it is logged, never raised."""
        if wait:
            messages.send(self.queue(message), message.to_payload(), delay_seconds=delay or None)
            return
        _background.submit(self._send_quietly, message, delay)

    def _send_quietly(self, message: NotifyMessage, delay: int) -> None:
        try:
            messages.send(self.queue(message), message.to_payload(), delay_seconds=delay or None)
        except Exception:  # noqa: BLE001 - the sweeper sends it again
            log.warning("nudge of run %s failed; the sweeper will send it again", message.run_id, exc_info=True)

    def sweep(self, state: RunState, active: ActiveRun, when: datetime) -> tuple[bool, dict[str, str]]:
        """What the sweeper does about a run's events: (whether the run may leave the active
        index, what to note on its active row). A run with events not all handed off a grace
        period after the last of them (or after the deliverer's next look) is nudged again."""
        run = state.run
        if not self.enabled(run):
            return run.status.terminal, {}
        events = derive(state, steps=self.settings.events_steps)
        if digest(e.short for e in events) == active.events_digest:
            return run.status.terminal, {}
        due = (latest_time(events) or when) + self.grace
        if active.events_check is not None:
            due = max(due, active.events_check)
        if when < due:
            return False, {}
        self.nudge(NotifyMessage(run.workspace, run.id), wait=True)
        log.info("run %s: events not all handed off; nudged again", run.id)
        return False, {"EventsCheck": (when + self.grace).isoformat()}


def active_run(row: Mapping[str, Any], when: datetime) -> ActiveRun:
    workspace, _, run_id = str(row["RowKey"]).partition("|")
    created = datetime.fromisoformat(row["Created"]) if row.get("Created") else when
    check = datetime.fromisoformat(row["EventsCheck"]) if row.get("EventsCheck") else None
    if check is not None and check.tzinfo is None:
        check = check.replace(tzinfo=UTC)
    return ActiveRun(workspace, run_id, created, row.get("EventsDigest"), check)
