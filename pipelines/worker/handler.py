"""The queue worker: one message → claim the step, run it, record the outcome.

A message is handled at least once; handling it twice changes nothing. The
claim is a compare-and-swap on the step row, so a duplicate finds the step
taken (or done) and returns. While the script runs a watcher renews the lease
and looks for a cancel request; if the lease is ever lost (this worker was
presumed dead and the step handed to another), the child is stopped and
nothing is recorded from here.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pipelines.authoring.definition import PipelineDefinition
from pipelines.catalogue import PublishedPipelines
from pipelines.errors import NotFoundError, StorageUnavailableError
from pipelines.runs import engine
from pipelines.runs.devops import DevOpsTokens
from pipelines.runs.engine import Outcome
from pipelines.runs.logs import INLINE_LOG_BYTES
from pipelines.runs.model import InlineOutputs, Run, StepMessage, TaskStatus
from pipelines.runs.notify import ActiveRun
from pipelines.runs.repository import RunRepository
from pipelines.store import StorageAccount, StorageError
from pipelines.vocabulary import now
from pipelines.worker.executor import Executor, Staged, StepJob, effective_timeout
from pipelines.worker.reuse_gate import Decision, decide, run_or_reuse, upstream_of
from pipelines.worker.watch import Watcher, renewal_interval

log = logging.getLogger("pipelines.worker")
T = TypeVar("T")
# Storage, not the step, failed: the message goes back to the queue and is tried again.
STORAGE_FAULTS = (StorageUnavailableError, StorageError)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
# Time allowed for fetching code, staging inputs and uploading outputs around a
# step, when deciding whether the next step still fits in this invocation.
STAGING_ALLOWANCE_SECONDS = 60
# How long a finished step's result is retried while storage is away (each try waits at most
# RECORD_RETRY_MAX_PAUSE, so the record lands within that of storage's return).
RECORD_PATIENCE_SECONDS = 180.0
RECORD_RETRY_MAX_PAUSE = 2.0
# How long a failing invocation waits for its steps' log writes before it gives up on them.
LOGS_ON_FAILURE_SECONDS = 5.0
# Threads for the reuse decisions made beside a claim's transaction (`_beside`), for the
# whole process: as many as invocations that may claim at the same moment, rarely more than a few.
BESIDE_THREADS = 8
_beside_pool: list[ThreadPoolExecutor] = []
_beside_lock = threading.Lock()


def handle_step_message(account: StorageAccount, payload: dict[str, Any], target_queue: str | None = None) -> str:
    """Handle one step message; returns what happened (for the invocation log).

    After a step ends, the same invocation runs the next step it made ready
    (see `engine.complete_and_continue`) while that step's whole timeout still
    fits in the invocation's budget (under functionTimeout), so a linear
    stretch of a pipeline does not wait on the queue between its steps.

    `target_queue`: the queue this worker serves (a compute target's); None, or the steps
    queue, is the app's. A successor is taken only when its step goes to the same queue
    (its compute target's, as recorded on its row): the others go by their own queues.
    """
    message = StepMessage.from_payload(payload)
    repository = RunRepository(account)
    serves = None if target_queue in (None, account.settings.steps_queue_name) else target_queue
    lease = repository.lease_seconds
    # One catalogue and one executor per message; the published definition is read once
    # (graphs never change) and serves every step this invocation runs.
    published = PublishedPipelines(account)
    executor = Executor(account, published)
    # The claim's token is chosen first, so the step's reuse decision is made, and a step
    # without inputs staged, beside the transaction that claims it (as `_decide_ahead` does
    # for a successor).
    chosen = uuid.uuid4().hex
    early: list[Future[Decision]] = []

    def claim(s: engine.RunState) -> tuple[str | None, engine.Transition]:
        taken, transition = engine.claim(s, message.node_id, message.attempt, WORKER_ID, now(), lease, chosen)
        if taken is not None and not early:
            run = dataclasses.replace(s.run)  # a copy: the commit changes the state while these run
            graph = functools.partial(published.graph, run.workspace, run.graph_id)
            key = (run.id, message.node_id, s.steps[message.node_id].attempt, chosen)
            executor.expect(key, _beside(_stage_first, executor, graph, run, key))
            early.append(_beside(decide, account, run, graph, message.node_id, chosen, upstream_of(s)))
        return taken, transition

    try:
        token, state = _claim(repository, message, claim)
    except NotFoundError:
        executor.close()
        return "no such run"
    except BaseException:
        executor.close(LOGS_ON_FAILURE_SECONDS)
        raise
    if token is None:
        executor.close()
        return "nothing to do"
    # A take-over of a lost worker's step is a new attempt: the number is the step's now.
    attempt = state.steps[message.node_id].attempt
    started = time.monotonic()
    settings = account.settings
    budget = settings.max_step_timeout_seconds  # what one invocation may spend, under functionTimeout
    watcher = Watcher(repository)
    read: list[PipelineDefinition] = []

    def definition() -> PipelineDefinition:
        if not read:
            read.append(published.graph(state.run.workspace, state.run.graph_id))
        return read[0]

    def fits(node: str) -> bool:
        """Room left in this invocation for the step's whole timeout and its staging."""
        spec = definition().find_step(node)
        timeout = effective_timeout(spec, settings) if spec else settings.step_timeout_seconds
        return time.monotonic() - started + timeout + STAGING_ALLOWANCE_SECONDS <= budget

    # The partition as this invocation last committed it: the next change is tried on it
    # without a read (see RunRepository.mutate); None after a failure, to read afresh.
    latest: list[engine.RunState | None] = [state]

    def change(action: Callable[[engine.RunState], tuple[T, engine.Transition]]) -> T:
        known, latest[0] = latest[0], None
        result, latest[0] = repository.mutate(message.workspace, message.run_id, action, known)
        return result

    def may_take(s: engine.RunState, successor: str) -> bool:
        return s.on_queue(successor, serves) and fits(successor)

    def record(node: str, held: str, outcome: Outcome, tokens: dict[str, str]) -> tuple[str, int, str] | None:
        """Complete the step and take a step it made ready, in one transaction. When it
        takes none, the step's logs are written first (its run may be ending)."""

        def action(s: engine.RunState) -> tuple[tuple[str, int, str] | None, engine.Transition]:
            taken, transition = engine.complete_and_continue(
                s, node, held, outcome, now(), lease, WORKER_ID, functools.partial(may_take, s), tokens)
            if taken is None:
                executor.flusher.drain()
            return taken, transition

        return change(action)

    def exited(node: str, held: str, exit_code: int) -> bool:
        """Record the script's exit on the attempt and renew the lease; False when another
        worker has taken the step."""
        return change(lambda s: engine.script_exited(s, node, held, exit_code, now(), lease))

    node_id = message.node_id
    happened: list[str] = []
    unkept: tuple[Run, str, int, dict[str, bytes]] | None = None
    decided = early[0].result() if early and token == chosen else None
    try:
        while True:
            # Step reuse (pipelines/worker/reuse_gate.py): take an earlier execution's outputs, wait for
            # one under way, or hold the step's key and run it. `current`: the partition as last committed.
            current = latest[0] or state
            log_room = max(0, INLINE_LOG_BYTES - current.steps[node_id].inline_log_bytes())
            outcome = run_or_reuse(account, current, definition, node_id, token, functools.partial(
                _run_claimed, executor, watcher, definition, current.run, node_id, attempt, token,
                functools.partial(exited, node_id, token), current.steps[node_id].lease_until,
                current.inline_outputs(), log_room,
            ), decided)
            if outcome is None:
                happened.append(f"step {node_id}: lease lost")
                break
            happened.append(f"step {node_id} {outcome.status.name.lower()}")
            ahead = _decide_ahead(account, executor, latest[0], definition, node_id, outcome, may_take)
            tokens = {ahead[0]: ahead[1]} if ahead is not None else {}
            # Logs taken for the step's row go to Blob storage unless this commit keeps them there.
            unkept = (current.run, node_id, attempt, outcome.logs)
            taken = _retrying(functools.partial(record, node_id, token, outcome, tokens))
            if outcome.logs and not _keeps_logs(latest[0], node_id, attempt):
                executor.give_back_logs(*unkept)
            unkept = None
            if taken is None:
                break
            node_id, attempt, token = taken
            decided = ahead[2].result() if ahead is not None and (ahead[0], ahead[1]) == (node_id, token) else None
    except BaseException:
        if unkept is not None and unkept[3]:
            executor.give_back_logs(*unkept)  # recorded or not: a blob that repeats the row is harmless
        # Storage is likely away: its log writes may hang on their timeouts; the message's
        # retry must not wait for them (a log chunk lost here is logged by the flusher).
        executor.close(LOGS_ON_FAILURE_SECONDS)
        raise
    finally:
        watcher.close()
    executor.close()
    return "; ".join(happened)


Claim = Callable[[engine.RunState], tuple[str | None, engine.Transition]]


def _claim(repository: RunRepository, message: StepMessage, claim: Claim) -> tuple[str | None, engine.RunState]:
    """Claim the message's step. A run this process just created is claimed from its state as
    created, without a read (pipelines/runs/handover.py). That claim's first request is its
    commit: when the answer is lost, the commit may have landed, so the claim is decided again
    on fresh reads while storage comes back, for a lease at most; a claim that finds its own
    token Running has the step (`engine.claim`). Past that, the message goes back to the queue
    and a claim that landed meanwhile is taken over once its lease has expired."""
    known = repository.just_created(message.workspace, message.run_id)
    try:
        return repository.mutate(message.workspace, message.run_id, claim, known)
    except STORAGE_FAULTS:
        if known is None:
            raise
        log.warning("storage failed under a run's first claim; reading the run again", exc_info=True)
        return _retrying(
            lambda: repository.mutate(message.workspace, message.run_id, claim),
            repository.lease_seconds,
            "claiming a step",
        )


def _keeps_logs(state: engine.RunState | None, node_id: str, attempt: int) -> bool:
    """Whether the step's row, as last committed, keeps the attempt's logs."""
    return state is not None and str(attempt) in state.steps[node_id].inline_logs


def _decide_ahead(
    account: StorageAccount,
    executor: Executor,
    state: engine.RunState | None,
    definition: Callable[[], PipelineDefinition],
    node_id: str,
    outcome: Outcome,
    may_take: Callable[[engine.RunState, str], bool],
) -> tuple[str, str, Future[Decision]] | None:
    """Start the reuse decision of the step that the commit recording `node_id` will claim for
    this worker, and the staging of its folder (`Executor.expect`; when its inputs are all this
    step's outputs, kept on this worker's disk), while that commit runs: the
    successor, the claim token chosen for it, and the decision to come. None when the successor
    cannot be told beforehand (no step, or several, made ready; a step for another queue; a
    state not known without a read; a step that did not run). The step's outputs are uploaded
    by then: a successor staged from what this worker kept reads what storage holds.

    The decision holds the successor's key for that token. If the commit claims the step
    otherwise (a stale state, read again), the decision is dropped and made again after it;
    the key then names a claim that never was, which nobody takes for a live one
    (`pipelines.runs.reuse`)."""
    if state is None or outcome.status is not TaskStatus.FINISHED or outcome.prior is not None:
        return None
    successor = engine.next_in_line(state, node_id)
    if successor is None or not may_take(state, successor):
        return None
    upstream = {**upstream_of(state), node_id: dict(outcome.summaries)}
    token = uuid.uuid4().hex
    run = dataclasses.replace(state.run)  # a copy: the commit changes the state while this runs
    graph = definition()
    spec = graph.find_step(successor)
    # Staged ahead only from what this worker holds (the code, this step's outputs): a dataset
    # or another step's outputs to download would keep a shared thread for long. Started
    # first: its child is forked by the launcher while the decision waits on storage.
    if spec is not None and all(i.kind == "step_output" and i.source_step == node_id for i in spec.inputs):
        # Its inputs are copied from what this worker kept, or written from this step's outcome.
        inline = {node_id: outcome.inline} if outcome.inline else {}
        job = StepJob(run, graph, spec, state.steps[successor].attempt, token, inline)
        executor.expect(job.key, _beside(executor.stage_ahead, job))
    decision = _beside(decide, account, run, definition, successor, token, upstream)
    return successor, token, decision


def _stage_first(
    executor: Executor, definition: Callable[[], PipelineDefinition], run: Run, key: tuple[str, str, int, str],
) -> Staged | None:
    """The claimed step's folder and child on hold (`Executor.stage_ahead`), made beside its claim
    when the step has no inputs; None otherwise (inputs to download are staged when it runs,
    off the shared threads)."""
    graph = definition()
    spec = graph.find_step(key[1])
    if spec is None or spec.inputs:
        return None
    return executor.stage_ahead(StepJob(run, graph, spec, key[2], key[3]))


def _beside(work: Callable[..., T], *args: Any) -> Future[T]:
    """`work(*args)` on another thread while the caller goes on: its answer to come.

    The threads are the process's, kept between invocations: an idle one takes the work
    and waits for the interpreter until the caller's transaction is on the wire, where a
    thread started here would run first (a new thread takes the interpreter at once) and
    hold the transaction back behind the reuse key's hashing."""
    with _beside_lock:
        if not _beside_pool:
            _beside_pool.append(ThreadPoolExecutor(max_workers=BESIDE_THREADS, thread_name_prefix="reuse-beside"))
    return _beside_pool[0].submit(work, *args)


def _retrying(
    action: Callable[[], T], patience: float = RECORD_PATIENCE_SECONDS, doing: str = "recording a step"
) -> T:
    """Recording a finished step is worth trying for as long as storage may take to come
    back: giving up would make the step run again once its lease expires. The claim
    token keeps the record safe: once another worker has taken the step over, the
    record changes nothing. (`_claim` retries a claim this way too, for a lease.)"""
    deadline = time.monotonic() + patience
    pause = 0.25
    while True:
        try:
            return action()
        except STORAGE_FAULTS:
            if time.monotonic() + pause > deadline:
                raise
            log.warning("storage failed while %s; trying again in %.2fs", doing, pause, exc_info=True)
            time.sleep(pause)
            pause = min(pause * 2, RECORD_RETRY_MAX_PAUSE)


def _run_claimed(
    executor: Executor,
    watcher: Watcher,
    definition: Callable[[], PipelineDefinition],
    run: Run,
    node_id: str,
    attempt: int,
    token: str,
    note_exit: Callable[[int], bool],
    lease_until: datetime | None = None,
    inline: Mapping[str, InlineOutputs] | None = None,
    log_room: int = 0,
) -> Outcome | None:
    """Run a step this worker holds the lease of; None when the lease was lost.

    When the script exits 0, the exit is noted on the attempt before the outputs go up
    (`note_exit`, a write that also renews the lease and says whether the step is still
    ours) only where it matters: for a step declared `idempotent=False`, whose lost
    worker must leave a record that its script finished, and whenever this worker cannot
    tell from its own lease that the step is still its own. Otherwise the exit time goes
    with the result, in the commit, and the upload starts at once: the lease this worker
    last committed still has at least a renewal interval to run (`Watch.lease_left`),
    so no other worker can have taken the step over, nor can before the lease runs out,
    and the watcher goes on renewing it while the outputs go up."""
    message = StepMessage(run.workspace, run.id, node_id, attempt)
    try:
        graph = definition()
        spec = graph.step(node_id)
        job = StepJob(run, graph, spec, attempt, token, inline or {}, log_room)
        margin = renewal_interval(watcher.repository.lease_seconds)
        exited_at: list[datetime] = []
        with watcher.watch(message, token, lease_until) as watch:

            def exited(exit_code: int) -> bool:
                if spec.idempotent and watch.lease_left() >= margin:
                    exited_at.append(now())
                    return True
                return note_exit(exit_code)

            outcome = executor.execute(job, watch.should_stop, exited)
        if outcome is not None and exited_at:
            outcome = dataclasses.replace(outcome, script_exited=exited_at[0])
        return outcome
    except STORAGE_FAULTS:
        # Storage, not the step, failed (fetching code or data, writing logs). Failing
        # the step would fail runs that did nothing wrong: raise instead, and the
        # step runs again once its lease expires (the sweeper counts lost leases).
        log.exception("storage failed around step %s of run %s", node_id, run.id)
        raise
    except Exception as exc:  # noqa: BLE001 - the step is ours: record why, don't strand it
        log.exception("step %s of run %s could not run", node_id, run.id)
        return Outcome(TaskStatus.FAILED, f"the worker could not run the step: {type(exc).__name__}: {exc}"[:1000])


def handle_poison_message(account: StorageAccount, payload: dict[str, Any], dequeue_count: int | None = None) -> str:
    """A step whose message failed every delivery: fail it, with the reason."""
    message = StepMessage.from_payload(payload)
    repository = RunRepository(account)
    reason = "the step's message failed every delivery and was moved to the poison queue"
    try:
        repository.mutate(
            message.workspace,
            message.run_id,
            lambda s: (
                None,
                engine.fail_step(s, message.node_id, reason, now(), repository.lease_seconds, message.attempt),
            ),
        )
    except NotFoundError:
        return "no such run"
    return "step failed (poison)"


def sweep(account: StorageAccount) -> int:
    """Queue again what lost messages and dead workers stranded, and nudge again the events
    of runs whose nudge was lost (`pipelines.runs.notify`); returns runs touched."""
    repository = RunRepository(account)
    touched = 0
    for active in repository.active_rows():
        try:
            _sweep_one(repository, active)
            touched += 1
        except Exception:  # noqa: BLE001 - one broken run must not stop the rescue of the others
            log.exception("sweep of run %s/%s failed; going on with the others", active.workspace, active.run_id)
    return touched


def _sweep_one(repository: RunRepository, active: ActiveRun) -> None:
    workspace, run_id = active.workspace, active.run_id
    try:
        _, state = repository.mutate(
            workspace, run_id, lambda s: (None, engine.sweep(s, now(), repository.lease_seconds))
        )
    except NotFoundError:
        # Its submit never committed, or is committing right now: wait before forgetting it, and
        # the Azure DevOps job's token that submit may have kept (`RunRepository.create`).
        if now() - active.created > timedelta(minutes=5):
            DevOpsTokens(repository.account).forget(workspace, run_id)
            repository.forget_active(workspace, run_id)
        return
    # A run with events leaves the active index once they are all handed off, not before.
    done, note = repository.notifier.sweep(state, active, now())
    if done:
        repository.forget_active(workspace, run_id)
    else:
        repository.mark_active(workspace, run_id, note)
