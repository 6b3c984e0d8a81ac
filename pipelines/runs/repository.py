"""Runs in storage: load a run's partition, commit a transition, send its messages.

`mutate()` is the one way a run changes after submit: load, compute with a
function of `pipelines.runs.engine`, commit the changed rows in one
transaction on their ETags, and retry from fresh state when another writer won.
Messages are sent only after the commit; a crash in between leaves a step
Queued with an expired lease, which the sweeper queues again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from pipelines.errors import EtagMismatchError, NotFoundError
from pipelines.runs.engine import RunState, Transition
from pipelines.runs.experiments import experiment_partition
from pipelines.runs.history import experiment_of
from pipelines.runs.model import RUN_ROW, Run, Step, run_partition
from pipelines.store import Operation, StorageAccount, Table, create_op, key, messages, replace_op
from pipelines.vocabulary import now

log = logging.getLogger("pipelines.runs")

T = TypeVar("T")
MAX_TRIES = 20
ACTIVE = "active"
# RowKeys of the per-pipeline run index sort newest first.
_MAX_TICKS = 10**19
# Writes that do not depend on each other (index rows in different partitions).
_side_by_side = ThreadPoolExecutor(max_workers=8, thread_name_prefix="index-write")


def newest_first_key(when: datetime, run_id: str) -> str:
    ticks = int(when.timestamp() * 1_000_000)
    return f"{_MAX_TICKS - ticks:020d}|{run_id}"


class RunRepository:
    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self.runs = Table(account.table("Runs"))
        self.index = Table(account.table("RunIndex"))
        self.queue = account.queue(account.settings.steps_queue_name)
        self.lease_seconds = account.settings.step_lease_seconds

    # -- read ------------------------------------------------------------------------------
    def load(self, workspace: str, run_id: str) -> RunState:
        partition = run_partition(workspace, run_id)
        rows = self.runs.query_all("PartitionKey eq @pk", parameters={"pk": partition})
        run_entity = next((r for r in rows if r["RowKey"] == RUN_ROW), None)
        if run_entity is None:
            raise NotFoundError(f"pipeline run {run_id!r} was not found", target=run_id)
        steps = [Step.from_entity(r) for r in rows if r["RowKey"] != RUN_ROW]
        return RunState(Run.from_entity(run_entity), {s.node_id: s for s in steps})

    def get_run(self, workspace: str, run_id: str) -> Run:
        entity = self.runs.get(run_partition(workspace, run_id), RUN_ROW)
        if entity is None:
            raise NotFoundError(f"pipeline run {run_id!r} was not found", target=run_id)
        return Run.from_entity(entity)

    # -- create ------------------------------------------------------------------------------
    def create(self, state: RunState, transition: Transition) -> None:
        """Index rows first (harmless pointers), then the run and its steps in one transaction.

        The index rows go in different partitions, so they cannot join the run's
        transaction; they are written side by side rather than one after another.
        """
        run = state.run
        assert run.created is not None
        created = run.created.isoformat()
        rows = [
            {"PartitionKey": ACTIVE, "RowKey": key(run.workspace, run.id), "Created": created},
            {
                "PartitionKey": key(run.workspace, "pipeline", run.pipeline_id),
                "RowKey": newest_first_key(run.created, run.id),
                "RunId": run.id,
            },
            {
                "PartitionKey": experiment_partition(run.workspace, experiment_of(run)),
                "RowKey": newest_first_key(run.created, run.id),
                "RunId": run.id,
                "Created": created,
            },
        ]
        list(_side_by_side.map(self.index.upsert, rows))  # list(): any failure is raised here
        operations = [create_op(run.to_entity())]
        operations += [create_op(step.to_entity(run.partition)) for step in state.steps.values()]
        results = self.runs.transact(operations)
        run.etag = results[0]["etag"]  # the run as written: no read-back needed
        self.send(transition)

    # -- change ---------------------------------------------------------------------------------
    def commit(self, state: RunState, transition: Transition) -> None:
        operations: list[Operation] = []
        if transition.run_changed:
            operations.append(replace_op(state.run.to_entity(), state.run.etag))
        for node_id in sorted(transition.steps_changed):
            step = state.steps[node_id]
            operations.append(replace_op(step.to_entity(state.run.partition), step.etag))
        if operations:
            self.runs.transact(operations)
        self.send(transition)
        if state.run.status.terminal and transition.run_changed:
            self.index.delete(ACTIVE, key(state.run.workspace, state.run.id))

    def mutate(
        self, workspace: str, run_id: str, change: Callable[[RunState], tuple[T, Transition]]
    ) -> tuple[T, RunState]:
        """Apply `change` to fresh state until it commits; returns its result and the state."""
        for attempt in range(MAX_TRIES):
            state = self.load(workspace, run_id)
            result, transition = change(state)
            try:
                self.commit(state, transition)
            except EtagMismatchError:
                # Somebody else moved the run on: decide again from what is there now,
                # after a short random pause so racing writers don't collide again.
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                continue
            return result, state
        raise EtagMismatchError(f"pipeline run {run_id!r} is changing too fast to update", target=run_id)

    def send(self, transition: Transition) -> None:
        for message, delay in transition.messages:
            messages.send(self.queue, message.to_payload(), delay_seconds=delay or None)

    # -- lists ------------------------------------------------------------------------------------
    def list_for_pipeline(
        self, workspace: str, pipeline_id: str, *, page_size: int, continuation: str | None
    ) -> tuple[list[Run], str | None]:
        page, token = self.index.query_page(
            "PartitionKey eq @pk",
            parameters={"pk": key(workspace, "pipeline", pipeline_id)},
            page_size=page_size,
            continuation=continuation,
        )
        runs = []
        for row in page:
            entity = self.runs.get(run_partition(workspace, row["RunId"]), RUN_ROW)
            if entity is not None:  # an index row whose run commit never happened
                runs.append(Run.from_entity(entity))
        return runs, token

    def active_runs(self) -> list[tuple[str, str, datetime]]:
        """Runs not yet ended: (workspace, run id, when submitted)."""
        rows = self.index.query_all("PartitionKey eq @pk", parameters={"pk": ACTIVE})
        found = []
        for row in rows:
            workspace, _, run_id = row["RowKey"].partition("|")
            created = datetime.fromisoformat(row["Created"]) if row.get("Created") else now()
            found.append((workspace, run_id, created))
        return found

    def forget_active(self, workspace: str, run_id: str) -> None:
        self.index.delete(ACTIVE, key(workspace, run_id))

