"""The run engine's reuse transitions, as pure logic: a step finished with an earlier
execution's outputs, at submit or when claimed, and a step that waits for one under way."""

from __future__ import annotations

from datetime import timedelta

from pipelines.runs import engine
from pipelines.runs.engine import Outcome
from pipelines.runs.model import OutputSummary, Prior, ReusedFrom, RunStatus, TaskStatus
from tests.unit.test_engine import DIAMOND, LEASE, T0, build, queued

LINE = {"a": [], "b": ["a"], "c": ["b"]}


def prior(node: str, run_id: str = "earlier") -> Prior:
    summary = OutputSummary(files=1, bytes=3, sha256=node * 64)
    source = ReusedFrom(run_id, node, "exp", T0 - timedelta(hours=1), T0 - timedelta(minutes=59))
    return Prior(source, f"key-{node}", (f"out_{node}",), {f"out_{node}": summary}, {"accuracy": 0.9})


def test_a_run_whose_every_step_is_reused_is_created_finished_with_nothing_to_send() -> None:
    # GIVEN a diamond whose four steps all have a finished execution
    state = build(DIAMOND)
    # WHEN the run is created with them
    t = engine.initial(state, T0, LEASE, {n: prior(n) for n in DIAMOND})
    # THEN no message goes out, every step is Finished from its prior, and so is the run
    assert t.messages == []
    assert state.run.status is RunStatus.FINISHED and state.run.ended == T0 and state.run.started == T0
    for node, step in state.steps.items():
        assert step.status is TaskStatus.FINISHED
        assert step.reused_from == prior(node).source
        assert step.outputs == [f"out_{node}"] and step.output_summaries == prior(node).summaries
        assert step.metrics == {"accuracy": 0.9} and step.reuse_key == f"key-{node}"
        assert step.attempts == [] and step.claim is None and step.exit_code is None
        assert "reused the outputs" in (step.detail or "")
    # AND the run says where each step's outputs are stored
    assert state.run.reused == {n: ["earlier", n] for n in DIAMOND}


def test_reused_steps_at_submit_queue_the_steps_they_unblock() -> None:
    # GIVEN a diamond whose root and one branch were reused
    state = build(DIAMOND)
    t = engine.initial(state, T0, LEASE, {"a": prior("a"), "b": prior("b")})
    # THEN c (whose parent a finished) is queued; d still waits for c
    assert queued(t) == ["c"]
    assert state.steps["d"].status is TaskStatus.NOT_STARTED
    assert state.run.status is RunStatus.RUNNING


def test_a_step_claimed_then_taken_from_an_earlier_run_makes_no_attempt_and_hands_on() -> None:
    # GIVEN a chain whose first step ran and whose second is claimed
    state = build(LINE)
    engine.initial(state, T0, LEASE)
    token, _ = engine.claim(state, "a", 1, "w", T0, LEASE)
    assert token is not None
    ran = Outcome(TaskStatus.FINISHED, exit_code=0, outputs=("out_a",), reuse_key="key-a",
                  summaries={"out_a": OutputSummary(1, 3, "a" * 64)})
    taken, _ = engine.complete_and_continue(state, "a", token, ran, T0, LEASE, "w")
    assert taken is not None and taken[0] == "b"
    # THEN the step that ran keeps the key it ran with
    assert state.steps["a"].reuse_key == "key-a" and state.steps["a"].reused_from is None
    # WHEN b is found in the index: its outcome carries the prior
    later = T0 + timedelta(seconds=1)
    taken, t = engine.complete_and_continue(
        state, "b", taken[2], Outcome(TaskStatus.FINISHED, prior=prior("b")), later, LEASE, "w")
    # THEN b is Finished without an attempt, and the same commit claims c for the same worker
    b = state.steps["b"]
    assert b.status is TaskStatus.FINISHED and b.attempts == [] and b.reused_from == prior("b").source
    assert (b.started, b.ended) == (T0, later)  # claimed with a's commit, finished when found
    assert taken is not None and taken[0] == "c" and state.steps["c"].status is TaskStatus.RUNNING
    assert state.run.reused == {"b": ["earlier", "b"]}


def test_a_step_whose_key_is_being_computed_elsewhere_waits_in_the_queue() -> None:
    # GIVEN a claimed root step
    state = build(LINE)
    engine.initial(state, T0, LEASE)
    token, _ = engine.claim(state, "a", 1, "w", T0, LEASE)
    assert token is not None
    # WHEN its worker finds another run computing its key
    waiting = Outcome(TaskStatus.QUEUED, "waiting for step 'a' of run r0, which is computing the same outputs")
    taken, t = engine.complete_and_continue(state, "a", token, waiting, T0, LEASE, "w")
    # THEN it goes back to the queue, delayed, as the same attempt, with no attempt record
    a = state.steps["a"]
    assert taken is None
    assert a.status is TaskStatus.QUEUED and a.attempt == 1 and a.attempts == [] and a.started is None
    assert "computing the same outputs" in (a.detail or "")
    [(message, delay)] = t.messages
    assert (message.node_id, message.attempt) == ("a", 1) and delay >= 1
    # AND its next claim works as any claim
    again, _ = engine.claim(state, "a", 1, "w", T0 + timedelta(seconds=delay), LEASE)
    assert again is not None


def test_the_wait_grows_the_longer_a_step_has_waited_up_to_a_bound() -> None:
    state = build({"a": []})
    engine.initial(state, T0, LEASE)
    delays = []
    for minutes in (0, 1, 60):
        now = T0 + timedelta(minutes=minutes)
        token, _ = engine.claim(state, "a", 1, "w", now, LEASE)
        assert token is not None
        t = engine.complete(state, "a", token, Outcome(TaskStatus.QUEUED, "waiting"), now, LEASE)
        delays.append(t.messages[0][1])
    low, high = engine.REUSE_WAIT_SECONDS
    assert delays[0] == low and delays[0] < delays[1] and delays[2] == high


def test_a_cancel_stops_a_waiting_step() -> None:
    state = build(LINE)
    engine.initial(state, T0, LEASE)
    token, _ = engine.claim(state, "a", 1, "w", T0, LEASE)
    assert token is not None
    engine.complete(state, "a", token, Outcome(TaskStatus.QUEUED, "waiting"), T0, LEASE)
    engine.cancel(state, T0, LEASE)
    assert state.steps["a"].status is TaskStatus.CANCELED and state.run.status is RunStatus.CANCELED
