"""One nudge: deliver what is pending of a run's events, sink by sink, and record it.

1. A run no longer in the `active` index has ended with every event handed off: a nudge
   for it (one of several coalesced into an earlier delivery) is done with one point read.
   Otherwise read the run (its partition) and derive its events (`pipelines.runs.events`).
2. Read where they were delivered (`pipelines.runs.deliveries`) and claim the run, so
   that two nudges taken at once do not both deliver: a nudge that finds the claim
   held comes back a moment later as a new message.
3. For each sink, the events it has not had, in order. A sink that fails is tried again
   on its own (a message naming the sink, after 1, 2, 4, ... seconds, at most
   `PIPELINES_WEBHOOK_MAX_BACKOFF_SECONDS`), so Event Grid is not sent again because a
   webhook failed; after `PIPELINES_WEBHOOK_MAX_ATTEMPTS` attempts its pending events are
   recorded as failed (logged, and shown by the events route and `pipelines events
   list`), never dropped silently. A general nudge leaves alone a sink waiting for its retry.

Two queues, so that a sink that hangs holds up no other (`Lane`). The notify queue's
deliverer, which every run's nudges reach, waits `PIPELINES_EVENTS_QUICK_SECONDS` (2 s) for
the sinks outside the app, all of them together; a sink that takes longer (or is reached
when that moment is spent) is passed, not counted as failed, to the sinks queue
(`<steps queue>-sinks`), whose deliverer waits the full time (`FULL`), and which also takes
the retries of a sink that timed out. A sink that was slow here lately is passed there
without a call. So the notify queue's slots are never held more than a moment by hanging
webhooks, Event Grid topics or Azure DevOps plans, and a healthy sink of another run is
not kept waiting behind them. A message naming a sink holds that sink, not the run, while
its sink is called (`_deliver_alone`), so the run's other sinks are not kept waiting
either. A call that timed out may have reached its sink: the event goes again from the
sinks queue, with the same id (events are delivered at least once).
4. Record what each sink had, and release the claim, in one transaction; then tell the
   run's active row what is handed off, or take the run out of the active index when
   it has ended and every event is handed off (`pipelines.runs.notify`).

A storage error raises: the host delivers the message again, and after maxDequeueCount
moves it to `<queue>-poison`, which nobody reads: the sweeper nudges the run again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipelines.api.events_contract import cloud_event, source_of
from pipelines.errors import NotFoundError
from pipelines.events.sinks import FULL, Outcome, Patience, open_sink
from pipelines.runs.deliveries import Claim, Deliveries, SinkRecord
from pipelines.runs.devops import DevOpsTokens
from pipelines.runs.engine import RunState
from pipelines.runs.events import RunEvent, derive, digest
from pipelines.runs.notify import NotifyMessage, SinkRef, sinks_of
from pipelines.runs.repository import RunRepository
from pipelines.settings import Settings
from pipelines.store import StorageAccount
from pipelines.vocabulary import now

log = logging.getLogger("pipelines.events")

# What one invocation spends delivering before it hands the rest to a new message.
BUDGET_SECONDS = 60.0
# A nudge that finds the run claimed comes back after this (at most), as a new message.
BUSY_DELAY_SECONDS = 2
# The attempt of a follow-up (`_follow_up`): it is for whatever attempt the sink is at.
FOLLOW_UP = -1
# A message of the sinks queue whose sink another deliverer is calling comes back after this, at most.
WORKING_DELAY_SECONDS = 15
# A sink passed to the sinks queue is left alone by general nudges this long: its message is on its way.
PASSED_HOLD = timedelta(seconds=30)
# A sink reached when less than this is left of the notify queue's moment is passed on without a call.
LEAST_CALL_SECONDS = 0.2
# A sink that made the notify queue's deliverer wait is passed without a call for this long.
SLOW_SECONDS = 60.0


@dataclass(frozen=True)
class Lane:
    """Whose deliverer this is: the notify queue's (`quick`: a moment for each sink outside the
    app, then the sink is passed on) or the sinks queue's (the full time, `FULL`)."""

    quick: bool

    def patience(self, settings: Settings) -> Patience:
        if not self.quick:
            return FULL
        wait = settings.events_quick_seconds
        return Patience(connect=min(wait, FULL.connect), read=wait, retries=0, whole=wait)


QUICK = Lane(quick=True)
SINKS = Lane(quick=False)


