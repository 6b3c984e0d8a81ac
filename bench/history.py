"""Figure 5 (issue 9): reading runs back the run-history way, with 10 and 10,000 runs
in the experiment.

One run is submitted over HTTP (it stays NotStarted: this phase's host has no
queue worker, so it is the experiment's one active run). The experiment is then
grown with finished copies of that run written straight into its tables (the
run's partition and its experiment index row), side by side, instead of running
10,000 pipelines. Timed over HTTP, as a client sees them:

- `GET runs/{id}/details` of the real run;
- the active-runs query a client makes before it submits again
  (`Status eq 'Running' or Status eq 'NotStarted' or Status eq 'Queued'`);
- the first page (top 10) of `(ParentRunId eq null)` newest first, SDK v1's
  `Experiment.get_runs()` filter.

A query must not read every run: the p50 at 10,000 runs over the p50 at 10 is the
figure to watch (the aim is at most 1.5). Azurite's in-memory tables answer more
slowly as they grow (a bare point read of a run row is timed at each size to
show it), so the storage calls one query makes are counted as well, in this
process with the same reader the route uses: that count, not Azurite's speed, is
what must not grow with the history.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx

from bench.fixtures import Api
from bench.report import Row, Section
from bench.stats import Summary, sample
from pipelines.runs.experiments import experiment_partition
from pipelines.runs.model import RUN_ROW, RunStatus, TaskStatus, run_partition
from pipelines.runs.reader import HistoryReader, Query
from pipelines.runs.repository import newest_first_key
from pipelines.store import Table, get_account
from pipelines.store import tables as table_module
from pipelines.store.codec import parse_time, time_text

EXPERIMENT = "bench-history"
ACTIVE_FILTER = "Status eq 'Running' or Status eq 'NotStarted' or Status eq 'Queued'"


def storage_calls(action: Any) -> int:
    """How many table calls `action()` makes (counted on the Table helper every read goes through)."""
    counted = 0
    originals = {name: getattr(Table, name) for name in ("get", "query_page", "query_all")}

    def counting(name: str) -> Any:
        def call(self: Table, *args: Any, **kwargs: Any) -> Any:
            nonlocal counted
            counted += 1
            return originals[name](self, *args, **kwargs)

        return call

    try:
        for name in originals:
            setattr(table_module.Table, name, counting(name))
        action()
    finally:
        for name, original in originals.items():
            setattr(table_module.Table, name, original)
    return counted


class History:
    """The experiment's runs, grown by copying the real run's rows."""

    def __init__(self, workspace: str, run_id: str) -> None:
        account = get_account()
        self.workspace = workspace
        self.runs = Table(account.table("Runs"))
        self.index = Table(account.table("RunIndex"))
        rows = self.runs.query_all("PartitionKey eq @pk", parameters={"pk": run_partition(workspace, run_id)})
        self.template = [dict(row) for row in rows]
        self.created = parse_time(next(r for r in rows if r["RowKey"] == RUN_ROW)["Created"])
        self.size = 1

    def _copy(self, number: int) -> None:
        run_id = str(uuid.uuid4())
        assert self.created is not None
        created = self.created - timedelta(seconds=number)  # older than the real run
        partition = run_partition(self.workspace, run_id)
        operations: list[Any] = []
        for row in self.template:
            copy = {**row, "PartitionKey": partition, "Status": int(TaskStatus.FINISHED)}
            if row["RowKey"] == RUN_ROW:
                copy.update(RunId=run_id, Status=int(RunStatus.FINISHED), Created=time_text(created),
                            Started=time_text(created), Ended=time_text(created + timedelta(seconds=5)))
            operations.append(("create", copy))
        self.runs.client.submit_transaction(operations)
        self.index.upsert({
            "PartitionKey": experiment_partition(self.workspace, EXPERIMENT),
            "RowKey": newest_first_key(created, run_id), "RunId": run_id, "Created": time_text(created),
        })

    def grow_to(self, total: int) -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(self._copy, range(self.size, total)))
        self.size = max(self.size, total)


def measure(api: Api, pipeline_id: str, sizes: tuple[int, ...], samples: int) -> Section:
    section = Section("5. Run history: details and queries, by runs in the experiment (issue 9)")
    with api.client() as client:
        response = client.post(f"/PipelineRuns/PipelineSubmit/{pipeline_id}", json={"ExperimentName": EXPERIMENT})
        response.raise_for_status()
        run_id = response.json()["Id"]
        history = History(api.workspace_name, run_id)
        hs = api.ws_url.replace("/pipelines/v1.0/", "/history/v1.0/", 1)

        def get(url: str, **kwargs: Any) -> httpx.Response:
            answer = client.get(url, **kwargs)
            answer.raise_for_status()
            return answer

        def query(body: dict[str, Any], expected: int) -> Any:
            def call() -> object:
                answer = client.post(f"{hs}/experiments/{EXPERIMENT}/runs:query", json=body)
                answer.raise_for_status()
                assert len(answer.json()["value"]) == expected, answer.text
                return answer

            return call

        medians: dict[str, list[float]] = {}
        reader = HistoryReader(get_account())
        side_by_side = ThreadPoolExecutor(8)
        first_page = Query.of("(ParentRunId eq null)", "StartTimeUtc desc", None, 10, 100)
        active = Query.of(ACTIVE_FILTER, None, None, None, 100)
        for size in sizes:
            history.grow_to(size)
            keys = [run_partition(api.workspace_name, run_id)] * 10

            def read_rows(keys: list[str] = keys) -> object:
                return list(side_by_side.map(lambda pk: history.runs.get(pk, RUN_ROW), keys))

            point = Summary.of_seconds(sample(read_rows, samples, warmup=10))
            section.add(Row(f"bare: 10 point reads of run rows side by side (Azurite), {size:,} runs", point))
            for label, query_ in (("active runs", active), ("first page", first_page)):
                count = storage_calls(lambda q=query_: reader.query(api.workspace_name, EXPERIMENT, q, None))
                section.add(Row(f"storage calls of one query, {label}, {size:,} runs", value=count, unit="calls"))
            figures = {
                "GET runs/{id}/details": Summary.of_seconds(sample(
                    lambda: get(f"{hs}/runs/{run_id}/details"), samples, warmup=10)),
                # the run and its one step (Queued): step runs are runs of the experiment too
                "runs:query, the active runs": Summary.of_seconds(sample(
                    query({"filter": ACTIVE_FILTER}, 2), samples, warmup=10)),
                "runs:query, (ParentRunId eq null) top 10": Summary.of_seconds(sample(
                    query({"filter": "(ParentRunId eq null)", "orderby": "StartTimeUtc desc", "top": 10},
                          min(10, size)), samples, warmup=10)),
            }
            for label, summary in figures.items():
                section.add(Row(f"{label}, {size:,} runs", summary))
                medians.setdefault(label, []).append(summary.p50)
        if len(sizes) > 1:
            for label, values in medians.items():
                section.add(Row(f"{label}: p50 at {sizes[-1]:,} / at {sizes[0]:,}", value=values[-1] / values[0],
                                unit="x", note="aim: at most 1.5"))
    section.notes.append(
        "Azurite keeps tables in memory and its reads slow down as a table grows (the bare reads above);"
        " in Azure Table storage a point read does not depend on the table's size. The storage calls of one"
        " query are what must stay the same at every size"
    )
    section.notes.append(
        "details: one partition query (the run and its steps); active runs: the workspace's active index,"
        " then its runs' rows; first page: the experiment's index newest first, then one point read per run"
        " of the page (side by side)"
    )
    return section
