"""What happens next in a run: pure transitions over a run's rows.

Nothing here talks to storage. Each function takes the current state (the run
row and its step rows, as loaded), changes it in place and returns a
`Transition` naming the rows it changed and the step messages to send once
they are committed. The repository commits the changed rows in one
transaction on their ETags; if another worker got there first the transaction
fails and the transition is computed again from fresh state. So a redelivered
message, a duplicate, or two parents finishing at once all end in one outcome:
the same step is never claimed twice, and a fan-in step is queued once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from pipelines.runs.model import (
    AttemptOutcome,
    AttemptReason,
    Prior,
    RunStatus,
    Step,
    StepMessage,
    TaskStatus,
)
from pipelines.runs.states import Outcome as Outcome
from pipelines.runs.states import RunState as RunState
from pipelines.runs.states import Transition as Transition

# A step whose worker vanished this many times is failed rather than retried forever.
MAX_LOST_LEASES = 3
MAX_BACKOFF_SECONDS = 60
# A queued step whose message nobody took within this many leases is sent again. A message
# can be held invisible for minutes (a delivery whose claim failed while storage was away,
# and whose release failed too, stays hidden for the host's 10-minute visibility); a copy
# of a message that was only waiting behind a backlog costs one claim that finds nothing.
QUEUED_GRACE_LEASES = 2
# A step whose reuse key another run is computing waits this long between looks (1 s, more
# the longer it has waited, at most 10 s), then takes the outputs or runs it itself.
REUSE_WAIT_SECONDS = (1, 10)


_OUTCOME_WORDS = {
    TaskStatus.FINISHED: AttemptOutcome.FINISHED,
    TaskStatus.FAILED: AttemptOutcome.FAILED,
    TaskStatus.CANCELED: AttemptOutcome.CANCELED,
}


def backoff_seconds(attempt: int) -> int:
    """Delay before attempt `attempt + 1`: 1, 2, 4, ... seconds, capped."""
    return int(min(2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS))


def _queue(state: RunState, step: Step, now: datetime, lease: int, t: Transition, delay: int = 0) -> None:
    step.status = TaskStatus.QUEUED
    step.claim = None
    step.worker = None
    step.scheduled = now
    # A queued step may wait behind a backlog: the sweeper sends its message again
    # only after QUEUED_GRACE_LEASES, so a busy queue gets at most one copy per grace.
    step.lease_until = now + timedelta(seconds=delay + lease * QUEUED_GRACE_LEASES)
    t.steps_changed.add(step.node_id)
    t.messages.append((StepMessage(state.run.workspace, state.run.id, step.node_id, step.attempt), delay))


def initial(state: RunState, now: datetime, lease: int, reused: Mapping[str, Prior] | None = None) -> Transition:
    """A new run: the steps in `reused` finish at once with those outputs; the steps whose
    parents have all finished (the roots, at least) are queued; the rest wait. A run whose
    every step was reused is created Finished."""
    t = Transition()
    for step in state.steps.values():
        step.created = now
    for node_id, prior in (reused or {}).items():
        _take(state, state.steps[node_id], prior, now, t)
    _advance(state, now, lease, t)
    return t


def _take(state: RunState, step: Step, prior: Prior, now: datetime, t: Transition) -> None:
    """The step finishes with `prior`'s outputs, which stay where their run wrote them."""
    run, source = state.run, prior.source
    _end(step, TaskStatus.FINISHED, now,
         f"reused the outputs of step {source.node_id!r} of run {source.run_id} (nothing ran)")
    step.started = step.started or now
    step.exit_code = None
    step.reuse_key, step.reused_from = prior.key, source
    step.outputs, step.output_summaries, step.metrics = list(prior.outputs), dict(prior.summaries), dict(prior.metrics)
    step.inline_outputs = dict(prior.inline)
    run.reused = {**run.reused, step.node_id: [source.run_id, source.node_id]}
    if run.status is RunStatus.NOT_STARTED:
        run.status, run.started = RunStatus.RUNNING, now
    t.steps_changed.add(step.node_id)
    t.run_changed = True


