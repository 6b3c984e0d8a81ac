"""The states of runs this process created, kept for the first claim (pipelines/runs/handover.py):
taken once, a copy, and bounded in number and age."""

from __future__ import annotations

from pipelines.runs.handover import Handover
from pipelines.runs.model import TaskStatus
from tests.unit.test_engine import build


def test_a_state_is_taken_once_as_a_copy_of_what_was_kept() -> None:
    # GIVEN a run's state kept as created, and then changed by its creator
    handover, state = Handover(), build({"a": []})
    state.run.etag = "created"
    handover.keep(state)
    state.run.etag, state.steps["a"].status = "changed", TaskStatus.FAILED
    # WHEN the first claim takes it, and a second asks again
    taken = handover.take("ws", "r1")
    # THEN the first gets the state as kept, the second nothing
    assert taken is not None and taken.run.etag == "created" and taken.steps["a"].status is TaskStatus.NOT_STARTED
    assert handover.take("ws", "r1") is None
    assert handover.take("ws", "another run") is None


def test_only_the_newest_states_are_kept_and_none_past_its_time() -> None:
    # GIVEN room for two runs: three are kept
    handover = Handover(runs=2)
    for run_id in ("r1", "r2", "r3"):
        state = build({"a": []})
        state.run.id = run_id
        handover.keep(state)
    # THEN the oldest is gone and the two newest are there
    assert [run_id for run_id in ("r1", "r2", "r3") if handover.take("ws", run_id)] == ["r2", "r3"]
    # AND a state kept no time at all is not handed out
    stale = Handover(seconds=0.0)
    stale.keep(build({"a": []}))
    assert stale.take("ws", "r1") is None
