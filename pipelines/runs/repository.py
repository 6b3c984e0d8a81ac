"""Runs in storage: load a run's partition, commit a transition, send its messages.

`mutate()` is the one way a run changes after submit: load, compute with a
function of `pipelines.runs.engine`, commit the changed rows in one
transaction on their ETags, and retry from fresh state when another writer won.
Messages are sent only after the commit; a crash in between leaves a step
Queued with an expired lease, which the sweeper queues again.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from pipelines.errors import AlreadyExistsError, EtagMismatchError, NotFoundError, StorageUnavailableError
from pipelines.runs.engine import RunState, Transition
from pipelines.runs.experiments import experiment_partition
from pipelines.runs.handover import HANDOVER
from pipelines.runs.history import experiment_of
from pipelines.runs.model import RUN_ROW, Run, Step, run_partition
from pipelines.runs.notify import ActiveRun, Notifier, NotifyMessage, active_run
from pipelines.store import Operation, StorageAccount, Table, create_op, etag_of, key, messages, replace_op
from pipelines.vocabulary import now

log = logging.getLogger("pipelines.runs")

T = TypeVar("T")
MAX_TRIES = 20
ACTIVE = "active"
# RowKeys of the per-pipeline run index sort newest first.
_MAX_TICKS = 10**19
# Writes that do not depend on each other (index rows in different partitions).
_side_by_side = ThreadPoolExecutor(max_workers=8, thread_name_prefix="index-write")


def _report_left(workspace: str, run_id: str, removal: Future[None]) -> None:
    failure = removal.exception()
    if failure is not None:
        log.warning("run %s/%s ended but is still in the active index (the sweeper removes it): %s",
                    workspace, run_id, failure)


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
        # Run events (pipelines.runs.notify): nudges after commits; nothing when none is configured.
        self.notifier = Notifier(account)

    # -- read ------------------------------------------------------------------------------
    def load(self, workspace: str, run_id: str) -> RunState:
        partition = run_partition(workspace, run_id)
        rows = self.runs.query_all("PartitionKey eq @pk", parameters={"pk": partition})
        run_entity = next((r for r in rows if r["RowKey"] == RUN_ROW), None)
        if run_entity is None:
            raise NotFoundError(f"pipeline run {run_id!r} was not found", target=run_id)
        steps = [Step.from_entity(r) for r in rows if r["RowKey"] != RUN_ROW]
        return RunState(Run.from_entity(run_entity), {s.node_id: s for s in steps})

    def just_created(self, workspace: str, run_id: str) -> RunState | None:
        """The run's state as this process created it, once, if it did lately: a first claim's
        `known` state (`mutate`), which spares it the partition read (pipelines/runs/handover.py)."""
        return HANDOVER.take(workspace, run_id)

    def get_run(self, workspace: str, run_id: str) -> Run:
        entity = self.runs.get(run_partition(workspace, run_id), RUN_ROW)
        if entity is None:
            raise NotFoundError(f"pipeline run {run_id!r} was not found", target=run_id)
        return Run.from_entity(entity)

    # -- create ------------------------------------------------------------------------------
    def create(self, state: RunState, transition: Transition, before_commit: Callable[[], None] | None = None,
               *, schedule: str | None = None) -> None:
        """Index rows first (harmless pointers), then the run and its steps in one transaction.

        The index rows go in different partitions, so they cannot join the run's
        transaction; they are written side by side rather than one after another.
        `before_commit` writes what the run needs elsewhere before it exists (an Azure DevOps
        job's token): after its `active` row, so that the sweeper, which forgets an active
        row whose run never came to exist, finds it too (`pipelines.worker.handler.sweep`).
        `schedule`: the schedule that starts the run, which lists it (`list_for_schedule`).
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
        if run.status.terminal and not self.notifier.enabled(run):
            # Every step was reused: created Finished, never active. With events, the run stays
            # in the index until they are handed off (the sweeper re-sends a lost nudge).
            rows = rows[1:]
        if schedule is not None:
            rows.append({
                "PartitionKey": key(run.workspace, "schedule", schedule),
                "RowKey": newest_first_key(run.created, run.id),
                "RunId": run.id,
            })
        list(_side_by_side.map(self.index.upsert, rows))  # list(): any failure is raised here
        if before_commit is not None:
            before_commit()
        nudge = self.notifier.first(run, now())
        operations = [create_op(run.to_entity())]
        operations += [create_op(step.to_entity(run.partition)) for step in state.steps.values()]
        try:
            results = self.runs.transact(operations)
            # the rows as written: no read-back needed, and the first claim made in this
            # process starts from them (pipelines/runs/handover.py)
            written: list[Run | Step] = [run, *state.steps.values()]
            for row, result in zip(written, results, strict=True):
                row.etag = result.get("etag") or None
            if transition.messages:
                HANDOVER.keep(state)
        except (StorageUnavailableError, AlreadyExistsError) as lost:
            # A lost answer (a timeout; or the client's retry finding the rows it had written):
            # the run may exist. Look before reporting an outage, so a caller told 503 can count
            # on its run not existing, and a run that exists gets its messages now.
            entity = self.runs.get(run.partition, RUN_ROW)
            if entity is None:
                raise lost
            log.warning("the answer to run %s's creation was lost; the run exists and goes on", run.id)
            run.etag = etag_of(entity)
        self.send(transition, state)
        if nudge is not None:  # RunQueued (with what follows it soon), in the background
            self.notifier.nudge(NotifyMessage(run.workspace, run.id), delay=nudge)

    def relabel(self, workspace: str, run_id: str, change: Callable[[Run], None]) -> Run:
        """Change the run row alone (tags, properties, display name, description: what no worker
        writes but with the row as it read it), conditional on its ETag, until it commits: a worker's
        commit meanwhile fails on the ETag and reads the row again (`mutate`), and so does this."""
        partition = run_partition(workspace, run_id)
        for attempt in range(MAX_TRIES):
            entity = self.runs.get(partition, RUN_ROW)
            if entity is None:
                raise NotFoundError(f"run {run_id!r} was not found", target=run_id)
            run = Run.from_entity(entity)
            change(run)
            written = run.to_entity()
            columns = {name: written[name] for name in ("Tags", "Properties", "DisplayName", "Description")
                       if written[name] is not None}
            try:
                self.runs.merge({"PartitionKey": partition, "RowKey": RUN_ROW, **columns}, etag=etag_of(entity))
                return run
            except EtagMismatchError:
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise EtagMismatchError(f"pipeline run {run_id!r} is changing too fast to update", target=run_id)

    # -- change ---------------------------------------------------------------------------------
    def commit(self, state: RunState, transition: Transition) -> None:
        """Write the changed rows in one transaction; the state then carries their new ETags,
        so it is the partition as stored and can be changed again without a read."""
        operations: list[Operation] = []
        written: list[Run | Step] = []
        if transition.run_changed:
            operations.append(replace_op(state.run.to_entity(), state.run.etag))
            written.append(state.run)
        for node_id in sorted(transition.steps_changed):
            step = state.steps[node_id]
            operations.append(replace_op(step.to_entity(state.run.partition), step.etag))
            written.append(step)
        if operations:
            results = self.runs.transact(operations)
            for row, result in zip(written, results, strict=True):
                row.etag = result.get("etag") or None
        self.send(transition, state)
        # A run with events stays active until they are handed off: its deliverer lets it go.
        if state.run.status.terminal and transition.run_changed and not self.notifier.enabled(state.run):
            self._leave_active(state.run.workspace, state.run.id)

    def mutate(
        self,
        workspace: str,
        run_id: str,
        change: Callable[[RunState], tuple[T, Transition]],
        known: RunState | None = None,
    ) -> tuple[T, RunState]:
        """Apply `change` to fresh state until it commits; returns its result and the state.

        `known` is a state this process committed last (the one `mutate` returned): it is
        tried first, without reading the partition. That is safe because the commit is
        conditional on the ETag of every row it writes, and every transition that
        changes a step's status also rewrites the run row: if anybody changed what the
        decision depends on, the commit fails and `change` runs again on a fresh read.
        A decision to write nothing is not checked by a commit, so it is made again on
        a fresh read too. `known` is changed in place and must not be used afterwards.
        """
        for attempt in range(MAX_TRIES):
            cached = known is not None
            state, known = (known, None) if known is not None else (self.load(workspace, run_id), None)
            before = self.notifier.marks(state)
            result, transition = change(state)
            if cached and transition.empty:
                continue
            nudge = self.notifier.plan(state, before, transition.run_changed, now())
            try:
                self.commit(state, transition)
            except EtagMismatchError:
                if cached:
                    continue  # the copy was stale: read the partition, no pause
                # Somebody else moved the run on: decide again from what is there now,
                # after a short random pause so racing writers don't collide again.
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                continue
            if nudge is not None:
                self.notifier.nudge(NotifyMessage(workspace, run_id), delay=nudge)
            return result, state
        raise EtagMismatchError(f"pipeline run {run_id!r} is changing too fast to update", target=run_id)

    def send(self, transition: Transition, state: RunState) -> None:
        """Send each message to its step's queue: its compute target's, recorded on the step row when
        the run was created (None: the app's steps queue)."""
        for message, delay in transition.messages:
            step = state.steps.get(message.node_id)
            queue = self.queue if step is None or step.queue is None else self.account.queue(step.queue)
            messages.send(queue, message.to_payload(), delay_seconds=delay or None)

    # -- lists ------------------------------------------------------------------------------------
    def list_for_pipeline(
        self, workspace: str, pipeline_id: str, *, page_size: int, continuation: str | None
    ) -> tuple[list[Run], str | None]:
        return self._indexed(key(workspace, "pipeline", pipeline_id), workspace, page_size, continuation)

    def list_for_schedule(
        self, workspace: str, schedule: str, *, page_size: int, continuation: str | None
    ) -> tuple[list[Run], str | None]:
        """The runs a schedule started, newest first."""
        return self._indexed(key(workspace, "schedule", schedule), workspace, page_size, continuation)

    def _indexed(
        self, partition: str, workspace: str, page_size: int, continuation: str | None
    ) -> tuple[list[Run], str | None]:
        """A page of an index partition's runs, newest first."""
        page, token = self.index.query_page(
            "PartitionKey eq @pk", parameters={"pk": partition}, page_size=page_size, continuation=continuation,
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

    def is_active(self, workspace: str, run_id: str) -> bool:
        """Whether the run has a row in the `active` index (a point read)."""
        return self.index.get(ACTIVE, key(workspace, run_id)) is not None

    def forget_active(self, workspace: str, run_id: str) -> None:
        self.index.delete(ACTIVE, key(workspace, run_id))

    def _leave_active(self, workspace: str, run_id: str) -> None:
        """Take an ended run out of the `active` index, behind the commit that ended it: the run
        reads as ended already, and the worker that ended it goes on (its invocation ends, its
        message is deleted) without waiting for the index. A removal that fails or never runs
        (the process ends first) leaves a row the sweeper removes (`handler.sweep`), as it does
        for a run whose commit was lost."""
        removal = _side_by_side.submit(self.forget_active, workspace, run_id)
        removal.add_done_callback(functools.partial(_report_left, workspace, run_id))

    def active_rows(self) -> list[ActiveRun]:
        """The `active` index with what its rows note of the runs' events (pipelines.runs.notify)."""
        when = now()
        return [active_run(row, when) for row in self.index.query_all("PartitionKey eq @pk", parameters={"pk": ACTIVE})]

    def mark_active(self, workspace: str, run_id: str, values: dict[str, str]) -> None:
        """Note `values` on the run's active row (run events' bookkeeping); nothing if it is gone."""
        if not values:
            return
        with contextlib.suppress(EtagMismatchError):  # the run left the active index meanwhile
            self.index.merge({"PartitionKey": ACTIVE, "RowKey": key(workspace, run_id), **values})