def _wait(state: RunState, step: Step, detail: str | None, now: datetime, lease: int, t: Transition) -> None:
    """The step goes back to the queue for a while: another run is computing its outputs."""
    waited = (now - (step.created or now)).total_seconds()
    low, high = REUSE_WAIT_SECONDS
    _queue(state, step, now, lease, t, delay=int(min(max(low, waited / 10), high)))
    step.started, step.detail = None, detail
    state.run.modified, t.run_changed = now, True  # as every change of a step's status (see _advance)


def claim(
    state: RunState, node_id: str, attempt: int, worker: str, now: datetime, lease: int, token: str | None = None
) -> tuple[str | None, Transition]:
    """Take the step for this message's attempt; None when there is nothing to do.

    Nothing to do: the run ended or is being canceled, the message is for an
    older attempt, the step already ran, or another worker holds a live lease.
    An expired lease (its worker died and the queue delivered the message
    again) is taken over as a new attempt: every execution is an attempt of
    its own, so a step that ran twice says so. The claimed attempt's number is
    `state.steps[node_id].attempt` afterwards. `token`: the claim's token, when the
    worker chose it beforehand (else a new one); a step already Running under it is
    this claim's (a commit whose answer was lost), and is taken with nothing to write, or
    canceled at once if its run is being canceled.
    """
    t = Transition()
    step = state.steps.get(node_id)
    run = state.run
    if step is None or run.status.terminal or step.attempt != attempt:
        return None, t
    # This claim's own commit landed, though its answer was lost: the step is this claim's,
    # and nothing runs it yet.
    own = token is not None and step.status is TaskStatus.RUNNING and step.claim == token
    if run.cancel_requested:
        if own:
            record = step.current_attempt
            if record is not None:
                record.close(AttemptOutcome.CANCELED, now)
            _end(step, TaskStatus.CANCELED, now, "the run was canceled")
        elif not step.status.terminal and step.status is not TaskStatus.RUNNING:
            step.status = TaskStatus.CANCELED
            step.ended = now
        else:
            return None, t
        t.steps_changed.add(node_id)
        _advance(state, now, lease, t)
        return None, t
    if own:
        return token, t
    live_lease = step.lease_until is not None and step.lease_until > now
    if step.status is TaskStatus.RUNNING and live_lease:
        return None, t
    if _stops_new_steps(state):  # a step failed: nothing new starts, and the run ends when the rest have
        _advance(state, now, lease, t)
        return None, t
    if step.status not in (TaskStatus.QUEUED, TaskStatus.RUNNING):
        return None, t
    # A running step here has no live lease: its worker is gone, its execution is lost,
    # and this one is the next.
    if step.status is TaskStatus.RUNNING and not _lost(state, step, now, AttemptReason.WORKER_LOST, t):
        _advance(state, now, lease, t)
        return None, t
    _mark(state, t)  # a lost execution taken over is a warning
    token = token or uuid.uuid4().hex
    step.status = TaskStatus.RUNNING
    step.claim = token
    step.worker = worker
    step.started = now
    step.lease_until = now + timedelta(seconds=lease)
    step.detail = None
    step.exit_code = None
    step.begin_attempt(worker, now)
    t.steps_changed.add(node_id)
    if run.status is RunStatus.NOT_STARTED:
        run.status = RunStatus.RUNNING
        run.started = now
        t.run_changed = True
    return token, t