class SlowSinks:
    """The sinks outside the app that kept this process's notify deliverer waiting lately: each
    one's own address (a webhook's URL, a job's plan), never a host that others share."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(ref: SinkRef) -> str:
        return f"{ref.id}\n{ref.label}"

    def known(self, ref: SinkRef) -> bool:
        with self._lock:
            until = self._until.get(self._key(ref))
            if until is not None and until <= self._clock():
                del self._until[self._key(ref)]
                return False
            return until is not None

    def note(self, ref: SinkRef) -> None:
        with self._lock:
            self._until[self._key(ref)] = self._clock() + SLOW_SECONDS

    def forget(self, ref: SinkRef) -> None:
        with self._lock:
            self._until.pop(self._key(ref), None)


slow_sinks = SlowSinks()


def backoff_seconds(tries: int, cap: int) -> int:
    """The pause after the `tries`-th failed attempt: 1, 2, 4, ... seconds, at most `cap`."""
    return int(min(2 ** max(tries - 1, 0), cap))


def deliver(account: StorageAccount, payload: dict[str, Any], lane: Lane = QUICK) -> str:
    """Handle one message of the notify queue (`QUICK`) or the sinks queue (`SINKS`); returns
    what happened (for the invocation log)."""
    message = NotifyMessage.from_payload(payload)
    repository = RunRepository(account)
    settings = account.settings
    if not repository.is_active(message.workspace, message.run_id):
        return "ended and handed off"
    try:
        state = repository.load(message.workspace, message.run_id)
    except NotFoundError:
        return "no such run"
    sinks = sinks_of(settings, state.run)
    events = derive(state, steps=settings.events_steps)
    if not sinks:
        if state.run.status.terminal:
            repository.forget_active(message.workspace, message.run_id)
        return "no sink"
    deliveries = Deliveries(account)
    claim, records = deliveries.read(message.workspace, message.run_id)
    started = now()
    for ref in sinks:
        records.setdefault(ref.id, SinkRecord(ref.id, ref.label))
    if message.sink is None:
        _follow_up(repository, message, sinks, records, events, started)
    if not any(_due(message, ref, records[ref.id], started) and any(not records[ref.id].handled(e.short)
                                                                     for e in events) for ref in sinks):
        _hand_off(repository, state, events, sinks, records, started)  # an earlier nudge delivered it all
        return "nothing pending"
    if message.sink is not None:
        ref = next(r for r in sinks if r.id == message.sink)
        return _deliver_alone(account, repository, deliveries, message, state, events, sinks, claim, records, ref,
                              started, lane)
    claimed = deliveries.claim(message.workspace, message.run_id, claim, uuid.uuid4().hex, started)
    if claimed is None:
        repository.notifier.nudge(message, delay=BUSY_DELAY_SECONDS, wait=True)
        return "another deliverer holds the run; nudged again"
    deadline = time.monotonic() + BUDGET_SECONDS
    patience = lane.patience(settings)
    # The notify queue's moment is for every sink outside the app together, not for each.
    moment_ends = time.monotonic() + patience.whole
    changed: list[SinkRecord] = []
    later: list[tuple[NotifyMessage, int]] = []  # retries, sinks passed on, deliveries to go on with
    happened: list[str] = []
    for ref in sinks:
        record = records[ref.id]
        if not _due(message, ref, record, started):
            continue
        pending = [e for e in events if not record.handled(e.short)]
        if not pending:
            continue
        outside = ref.kind != "queue"  # the local sink is the app's own storage
        began = time.monotonic()
        call, until = (patience if outside else FULL), deadline
        if lane.quick and outside:
            left = moment_ends - began
            if left < LEAST_CALL_SECONDS or slow_sinks.known(ref):
                later.append(_pass_on(message, ref, record, started))
                changed.append(record)
                why = "slow lately" if slow_sinks.known(ref) else "the moment is spent"
                happened.append(f"{ref.kind}: {why}, passed to the sinks queue")
                continue
            call, until = patience.within(left), min(deadline, began + left)
        outcome = _call(account, state, ref, pending, until, call)
        changed.append(record)
        sent, what = _settle(settings, state, message, lane, ref, record, pending, outcome, began, started)
        later += sent
        happened.append(what)
    deliveries.finish(message.workspace, message.run_id, claimed, changed)
    for again, delay in dict.fromkeys(later):
        repository.notifier.nudge(again, delay=delay, wait=True)
    _hand_off(repository, state, events, sinks, records, now())
    return "; ".join(happened) or "nothing pending"


def _deliver_alone(account: StorageAccount, repository: RunRepository, deliveries: Deliveries,
                   message: NotifyMessage, state: RunState, events: list[RunEvent], sinks: list[SinkRef],
                   claim: Claim, records: dict[str, SinkRecord], ref: SinkRef, started: datetime,
                   lane: Lane) -> str:
    """A message naming a sink: that sink alone. On the notify queue (a retry of a sink that
    answered, but not with a 2xx) it gets the moment, and is passed on to the sinks queue when
    slower; on the sinks queue, the full time. The sink is marked as being worked on and the
    run let go before the call (`Deliveries.begin`), so the run's other sinks are delivered
    meanwhile."""
    settings = account.settings
    record = records[ref.id]
    outside = ref.kind != "queue"
    if lane.quick and outside and slow_sinks.known(ref):
        repository.notifier.nudge(_pass_on(message, ref, record, started)[0], wait=True)
        return f"{ref.kind}: slow lately, passed to the sinks queue"
    if record.worked_on(started):  # a duplicate message, or one sent again while the first is under way
        assert record.working_until is not None
        left = int((record.working_until - started).total_seconds())
        repository.notifier.nudge(message, delay=min(max(left, BUSY_DELAY_SECONDS), WORKING_DELAY_SECONDS), wait=True)
        return "another deliverer is calling the sink; nudged again"
    if claim.held(started):
        repository.notifier.nudge(message, delay=BUSY_DELAY_SECONDS, wait=True)
        return "another deliverer holds the run; nudged again"
    if not deliveries.begin(message.workspace, message.run_id, claim, record, uuid.uuid4().hex, started):
        repository.notifier.nudge(message, delay=BUSY_DELAY_SECONDS, wait=True)
        return "another deliverer came first; nudged again"
    pending = [e for e in events if not record.handled(e.short)]
    patience = lane.patience(settings)
    began = time.monotonic()
    until = began + (patience.whole if lane.quick and outside else BUDGET_SECONDS)
    outcome = _call(account, state, ref, pending, until, patience if outside else FULL)
    later, happened = _settle(settings, state, message, lane, ref, record, pending, outcome, began, started)
    deliveries.end(message.workspace, message.run_id, record)
    for again, delay in later:
        repository.notifier.nudge(again, delay=delay, wait=True)
    _hand_off(repository, state, events, sinks, records, now())
    return happened


def _call(account: StorageAccount, state: RunState, ref: SinkRef, pending: list[RunEvent], until: float,
          patience: Patience) -> Outcome:
    """Send `pending` to the sink `ref` as CloudEvents, by `until` (the monotonic clock), each
    call waiting as `patience` says."""
    source = source_of(account.settings)
    return open_sink(ref, account).deliver([(e.short, cloud_event(e, state, source)) for e in pending], until,
                                           patience)


def _settle(settings: Settings, state: RunState, message: NotifyMessage, lane: Lane, ref: SinkRef,
            record: SinkRecord, pending: list[RunEvent], outcome: Outcome, began: float,
            started: datetime) -> tuple[list[tuple[NotifyMessage, int]], str]:
    """What a call to a sink makes of its record, the messages that follow from it, and what
    happened (for the log): a sink outside the app slower than the notify queue's moment is
    passed on; one that took every event is done (and forgotten as slow, when it answered in
    the moment); one that took only some before the budget ran out goes on from the same
    queue; one that failed is tried again, or given up."""
    record.passed = None
    record.done.update(outcome.delivered)
    happened = f"{ref.kind}: {len(outcome.delivered)} delivered"
    if lane.quick and ref.kind != "queue" and (outcome.timed_out or not outcome.complete):
        if outcome.timed_out:
            slow_sinks.note(ref)
        return [_pass_on(message, ref, record, started)], happened + ", slow: passed to the sinks queue"
    if outcome.error is None:
        record.tries, record.next, record.error = 0, None, None
        if not lane.quick and time.monotonic() - began < settings.events_quick_seconds:
            slow_sinks.forget(ref)
        if outcome.complete:
            return [], happened
        sink = None if lane.quick and message.sink is None else ref.id  # a general nudge goes on as one
        return [(NotifyMessage(message.workspace, message.run_id, sink, record.tries, slow=not lane.quick), 0)], (
            happened)
    retry = _failed(settings, state, ref, record, pending, outcome.error, now(), slow=outcome.timed_out)
    return ([] if retry is None else [retry]), happened + f", failed ({outcome.error})"


def _follow_up(repository: RunRepository, message: NotifyMessage, sinks: list[SinkRef],
               records: dict[str, SinkRecord], events: list[RunEvent], started: datetime) -> None:
    """A general nudge leaves alone a sink that another deliverer is calling; the events it
    brings that that deliverer has not got (a run's end while its start is being delivered)
    follow it, as a message for that sink once it is free."""
    for ref in sinks:
        record = records[ref.id]
        if record.worked_on(started) and any(not record.handled(e.short) for e in events):
            sink = NotifyMessage(message.workspace, message.run_id, ref.id, FOLLOW_UP, slow=True)
            repository.notifier.nudge(sink, delay=BUSY_DELAY_SECONDS, wait=True)


def _pass_on(message: NotifyMessage, ref: SinkRef, record: SinkRecord, when: datetime) -> tuple[NotifyMessage, int]:
    """A sink slower than the notify queue's deliverer waits for, for the sinks queue: not an
    attempt that failed, so its count stays; general nudges leave it alone meanwhile."""
    record.next, record.passed = when + PASSED_HOLD, when
    return NotifyMessage(message.workspace, message.run_id, ref.id, record.tries, slow=True), 0


def _due(message: NotifyMessage, ref: SinkRef, record: SinkRecord, when: datetime) -> bool:
    """A retry (or a sink passed on) delivers to its sink alone, and only as the attempt it was
    sent for; a follow-up, to its sink unless a retry is to come (one being called waits for it);
    a general nudge, to every sink but one waiting for its retry or being called."""
    if message.sink is not None and message.attempt == FOLLOW_UP:
        return message.sink == ref.id and (record.worked_on(when) or record.next is None or record.next <= when)
    if message.sink is not None:
        return message.sink == ref.id and message.attempt == record.tries
    return record.next is None or record.next <= when


def _failed(settings: Settings, state: RunState, ref: SinkRef, record: SinkRecord, pending: list[RunEvent],
            error: str, when: datetime, *, slow: bool) -> tuple[NotifyMessage, int] | None:
    """Count the failed attempt: the retry to send (to the sinks queue when the sink did not answer
    in time, `slow`; else to the notify queue), or None when the sink's pending events are given up."""
    run = state.run
    record.tries += 1
    record.error = error
    if record.tries < settings.webhook_max_attempts:
        delay = backoff_seconds(record.tries, settings.webhook_max_backoff_seconds)
        record.next = when + timedelta(seconds=delay)
        log.warning("run %s: events to %s failed (attempt %d, again in %ds): %s",
                    run.id, ref.label, record.tries, delay, error)
        return NotifyMessage(run.workspace, run.id, ref.id, record.tries, slow=slow), delay
    given_up = [e for e in pending if not record.handled(e.short)]
    for event in given_up:
        record.failed[event.short] = f"given up after {record.tries} attempts: {error}"
    log.error("run %s: %d event(s) to %s given up after %d attempts: %s (%s)", run.id, len(given_up), ref.label,
              record.tries, error, ", ".join(e.type for e in given_up))
    record.tries, record.next = 0, None
    return None


def _hand_off(repository: RunRepository, state: RunState, events: list[RunEvent], sinks: list[SinkRef],
              records: dict[str, SinkRecord], when: datetime) -> None:
    """Tell the run's active row what is handed off (every sink had it, or gave it up); a run that
    has ended with everything handed off leaves the active index, and the token of the Azure
    DevOps job it told (or gave up telling) is dropped."""
    run = state.run
    handed = [e.short for e in events if all(records[ref.id].handled(e.short) for ref in sinks)]
    if run.status.terminal and len(handed) == len(events):
        if run.devops_task is not None:
            DevOpsTokens(repository.account).forget(run.workspace, run.id)
        repository.forget_active(run.workspace, run.id)
        return
    waits = [r.next for r in records.values() if r.next is not None]
    check = max([when, *waits]) + repository.notifier.grace
    repository.mark_active(run.workspace, run.id, {"EventsDigest": digest(handed), "EventsCheck": check.isoformat()})
