"""Figure 3: the storage floor of a submit, done bare with the SDK.

The storage calls a submit by pipeline id makes (without an idempotency key),
in its order, with its payloads:

1. point read of the pipeline row (table `Pipelines`), then one of the reuse index per step
   without parents (table `StepReuse`: a miss, as for a request nothing has run yet);
2. three index upserts, side by side as the service writes them (table `RunIndex`:
   the active-runs row, the per-pipeline row, the per-experiment row);
3. one entity-group transaction creating the run row and its step rows (table `Runs`);
4. one queue message per step without parents.

The row payloads are copies of a run the service really wrote, under a new run
id. With `lean`, the transaction is written and read as the service writes it
(`pipelines.store.batch`) instead of by the SDK's `submit_transaction`: the floor
of the same calls made the service's way. Each client thread has its own service clients (connections). The calls a
submit makes only now and then are left out: the experiment's row (once per
experiment and process) and a block of run numbers (once per 100 numbers).
"""

from __future__ import annotations

import contextlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode
from azure.storage.queue import QueueClient

from pipelines.runs.experiments import experiment_partition
from pipelines.runs.model import RUN_ROW, StepMessage, run_partition
from pipelines.runs.repository import ACTIVE, newest_first_key
from pipelines.settings import get_settings
from pipelines.store import batch, get_account, key, messages


def run_rows(workspace: str, run_id: str) -> list[dict[str, Any]]:
    """The rows a submit wrote for `run_id`, as plain dicts (no ETags)."""
    table = get_account().table("Runs")
    found = table.query_entities("PartitionKey eq @pk", parameters={"pk": run_partition(workspace, run_id)})
    return [dict(row) for row in found]


class FloorSubmit:
    """One client's bare copy of a submit's storage calls."""

    def __init__(self, workspace: str, pipeline_id: str, template: list[dict[str, Any]], lean: bool = False) -> None:
        self.lean = lean
        settings = get_settings()
        connection = settings.storage_connection
        assert connection, "the floor needs a connection string (Azurite)"
        tables = TableServiceClient.from_connection_string(connection)
        self.pipelines = tables.get_table_client(settings.table_name("Pipelines"))
        self.index = tables.get_table_client(settings.table_name("RunIndex"))
        self.runs = tables.get_table_client(settings.table_name("Runs"))
        self.reuse = tables.get_table_client(settings.table_name("StepReuse"))
        self.queue = QueueClient.from_connection_string(connection, settings.steps_queue_name)
        self.workspace = workspace
        self.pipeline_id = pipeline_id
        self.template = template
        self.side_by_side = ThreadPoolExecutor(max_workers=3)
        self.first_steps = [
            row["NodeId"] for row in template if row["RowKey"] != RUN_ROW and row.get("Parents", "[]") == "[]"
        ]

    def __call__(self) -> object:
        ws, pipeline_id = self.workspace, self.pipeline_id
        self.pipelines.get_entity(ws, pipeline_id)
        for _ in self.first_steps:
            with contextlib.suppress(ResourceNotFoundError):
                self.reuse.get_entity(ws, "0" * 64)
        run_id = str(uuid.uuid4())
        created = datetime.now(UTC)
        rows = [
            {"PartitionKey": ACTIVE, "RowKey": key(ws, run_id), "Created": created.isoformat()},
            {"PartitionKey": key(ws, "pipeline", pipeline_id), "RowKey": newest_first_key(created, run_id),
             "RunId": run_id},
            {"PartitionKey": experiment_partition(ws, "bench"), "RowKey": newest_first_key(created, run_id),
             "RunId": run_id, "Created": created.isoformat()},
        ]
        list(self.side_by_side.map(lambda row: self.index.upsert_entity(row, mode=UpdateMode.REPLACE), rows))
        partition = run_partition(ws, run_id)
        rows = [
            {**row, "PartitionKey": partition, **({"RunId": run_id} if row["RowKey"] == RUN_ROW else {})}
            for row in self.template
        ]
        operations = [("create", row) for row in rows]
        if self.lean:
            batch.submit(self.runs, operations)
        else:
            self.runs.submit_transaction(operations)
        for node_id in self.first_steps:
            messages.send(self.queue, StepMessage(ws, run_id, node_id, 1).to_payload())
        return run_id

    def close(self) -> None:
        self.side_by_side.shutdown()
        for client in (self.pipelines, self.index, self.runs, self.reuse, self.queue):
            client.close()
