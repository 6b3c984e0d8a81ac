"""The `active` index lists the runs not yet ended (the sweeper's work list). A run leaves it
behind the commit that ends it, and a removal that failed is made by the sweeper; against a
real Azurite."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.errors import StorageUnavailableError
from pipelines.runs import engine
from pipelines.runs.devops import DevOpsTokens
from pipelines.runs.engine import RunState
from pipelines.runs.model import Run, RunStatus, Step
from pipelines.runs.repository import RunRepository
from pipelines.store import Table, key
from pipelines.worker import handler

LEASE = 15


class FailingDeletes(Table):
    """The index table, whose deletes fail (storage away) until `heal`; `tried` is set once one was tried."""

    def __init__(self, table: Table) -> None:
        super().__init__(table.client)
        self.tried = threading.Event()
        self.healed = False

    def delete(self, partition: str, row: str, etag: str | None = None) -> None:
        if not self.healed:
            self.tried.set()
            raise StorageUnavailableError("storage is not available (ServiceResponseError); try again shortly")
        super().delete(partition, row, etag)


@pytest.fixture
def repository(account) -> RunRepository:  # type: ignore[no-untyped-def]
    return RunRepository(account)


def created(repository: RunRepository) -> RunState:
    run = Run(id=uuid.uuid4().hex, workspace="ws", pipeline_id="p", graph_id="g", created=datetime.now(UTC))
    state = RunState(run, {"a": Step(node_id="a", name="a")})
    repository.create(state, engine.initial(state, datetime.now(UTC), LEASE))
    return state


def cancel(repository: RunRepository, run_id: str) -> None:
    repository.mutate("ws", run_id, lambda s: (None, engine.cancel(s, datetime.now(UTC), LEASE)))


def active_within(repository: RunRepository, run_id: str, seconds: float) -> bool:
    """Whether the run is still in the index after `seconds` (False as soon as it has left)."""
    deadline = time.monotonic() + seconds
    while repository.is_active("ws", run_id):
        if time.monotonic() > deadline:
            return True
        time.sleep(0.02)
    return False


def test_a_run_that_ends_leaves_the_active_index(repository: RunRepository) -> None:
    state = created(repository)
    assert repository.is_active("ws", state.run.id)
    cancel(repository, state.run.id)
    assert repository.load("ws", state.run.id).run.status is RunStatus.CANCELED
    assert not active_within(repository, state.run.id, 5.0)


def test_a_removal_that_failed_leaves_the_run_listed_until_the_sweeper_removes_it(
    repository: RunRepository,
) -> None:
    state = created(repository)
    failing = repository.index = FailingDeletes(repository.index)
    # WHEN the run ends and its removal from the index fails (behind the commit)
    cancel(repository, state.run.id)
    assert failing.tried.wait(5.0)
    # THEN the run has ended, and it is still listed
    assert repository.load("ws", state.run.id).run.status is RunStatus.CANCELED
    assert active_within(repository, state.run.id, 0.5)
    # AND once storage is back, the sweeper takes it out
    failing.healed = True
    handler.sweep(repository.account)
    assert not repository.is_active("ws", state.run.id)


class FailingTransactions(Table):
    """The runs table, whose transactions fail (storage away): a submit's commit that never lands."""

    def transact(self, operations):  # type: ignore[no-untyped-def]
        raise StorageUnavailableError("storage is not available (ServiceResponseError); try again shortly")


def test_a_job_token_kept_for_a_run_whose_commit_never_landed_is_dropped_by_the_sweeper(
    repository: RunRepository,
) -> None:
    tokens = DevOpsTokens(repository.account)
    run = Run(id=uuid.uuid4().hex, workspace="ws", pipeline_id="p", graph_id="g",
              created=datetime.now(UTC) - timedelta(minutes=6))
    state = RunState(run, {"a": Step(node_id="a", name="a")})
    seen: list[bool] = []

    def keep() -> None:  # what the submit of an Azure DevOps task keeps before the run exists
        seen.append(repository.is_active("ws", run.id))
        tokens.keep("ws", run.id, "job-token")

    # WHEN a submit's commit fails after the job's token was kept
    repository.runs = FailingTransactions(repository.runs.client)
    with pytest.raises(StorageUnavailableError):
        repository.create(state, engine.initial(state, datetime.now(UTC), LEASE), keep)
    # THEN the token was kept after the run's active row, the sweeper's work list, was written
    assert seen == [True] and tokens.read("ws", run.id) == "job-token"
    # AND the sweeper, finding no run behind that row after five minutes, drops both
    fresh = RunRepository(repository.account)
    handler.sweep(repository.account)
    assert tokens.read("ws", run.id) is None and not fresh.is_active("ws", run.id)


def test_the_sweeper_leaves_a_young_active_row_and_its_token_alone(repository: RunRepository) -> None:
    tokens = DevOpsTokens(repository.account)
    run_id = uuid.uuid4().hex
    # GIVEN a submit under way: its active row and the job's token written a moment ago, its run not yet
    repository.index.upsert({"PartitionKey": "active", "RowKey": key("ws", run_id),
                             "Created": datetime.now(UTC).isoformat()})
    tokens.keep("ws", run_id, "job-token")
    # WHEN the sweeper runs, THEN both stay: the commit may be landing now
    handler.sweep(repository.account)
    assert tokens.read("ws", run_id) == "job-token" and repository.is_active("ws", run_id)