def _lost(state: RunState, step: Step, now: datetime, reason: str, t: Transition) -> bool:
    """Close the execution of a step whose worker stopped answering; True when the step
    may run again (as the next attempt), False when it was failed instead.

    It is failed when its worker was lost too often, or when the step is not
    idempotent and the lost execution's script had already exited 0 (its
    effects happened; only its outputs were never recorded) and the run does
    not allow such a step to run again.
    """
    record = step.current_attempt
    t.steps_changed.add(step.node_id)
    step.claim = None
    step.lease_until = None
    step.lost_leases += 1
    exited = record is not None and record.script_exited is not None and record.exit_code == 0
    if record is not None:
        note = "its script exited 0, but its result was never recorded" if exited else None
        record.close(AttemptOutcome.LOST, now, reason, note)
    if exited and not step.idempotent and not state.run.allow_step_reruns:
        _end(step, TaskStatus.FAILED, now, (
            f"attempt {step.attempt}'s worker was lost after its script exited 0 and before its result was "
            "recorded; the step is not idempotent, so it was not run again (submit with "
            "AllowStepReruns: true to allow it)"
        ))
        return False
    if step.lost_leases >= MAX_LOST_LEASES:
        _end(step, TaskStatus.FAILED, now, f"the worker running this step was lost {step.lost_leases} times")
        return False
    step.attempt += 1
    return True


def _end(step: Step, status: TaskStatus, now: datetime, detail: str | None) -> None:
    step.status = status
    step.detail = detail
    step.ended = now
    step.claim = None
    step.lease_until = None


def script_exited(state: RunState, node_id: str, token: str, exit_code: int, now: datetime, lease: int) -> tuple[
    bool, Transition
]:
    """The worker's note that the script exited (before it uploads the outputs): it renews
    the lease and records the exit on the attempt. False when the step is no longer ours."""
    ours, _, t = heartbeat(state, node_id, token, now, lease)
    step = state.steps[node_id] if ours else None
    record = step.current_attempt if step is not None else None
    if record is not None:
        record.exit_code = exit_code
        record.script_exited = now
    return ours, t


def heartbeat(state: RunState, node_id: str, token: str, now: datetime, lease: int) -> tuple[bool, bool, Transition]:
    """Extend the lease. Returns (still ours, cancel requested, transition)."""
    t = Transition()
    step = state.steps.get(node_id)
    if step is None or step.claim != token or step.status is not TaskStatus.RUNNING:
        return False, False, t
    step.lease_until = now + timedelta(seconds=lease)
    t.steps_changed.add(node_id)
    return True, state.run.cancel_requested, t


def complete(state: RunState, node_id: str, token: str, outcome: Outcome, now: datetime, lease: int) -> Transition:
    """Record how the attempt ended, then move the run on."""
    t = Transition()
    step = state.steps.get(node_id)
    if step is None or step.claim != token or step.status is not TaskStatus.RUNNING:
        return t  # the lease was lost: another worker owns the step now
    if outcome.prior is not None or outcome.status is TaskStatus.QUEUED:
        if step.current_attempt is not None:
            step.attempts = step.attempts[:-1]  # claimed, but nothing ran: no attempt
        if outcome.prior is None:
            _wait(state, step, outcome.detail, now, lease, t)
            return t
        _take(state, step, outcome.prior, now, t)
        _advance(state, now, lease, t)
        return t
    step.reuse_key = outcome.reuse_key
    step.exit_code = outcome.exit_code
    if outcome.logs:
        step.inline_logs = {**step.inline_logs, str(step.attempt): dict(outcome.logs)}
    record = step.current_attempt
    if record is not None:
        record.exit_code = outcome.exit_code
        record.script_exited = record.script_exited or outcome.script_exited
    step.metrics = dict(outcome.metrics)
    step.outputs = list(outcome.outputs)
    step.output_summaries = dict(outcome.summaries)
    step.inline_outputs = dict(outcome.inline)
    step.detail = outcome.detail
    step.lease_until = None
    t.steps_changed.add(node_id)
    if (
        outcome.status is TaskStatus.FAILED
        and outcome.retryable
        and step.attempt <= step.max_retries
        and not _stops_new_steps(state)
    ):
        delay = backoff_seconds(step.attempt)
        if record is not None:
            record.close(AttemptOutcome.FAILED, now, AttemptReason.RETRY, outcome.detail)
        step.attempt += 1
        _queue(state, step, now, lease, t, delay=delay)
        step.detail = f"attempt {step.attempt - 1} failed, retrying in {delay}s: {outcome.detail or ''}".rstrip(": ")
        # As every change of a step's status, a retry rewrites the run row (see _advance): a worker
        # that saw this step Running and records another step Failed then conflicts on it, decides
        # again, and cancels the waiting retry (a failure recorded first means no retry, above).
        _advance(state, now, lease, t)
        return t
    if record is not None:
        record.close(_OUTCOME_WORDS[outcome.status], now, None, outcome.detail)
    _end(step, outcome.status, now, outcome.detail)
    _advance(state, now, lease, t)
    return t


