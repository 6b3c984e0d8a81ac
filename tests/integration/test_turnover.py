"""A step's turnover against a real Azurite: changes tried on the partition as last committed
(`RunRepository.mutate(known=...)`), and the checks that make a stale copy harmless."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from pipelines.runs import engine
from pipelines.runs.engine import Outcome, RunState
from pipelines.runs.model import Run, RunStatus, Step, TaskStatus
from pipelines.runs.repository import RunRepository

LEASE = 15


def now() -> datetime:
    return datetime.now(UTC)


class CountingRepository(RunRepository):
    """The production repository, counting its partition reads."""

    loads = 0

    def load(self, workspace: str, run_id: str) -> RunState:
        self.loads += 1
        return super().load(workspace, run_id)


@pytest.fixture
def repository(account) -> CountingRepository:  # type: ignore[no-untyped-def]
    return CountingRepository(account)


def new_run(repository: RunRepository) -> tuple[str, RunState]:
    """a → b, created as a submit creates runs; returns the id and what was created."""
    run = Run(id=uuid.uuid4().hex, workspace="ws", pipeline_id="p", graph_id="g", created=now())
    steps = {"a": Step(node_id="a", name="a"), "b": Step(node_id="b", name="b", parents=["a"])}
    state = RunState(run, steps)
    repository.create(state, engine.initial(state, now(), LEASE))
    return run.id, state


def claim(repository: RunRepository, run_id: str) -> tuple[str, RunState]:
    token, state = repository.mutate("ws", run_id, lambda s: engine.claim(s, "a", 1, "w1", now(), LEASE))
    assert token is not None
    return token, state


def test_a_change_on_the_state_last_committed_needs_no_read(repository: CountingRepository) -> None:
    run_id, _ = new_run(repository)
    token, state = claim(repository, run_id)
    reads = repository.loads
    # WHEN the exit note and then the completion are made on what the claim committed
    ours, state = repository.mutate("ws", run_id, lambda s: engine.script_exited(s, "a", token, 0, now(), LEASE),
                                    known=state)
    taken, state = repository.mutate(
        "ws", run_id,
        lambda s: engine.complete_and_continue(s, "a", token, Outcome(TaskStatus.FINISHED, exit_code=0), now(),
                                               LEASE, "w1"),
        known=state,
    )
    # THEN neither read the partition, and storage holds both changes
    assert ours and taken is not None and taken[0] == "b"
    assert repository.loads == reads
    stored = RunRepository(repository.account).load("ws", run_id)
    assert stored.steps["a"].status is TaskStatus.FINISHED and stored.steps["b"].status is TaskStatus.RUNNING
    assert stored.steps["a"].attempts[0].script_exited is not None


def test_a_stale_copy_fails_its_commit_and_the_change_is_made_on_what_storage_holds(
    repository: CountingRepository,
) -> None:
    run_id, _ = new_run(repository)
    token, state = claim(repository, run_id)
    # GIVEN another writer (a cancel from the API) changed the run after this worker's commit
    RunRepository(repository.account).mutate("ws", run_id, lambda s: (None, engine.cancel(s, now(), LEASE)))
    reads = repository.loads
    # WHEN the worker completes the step on its copy, which does not know of the cancel
    taken, final = repository.mutate(
        "ws", run_id,
        lambda s: engine.complete_and_continue(s, "a", token, Outcome(TaskStatus.FINISHED, exit_code=0), now(),
                                               LEASE, "w1"),
        known=state,
    )
    # THEN the copy's commit failed on the run row's ETag, the change was made again on a fresh
    # read, and it saw the cancel: no successor was taken, the run ended Canceled
    assert repository.loads == reads + 1
    assert taken is None
    assert final.run.status is RunStatus.CANCELED and final.steps["b"].status is TaskStatus.CANCELED


def test_a_decision_to_write_nothing_is_made_again_on_a_fresh_read(repository: CountingRepository) -> None:
    run_id, _ = new_run(repository)
    _, state = claim(repository, run_id)
    reads = repository.loads
    # WHEN a change that writes nothing is tried on the copy (a heartbeat with a token not ours)
    def heartbeat(s: RunState) -> tuple[bool, engine.Transition]:
        ours, _, transition = engine.heartbeat(s, "a", "not-ours", now(), LEASE)
        return ours, transition

    ours, _ = repository.mutate("ws", run_id, heartbeat, known=state)
    # THEN it was decided again on what storage holds
    assert not ours
    assert repository.loads == reads + 1
