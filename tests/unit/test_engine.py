"""The run engine's transitions, as pure logic (no storage)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.runs import engine
from pipelines.runs.engine import Outcome, RunState
from pipelines.runs.model import Run, RunStatus, Step, TaskStatus

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
LEASE = 30


def build(edges: dict[str, list[str]], *, retries: int = 0, continue_on_failure: bool = False) -> RunState:
    """A run whose steps have the given parents: {"b": ["a"]} means a feeds b."""
    run = Run(id="r1", workspace="ws", pipeline_id="p", graph_id="g", continue_on_step_failure=continue_on_failure)
    steps = {n: Step(node_id=n, name=n, parents=list(parents), max_retries=retries) for n, parents in edges.items()}
    return RunState(run, steps)


def queued(t: engine.Transition) -> list[str]:
    return sorted(m.node_id for m, _ in t.messages)


def run_to_end(
    state: RunState, node: str, status: TaskStatus = TaskStatus.FINISHED, now: datetime = T0
) -> engine.Transition:
    step = state.steps[node]
    token, _ = engine.claim(state, node, step.attempt, "w", now, LEASE)
    assert token is not None
    outcome = Outcome(status, exit_code=0 if status is TaskStatus.FINISHED else 1)
    return engine.complete(state, node, token, outcome, now, LEASE)


DIAMOND = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


def test_initial_queues_only_the_roots() -> None:
    state = build(DIAMOND)
    t = engine.initial(state, T0, LEASE)
    assert queued(t) == ["a"]
    assert state.steps["a"].status is TaskStatus.QUEUED
    assert state.steps["d"].status is TaskStatus.NOT_STARTED


def test_diamond_fans_out_then_in_once() -> None:
    # GIVEN a diamond whose root finished
    state = build(DIAMOND)
    engine.initial(state, T0, LEASE)
    assert queued(run_to_end(state, "a")) == ["b", "c"]
    # WHEN b finishes, d still waits for c
    assert queued(run_to_end(state, "b")) == []
    # THEN c's end queues d exactly once, and d's end finishes the run
    assert queued(run_to_end(state, "c")) == ["d"]
    run_to_end(state, "d")
    assert state.run.status is RunStatus.FINISHED


def test_a_duplicate_message_claims_nothing() -> None:
    state = build({"a": []})
    engine.initial(state, T0, LEASE)
    token, _ = engine.claim(state, "a", 1, "w1", T0, LEASE)
    assert token is not None
    again, t = engine.claim(state, "a", 1, "w2", T0 + timedelta(seconds=1), LEASE)
    assert again is None and t.empty


def test_a_claim_that_finds_its_own_token_has_the_step_and_writes_nothing() -> None:
    # GIVEN a claim committed under a token its worker chose, whose answer the worker never had
    state = build({"a": []})
    engine.initial(state, T0, LEASE)
    assert engine.claim(state, "a", 1, "w1", T0, LEASE, "chosen")[0] == "chosen"
    before = (state.steps["a"].attempt, state.steps["a"].started, list(state.steps["a"].attempts))
    # WHEN the same claim is decided again on what storage holds
    again, t = engine.claim(state, "a", 1, "w1", T0 + timedelta(seconds=2), LEASE, "chosen")
    # THEN it has the step as it was claimed, with nothing to write; another token has nothing
    assert again == "chosen" and t.empty
    assert (state.steps["a"].attempt, state.steps["a"].started, list(state.steps["a"].attempts)) == before
    assert engine.claim(state, "a", 1, "w1", T0 + timedelta(seconds=2), LEASE, "other") == (None, t)


def test_a_claim_that_finds_its_own_token_in_a_run_being_canceled_cancels_the_step_at_once() -> None:
    # GIVEN a claim committed under a token its worker chose, whose answer it never had, and then
    # a cancel request
    state = build({"a": []})
    engine.initial(state, T0, LEASE)
    engine.claim(state, "a", 1, "w1", T0, LEASE, "chosen")
    engine.cancel(state, T0 + timedelta(seconds=1), LEASE)
    assert state.steps["a"].status is TaskStatus.RUNNING  # a running step is its worker's to stop
    # WHEN the same claim is decided again on what storage holds
    taken, t = engine.claim(state, "a", 1, "w1", T0 + timedelta(seconds=2), LEASE, "chosen")
    # THEN nothing runs it: the step, its attempt and the run end canceled now, not after the lease
    assert taken is None and t.steps_changed == {"a"} and t.run_changed
    step = state.steps["a"]
    assert step.status is TaskStatus.CANCELED and step.claim is None
    assert [(a.number, a.outcome) for a in step.attempts] == [(1, "Canceled")]
    assert state.run.status is RunStatus.CANCELED


def test_an_expired_lease_is_taken_over_and_the_old_claim_is_void() -> None:
    state = build({"a": []})
    engine.initial(state, T0, LEASE)
    old, _ = engine.claim(state, "a", 1, "w1", T0, LEASE)
    new, _ = engine.claim(state, "a", 1, "w2", T0 + timedelta(seconds=LEASE + 1), LEASE)
    assert new is not None and new != old
    # the first worker comes back: its result is ignored
    t = engine.complete(state, "a", old, Outcome(TaskStatus.FINISHED), T0, LEASE)
    assert t.empty and state.steps["a"].status is TaskStatus.RUNNING


def test_a_failed_step_is_retried_with_backoff_then_fails_the_run() -> None:
    state = build({"a": [], "b": ["a"]}, retries=1)
    engine.initial(state, T0, LEASE)
    t = run_to_end(state, "a", TaskStatus.FAILED)
    [(message, delay)] = t.messages
    assert message.attempt == 2 and delay == 1
    assert state.steps["a"].status is TaskStatus.QUEUED
    # a message of the old attempt does nothing
    assert engine.claim(state, "a", 1, "w", T0, LEASE)[0] is None
    run_to_end(state, "a", TaskStatus.FAILED)
    assert state.steps["a"].status is TaskStatus.FAILED
    assert state.steps["b"].status is TaskStatus.CANCELED
    assert state.run.status is RunStatus.FAILED


def test_continue_on_failure_runs_independent_branches() -> None:
    state = build({"a": [], "b": [], "c": ["a"]}, continue_on_failure=True)
    engine.initial(state, T0, LEASE)
    run_to_end(state, "a", TaskStatus.FAILED)
    assert state.steps["c"].status is TaskStatus.CANCELED
    assert state.steps["b"].status is TaskStatus.QUEUED
    run_to_end(state, "b")
    assert state.run.status is RunStatus.FAILED
    assert state.steps["b"].status is TaskStatus.FINISHED


def test_cancel_stops_waiting_steps_and_ends_when_running_ones_stop() -> None:
    state = build({"a": [], "b": ["a"]})
    engine.initial(state, T0, LEASE)
    token, _ = engine.claim(state, "a", 1, "w", T0, LEASE)
    engine.cancel(state, T0, LEASE)
    assert state.steps["b"].status is TaskStatus.CANCELED
    assert state.run.status is RunStatus.RUNNING  # a is still running
    ours, canceled, _ = engine.heartbeat(state, "a", token, T0, LEASE)
    assert ours and canceled
    engine.complete(state, "a", token, Outcome(TaskStatus.CANCELED), T0, LEASE)
    assert state.run.status is RunStatus.CANCELED


def test_sweep_requeues_a_stranded_step_and_fails_one_that_keeps_losing_workers() -> None:
    state = build({"a": []})
    engine.initial(state, T0, LEASE)
    # a queued step waits several leases (a backlog is not a loss) ...
    assert engine.sweep(state, T0 + timedelta(seconds=LEASE + 1), LEASE).empty
    # ... then its message is presumed lost and sent again
    later = T0 + timedelta(seconds=LEASE * engine.QUEUED_GRACE_LEASES + 1)
    assert queued(engine.sweep(state, later, LEASE)) == ["a"]
    now = later
    for _ in range(engine.MAX_LOST_LEASES):
        engine.claim(state, "a", state.steps["a"].attempt, "w", now, LEASE)
        now += timedelta(seconds=LEASE + 1)
        engine.sweep(state, now, LEASE)
    assert state.steps["a"].status is TaskStatus.FAILED
    assert attempts(state, "a") == [(n, "Lost", "LeaseExpired") for n in (1, 2, 3)]
    assert state.run.status is RunStatus.FAILED


def test_poison_fails_the_step_and_the_run() -> None:
    state = build({"a": [], "b": ["a"]})
    engine.initial(state, T0, LEASE)
    engine.fail_step(state, "a", "poisoned", T0, LEASE)
    assert state.run.status is RunStatus.FAILED
    assert "poisoned" in (state.run.detail or "")


def test_a_finishing_step_hands_its_successor_to_the_same_worker_in_one_commit() -> None:
    # GIVEN a diamond whose root is running
    state = build(DIAMOND)
    engine.initial(state, T0, LEASE)
    token, _ = engine.claim(state, "a", 1, "w", T0, LEASE)
    # WHEN it finishes and the worker may continue
    taken, t = engine.complete_and_continue(state, "a", token, Outcome(TaskStatus.FINISHED), T0, LEASE, "w")
    # THEN one successor is claimed in the same transition (no message), the other is queued
    assert taken is not None and taken[0] == "b"
    assert state.steps["b"].status is TaskStatus.RUNNING and state.steps["b"].claim == taken[2]
    assert queued(t) == ["c"] and {"a", "b", "c"} <= t.steps_changed
    # a redelivered message for b finds it taken
    assert engine.claim(state, "b", 1, "w2", T0, LEASE)[0] is None


def test_no_hand_off_when_the_worker_must_stop_or_the_step_retries() -> None:
    state = build({"a": [], "b": ["a"]}, retries=1)
    engine.initial(state, T0, LEASE)
    token, _ = engine.claim(state, "a", 1, "w", T0, LEASE)
    taken, t = engine.complete_and_continue(state, "a", token, Outcome(TaskStatus.FAILED), T0, LEASE, "w")
    assert taken is None and queued(t) == ["a"]  # the retry waits its back-off in the queue
    token, _ = engine.claim(state, "a", 2, "w", T0, LEASE)
    taken, t = engine.complete_and_continue(state, "a", token, Outcome(TaskStatus.FINISHED), T0, LEASE, None)
    assert taken is None and queued(t) == ["b"]


def test_two_parents_finishing_at_once_conflict_on_the_run_row() -> None:
    """Each completion rewrites the run row: of two commits decided from the same
    state, the second fails on its ETag and is decided again (then queues d)."""
    state = build(DIAMOND)
    engine.initial(state, T0, LEASE)
    run_to_end(state, "a")
    token_b, _ = engine.claim(state, "b", 1, "w1", T0, LEASE)
    token_c, _ = engine.claim(state, "c", 1, "w2", T0, LEASE)
    import copy

    seen_by_b, seen_by_c = copy.deepcopy(state), copy.deepcopy(state)
    t_b = engine.complete(seen_by_b, "b", token_b, Outcome(TaskStatus.FINISHED), T0, LEASE)
    t_c = engine.complete(seen_by_c, "c", token_c, Outcome(TaskStatus.FINISHED), T0, LEASE)
    assert t_b.run_changed and t_c.run_changed  # both write the run row: one of them must lose
    assert queued(t_b) == [] and queued(t_c) == []  # each alone saw the other running


def test_a_sweep_that_finds_nothing_writes_nothing() -> None:
    state = build({"a": []})
    engine.initial(state, T0, LEASE)
    engine.claim(state, "a", 1, "w", T0, LEASE)
    assert engine.sweep(state, T0 + timedelta(seconds=1), LEASE).empty


def test_a_successor_too_long_for_the_invocation_goes_by_queue() -> None:
    state = build({"a": [], "b": ["a"]})
    engine.initial(state, T0, LEASE)
    token, _ = engine.claim(state, "a", 1, "w", T0, LEASE)
    taken, t = engine.complete_and_continue(
        state, "a", token, Outcome(TaskStatus.FINISHED), T0, LEASE, "w", may_take=lambda node: False
    )
    assert taken is None and queued(t) == ["b"] and state.steps["b"].status is TaskStatus.QUEUED


def test_a_stale_poisoned_message_fails_nothing() -> None:
    state = build({"a": []}, retries=1)
    engine.initial(state, T0, LEASE)
    run_to_end(state, "a", TaskStatus.FAILED)  # attempt 2 queued
    token, _ = engine.claim(state, "a", 2, "w", T0, LEASE)
    # attempt 1's message poisoned late; attempt 2 running under a live lease
    assert engine.fail_step(state, "a", "poisoned", T0, LEASE, attempt=1).empty
    assert engine.fail_step(state, "a", "poisoned", T0, LEASE, attempt=2).empty
    assert state.steps["a"].status is TaskStatus.RUNNING
    # once its lease is gone, the poisoned attempt fails
    later = T0 + timedelta(seconds=LEASE + 1)
    assert not engine.fail_step(state, "a", "poisoned", later, LEASE, attempt=2).empty
    assert state.steps["a"].status is TaskStatus.FAILED


# -- attempts: every execution is one, and says how it ended ---------------------------------------


def attempts(state: RunState, node: str) -> list[tuple[int, str, str | None]]:
    return [(a.number, a.outcome, a.reason) for a in state.steps[node].attempts]


def test_a_sweep_of_a_lost_worker_queues_the_next_attempt_and_the_old_message_is_stale() -> None:
    state = build({"a": []})
    engine.initial(state, T0, LEASE)
    old, _ = engine.claim(state, "a", 1, "w1", T0, LEASE)
    t = engine.sweep(state, T0 + timedelta(seconds=LEASE + 1), LEASE)
    assert [(m.node_id, m.attempt) for m, _ in t.messages] == [("a", 2)]
    assert attempts(state, "a") == [(1, "Lost", "LeaseExpired")]
    # the first attempt's message, delivered again, takes nothing; the new one runs attempt 2
    assert engine.claim(state, "a", 1, "w2", T0 + timedelta(seconds=LEASE + 2), LEASE)[0] is None
    new, _ = engine.claim(state, "a", 2, "w2", T0 + timedelta(seconds=LEASE + 2), LEASE)
    assert new is not None
    done = Outcome(TaskStatus.FINISHED, exit_code=0)
    engine.complete(state, "a", new, done, T0 + timedelta(seconds=LEASE + 3), LEASE)
    assert attempts(state, "a") == [(1, "Lost", "LeaseExpired"), (2, "Finished", None)]
    assert [a.worker for a in state.steps["a"].attempts] == ["w1", "w2"]
    # the lost worker's late result changes nothing
    assert engine.complete(state, "a", old, Outcome(TaskStatus.FAILED), T0, LEASE).empty


def test_a_redelivered_message_that_takes_over_an_expired_lease_starts_a_new_attempt() -> None:
    state = build({"a": []})
    engine.initial(state, T0, LEASE)
    engine.claim(state, "a", 1, "w1", T0, LEASE)
    token, _ = engine.claim(state, "a", 1, "w2", T0 + timedelta(seconds=LEASE + 1), LEASE)
    assert token is not None
    assert state.steps["a"].attempt == 2
    assert attempts(state, "a") == [(1, "Lost", "WorkerLost"), (2, "Running", None)]


def test_a_retry_closes_the_failed_attempt_with_its_exit_code() -> None:
    state = build({"a": []}, retries=1)
    engine.initial(state, T0, LEASE)
    run_to_end(state, "a", TaskStatus.FAILED)
    run_to_end(state, "a", TaskStatus.FINISHED)
    assert attempts(state, "a") == [(1, "Failed", "Retry"), (2, "Finished", None)]
    assert [a.exit_code for a in state.steps["a"].attempts] == [1, 0]


def lost_after_exit(*, idempotent: bool, allow_reruns: bool = False) -> RunState:
    """A step whose script exited 0, whose worker then died before recording the result."""
    state = build({"a": [], "b": ["a"]})
    state.steps["a"].idempotent = idempotent
    state.run.allow_step_reruns = allow_reruns
    engine.initial(state, T0, LEASE)
    token, _ = engine.claim(state, "a", 1, "w1", T0, LEASE)
    assert token is not None
    ours, _ = engine.script_exited(state, "a", token, 0, T0 + timedelta(seconds=1), LEASE)
    assert ours
    engine.sweep(state, T0 + timedelta(seconds=LEASE + 2), LEASE)
    return state


def test_an_idempotent_step_lost_after_its_script_exited_runs_again_and_says_so() -> None:
    state = lost_after_exit(idempotent=True)
    step = state.steps["a"]
    assert step.status is TaskStatus.QUEUED and step.attempt == 2
    first = step.attempts[0]
    assert (first.outcome, first.reason, first.exit_code) == ("Lost", "LeaseExpired", 0)
    assert first.script_exited is not None and "never recorded" in (first.detail or "")


def test_a_step_that_is_not_idempotent_is_failed_not_run_again_after_an_unrecorded_exit() -> None:
    state = lost_after_exit(idempotent=False)
    step = state.steps["a"]
    assert step.status is TaskStatus.FAILED and step.attempt == 1
    assert "not idempotent" in (step.detail or "") and "AllowStepReruns" in (step.detail or "")
    assert state.steps["b"].status is TaskStatus.CANCELED
    assert state.run.status is RunStatus.FAILED


def test_a_run_that_allows_reruns_runs_a_step_that_is_not_idempotent_again() -> None:
    state = lost_after_exit(idempotent=False, allow_reruns=True)
    assert state.steps["a"].status is TaskStatus.QUEUED and state.steps["a"].attempt == 2


def test_a_step_that_is_not_idempotent_lost_while_its_script_ran_runs_again() -> None:
    state = build({"a": []})
    state.steps["a"].idempotent = False
    engine.initial(state, T0, LEASE)
    engine.claim(state, "a", 1, "w1", T0, LEASE)
    engine.sweep(state, T0 + timedelta(seconds=LEASE + 1), LEASE)
    assert state.steps["a"].status is TaskStatus.QUEUED and state.steps["a"].attempt == 2


def test_a_poisoned_message_closes_its_attempt_as_poisoned() -> None:
    state = build({"a": []})
    engine.initial(state, T0, LEASE)
    engine.claim(state, "a", 1, "w1", T0, LEASE)
    engine.fail_step(state, "a", "poisoned", T0 + timedelta(seconds=LEASE + 1), LEASE, attempt=1)
    assert attempts(state, "a") == [(1, "Failed", "Poisoned")]
    assert state.steps["a"].status is TaskStatus.FAILED


class Row(dict[str, object]):
    """A table row as the SDK hands it back: a dict with metadata."""

    metadata = {"etag": "e1"}


def test_attempt_records_survive_the_table_row() -> None:
    state = lost_after_exit(idempotent=True)
    again = Step.from_entity(Row(state.steps["a"].to_entity("p")))
    assert again.attempts == state.steps["a"].attempts
    assert again.idempotent is True


def test_the_step_next_in_line_is_the_one_a_finish_makes_ready_alone() -> None:
    state = build(DIAMOND)
    engine.initial(state, T0, LEASE)
    # a fans out to b and c: no single successor to tell beforehand
    assert engine.next_in_line(state, "a") is None
    run_to_end(state, "a")
    # b finishing makes nothing ready while c has not finished; c finishing then makes d ready
    assert engine.next_in_line(state, "b") is None
    run_to_end(state, "b")
    assert engine.next_in_line(state, "c") == "d"
    assert engine.next_in_line(build({"a": [], "b": ["a"]}), "a") == "b"


def test_a_successor_is_claimed_with_the_token_the_worker_chose() -> None:
    # GIVEN a → b, a claimed and run
    state = build({"a": [], "b": ["a"]})
    engine.initial(state, T0, LEASE)
    token, _ = engine.claim(state, "a", 1, "w", T0, LEASE)
    assert token is not None
    # WHEN its completion claims b with a token chosen beforehand (its reuse key held for it)
    taken, _ = engine.complete_and_continue(state, "a", token, Outcome(TaskStatus.FINISHED, exit_code=0), T0, LEASE,
                                            "w", tokens={"b": "chosen"})
    # THEN b is this worker's under that token
    assert taken == ("b", 1, "chosen") and state.steps["b"].claim == "chosen"


def test_a_step_waiting_to_retry_is_canceled_when_another_fails_and_the_run_ends_at_once() -> None:
    """A run that stops at a step's failure starts no attempt after it: a retry rewrites the run
    row, so a worker that saw the step Running and records another's failure conflicts, decides
    again, and cancels the waiting retry; a failure recorded first means no retry at all."""
    import copy

    # GIVEN two independent steps running, `a` with retries left, `b` with none
    state = build({"a": [], "b": []}, retries=2)
    state.steps["b"].max_retries = 0
    engine.initial(state, T0, LEASE)
    token_a, _ = engine.claim(state, "a", 1, "w1", T0, LEASE)
    token_b, _ = engine.claim(state, "b", 1, "w2", T0, LEASE)
    assert token_a and token_b
    seen_by_b = copy.deepcopy(state)
    # WHEN a's attempt fails and is queued again
    t_a = engine.complete(state, "a", token_a, Outcome(TaskStatus.FAILED, exit_code=1), T0, LEASE)
    assert state.steps["a"].status is TaskStatus.QUEUED
    # THEN the retry rewrites the run row: b's commit, decided on what it saw before, loses on its ETag
    assert t_a.run_changed and seen_by_b.steps["a"].status is TaskStatus.RUNNING
    # AND b's failure decided again on the fresh state cancels the waiting retry and ends the run
    later = T0 + timedelta(seconds=1)
    engine.complete(state, "b", token_b, Outcome(TaskStatus.FAILED, exit_code=1), later, LEASE)
    assert state.steps["a"].status is TaskStatus.CANCELED
    assert state.run.status is RunStatus.FAILED and state.run.ended == later
    # AND the retry's message, when it comes, claims nothing
    assert engine.claim(state, "a", 2, "w1", later, LEASE)[0] is None


def test_an_attempt_that_fails_after_another_step_failed_is_not_retried() -> None:
    # GIVEN a run that does not continue on failure, with `a` running and `b` already failed
    state = build({"a": [], "b": [], "c": ["a"]}, retries=2)
    state.steps["b"].max_retries = 0
    engine.initial(state, T0, LEASE)
    token_a, _ = engine.claim(state, "a", 1, "w1", T0, LEASE)
    assert token_a
    run_to_end(state, "b", TaskStatus.FAILED)
    assert state.steps["b"].status is TaskStatus.FAILED and state.run.status is RunStatus.RUNNING
    # WHEN a's attempt fails too
    t = engine.complete(state, "a", token_a, Outcome(TaskStatus.FAILED, exit_code=1), T0, LEASE)
    # THEN it is not retried: the step failed, nothing is queued, and the run has ended Failed
    assert t.messages == []
    assert state.steps["a"].status is TaskStatus.FAILED and state.steps["c"].status is TaskStatus.CANCELED
    assert state.run.status is RunStatus.FAILED


def test_the_run_says_it_has_errors_once_a_step_fails_and_warnings_once_an_attempt_is_retried() -> None:
    # GIVEN a run that goes on past a failure, with two independent steps, `a` with a retry
    state = build({"a": [], "b": [], "c": []}, retries=1, continue_on_failure=True)
    state.steps["b"].max_retries = 0
    engine.initial(state, T0, LEASE)
    assert (state.run.has_errors, state.run.has_warnings) == (False, False)
    # WHEN a's first attempt fails and is retried
    t = run_to_end(state, "a", TaskStatus.FAILED)
    # THEN the run row says it has warnings (and is rewritten), no errors yet
    assert (state.run.has_errors, state.run.has_warnings) == (False, True) and t.run_changed
    # WHEN b fails while c still runs
    token_c, _ = engine.claim(state, "c", 1, "w", T0, LEASE)
    assert token_c
    run_to_end(state, "b", TaskStatus.FAILED)
    # THEN the run, still running, says it has errors
    assert state.run.status is RunStatus.RUNNING
    assert (state.run.has_errors, state.run.has_warnings) == (True, True)