def complete_and_continue(
    state: RunState,
    node_id: str,
    token: str,
    outcome: Outcome,
    now: datetime,
    lease: int,
    worker: str | None,
    may_take: Callable[[str], bool] = lambda node_id: True,
    tokens: Mapping[str, str] | None = None,
) -> tuple[tuple[str, int, str] | None, Transition]:
    """`complete`, then let the same worker take one step it just queued.

    The hand-off from a step to its successor then costs one transaction, not
    a queue round trip: the successor is claimed in the commit that finishes
    its parent, and its message is not sent. If the worker dies before running
    it, its lease expires and the sweeper queues it again. Other successors
    (fan-out) go through the queue to other workers as usual. `worker=None`
    takes nothing; `may_take(node)` says whether a step fits in what is left of
    the invocation's time. `tokens`: claim tokens the worker chose beforehand, by step.
    """
    t = complete(state, node_id, token, outcome, now, lease)
    if worker is None:
        return None, t
    for index, (message, delay) in enumerate(t.messages):
        if delay or message.node_id == node_id or not may_take(message.node_id):
            continue  # a retry waits its back-off; a step too long for this invocation goes by queue
        taken, claimed = claim(state, message.node_id, message.attempt, worker, now, lease,
                               (tokens or {}).get(message.node_id))
        if taken is None:
            continue
        t.steps_changed |= claimed.steps_changed
        t.run_changed = t.run_changed or claimed.run_changed
        del t.messages[index]
        return (message.node_id, message.attempt, taken), t
    return None, t


def next_in_line(state: RunState, node_id: str) -> str | None:
    """The one step that `node_id` finishing would make ready (a linear stretch, or the last
    parent of a fan-in), as the state stands; None when it would make none or several."""
    ready = [
        step.node_id for step in state.steps.values()
        if node_id in step.parents and step.status is TaskStatus.NOT_STARTED
        and _parents_finished(state, step, also=node_id)
    ]
    return ready[0] if len(ready) == 1 else None


def _parents_finished(state: RunState, step: Step, also: str | None = None) -> bool:
    """Whether every parent of `step` has finished (`also`: counting that one as finished)."""
    return all(
        p == also or state.steps[p].status is TaskStatus.FINISHED for p in step.parents if p in state.steps
    )


def fail_step(
    state: RunState, node_id: str, reason: str, now: datetime, lease: int, attempt: int | None = None
) -> Transition:
    """A step that cannot run at all (its message was poisoned).

    With `attempt`, only that attempt is failed: a stale poisoned message of an
    older attempt, or one whose step a worker is running under a live lease,
    changes nothing.
    """
    t = Transition()
    step = state.steps.get(node_id)
    if step is None or step.status.terminal or state.run.status.terminal:
        return t
    if attempt is not None:
        live = step.status is TaskStatus.RUNNING and step.lease_until is not None and step.lease_until > now
        if step.attempt != attempt or live:
            return t
    record = step.current_attempt
    if record is not None:
        record.close(AttemptOutcome.FAILED, now, AttemptReason.POISONED, reason)
    _end(step, TaskStatus.FAILED, now, reason)
    t.steps_changed.add(node_id)
    _advance(state, now, lease, t)
    return t


def cancel(state: RunState, now: datetime, lease: int) -> Transition:
    """Stop the run: waiting steps never start; running ones are stopped by their worker."""
    t = Transition()
    run = state.run
    if run.status.terminal:
        return t
    if not run.cancel_requested:
        run.cancel_requested = True
        t.run_changed = True
    _advance(state, now, lease, t)
    return t


