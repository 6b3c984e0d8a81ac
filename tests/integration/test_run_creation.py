"""A run's creation when storage's answer is lost (a timeout after the commit): the repository
looks before it reports an outage, against a real Azurite."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from pipelines.errors import StorageUnavailableError
from pipelines.runs import engine
from pipelines.runs.engine import RunState
from pipelines.runs.model import RUN_ROW, Run, Step, StepMessage, TaskStatus
from pipelines.runs.repository import RunRepository
from pipelines.store import Operation, Table, messages

LEASE = 15


class LosingTable(Table):
    """The run table, whose transaction answer is lost once: after the commit, or before it."""

    def __init__(self, table: Table, *, commit: bool) -> None:
        super().__init__(table.client)
        self.commit = commit
        self.lost = 0

    def transact(self, operations: Sequence[Operation]) -> list[dict[str, Any]]:
        if self.lost:
            return super().transact(operations)
        self.lost += 1
        if self.commit:
            super().transact(operations)
        raise StorageUnavailableError("storage is not available (ServiceResponseError); try again shortly")


def new_state() -> RunState:
    created = datetime.now(UTC)
    run = Run(id=uuid.uuid4().hex, workspace="ws", pipeline_id="p", graph_id="g", created=created)
    return RunState(run, {"a": Step(node_id="a", name="a")})


@pytest.fixture
def repository(account) -> RunRepository:  # type: ignore[no-untyped-def]
    return RunRepository(account)


def test_a_run_committed_whose_answer_was_lost_is_created_and_its_first_step_sent(
    repository: RunRepository,
) -> None:
    repository.runs = LosingTable(repository.runs, commit=True)
    state = new_state()
    # WHEN the transaction commits but its answer never arrives
    repository.create(state, engine.initial(state, datetime.now(UTC), LEASE))
    # THEN create succeeds: the run is there with its ETag, and its first step's message was sent
    stored = RunRepository(repository.account).load("ws", state.run.id)
    assert stored.run.etag == state.run.etag
    assert stored.steps["a"].status is TaskStatus.QUEUED
    peeked = repository.queue.peek_messages(max_messages=32)
    sent = [StepMessage.from_payload(messages.decode(m.content)) for m in peeked]
    assert [(m.run_id, m.node_id) for m in sent if m.run_id == state.run.id] == [(state.run.id, "a")]


def test_a_run_that_was_not_committed_is_an_outage_and_does_not_exist(repository: RunRepository) -> None:
    repository.runs = LosingTable(repository.runs, commit=False)
    state = new_state()
    with pytest.raises(StorageUnavailableError):
        repository.create(state, engine.initial(state, datetime.now(UTC), LEASE))
    assert RunRepository(repository.account).runs.get(state.run.partition, RUN_ROW) is None