def sweep(state: RunState, now: datetime, lease: int) -> Transition:
    """Find what a lost message or a dead worker stranded, and queue it again."""
    t = Transition()
    if state.run.status.terminal:
        return t
    for step in state.steps.values():
        expired = step.lease_until is not None and step.lease_until <= now
        if not expired:
            continue
        if step.status is TaskStatus.QUEUED:
            if state.run.cancel_requested:
                continue  # _advance below cancels it
            _queue(state, step, now, lease, t)
        elif step.status is TaskStatus.RUNNING:
            if state.run.cancel_requested:
                record = step.current_attempt
                if record is not None:
                    record.close(AttemptOutcome.LOST, now, AttemptReason.LEASE_EXPIRED)
                _end(step, TaskStatus.CANCELED, now, "the run was canceled; the step's worker was lost")
                t.steps_changed.add(step.node_id)
                continue
            if _lost(state, step, now, AttemptReason.LEASE_EXPIRED, t):
                _queue(state, step, now, lease, t)
                step.detail = f"attempt {step.attempt - 1}'s worker was lost; attempt {step.attempt} queued"
    _advance(state, now, lease, t)
    return t


def _mark(state: RunState, t: Transition) -> None:
    """The run's HasErrors (a step failed) and HasWarnings (an attempt ended other than by its
    script: a retry, a lost worker), as its steps now stand."""
    run = state.run
    errors = any(s.status is TaskStatus.FAILED for s in state.steps.values())
    warnings = any(a.reason is not None for s in state.steps.values() for a in s.attempts)
    if (errors, warnings) != (run.has_errors, run.has_warnings):
        run.has_errors, run.has_warnings = errors, warnings
        t.run_changed = True


def _stops_new_steps(state: RunState) -> bool:
    """No step starts (nor retries) once the run is being canceled, or once a step failed in a run
    that does not continue on a step's failure."""
    run = state.run
    return run.cancel_requested or (
        not run.continue_on_step_failure and any(s.status is TaskStatus.FAILED for s in state.steps.values())
    )


def _advance(state: RunState, now: datetime, lease: int, t: Transition) -> None:
    """Queue steps whose parents all finished; end the run when nothing is left.

    Every transition that changes a step also rewrites the run row (its
    `modified`): two workers finishing two parents at once then conflict on the
    run row's ETag, so the second one decides again from what the first wrote
    and sees both parents finished. Without that, each would condition only on
    its own step row, both would commit, and neither would queue the child.
    """
    run = state.run
    steps = state.steps
    if t.steps_changed:
        run.modified = now
        t.run_changed = True
    _mark(state, t)
    failed = [s for s in steps.values() if s.status is TaskStatus.FAILED]
    stop_new = _stops_new_steps(state)
    for step in steps.values():
        if step.status not in (TaskStatus.NOT_STARTED, TaskStatus.QUEUED):
            continue
        if stop_new:
            _end(step, TaskStatus.CANCELED, now,
                 "the run was canceled" if run.cancel_requested else f"step {failed[0].name!r} failed")
            t.steps_changed.add(step.node_id)
            continue
        if step.status is TaskStatus.QUEUED:
            continue
        parents = [steps[p] for p in step.parents if p in steps]
        blocked = [p for p in parents if p.status.terminal and p.status is not TaskStatus.FINISHED]
        if blocked:
            # continue_on_step_failure: independent branches go on; this one can't.
            _end(step, TaskStatus.CANCELED, now, f"upstream step {blocked[0].name!r} did not finish")
            t.steps_changed.add(step.node_id)
        elif _parents_finished(state, step):
            _queue(state, step, now, lease, t)
    if all(s.status.terminal for s in steps.values()) and not run.status.terminal:
        if run.cancel_requested:
            run.status, run.detail = RunStatus.CANCELED, "canceled"
        elif failed:
            first = failed[0]
            run.status = RunStatus.FAILED
            run.detail = f"step {first.name!r} failed: {first.detail or 'no detail'}"
        else:
            run.status, run.detail = RunStatus.FINISHED, None
        run.ended = now
        run.modified = now
        t.run_changed = True
