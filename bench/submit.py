"""Figures 2 and 3 (issue 5): submit latency over HTTP, and its storage floor, at 1 and 16 clients.

The host serving these submits runs without its queue worker (HTTP blueprints
only), so the steps queue just fills: the figures are the submit path's own,
not shared with step processes on the same two cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bench.fixtures import Api, submit
from bench.floor import FloorSubmit, run_rows
from bench.load import LoadResult, run_load
from bench.report import Row, Section
from bench.stats import Summary, sample


@dataclass
class HttpSubmit:
    client: httpx.Client
    pipeline_id: str

    def __call__(self) -> object:
        return submit(self.client, self.pipeline_id, reuse=True)  # a default submit: reuse keys looked up

    def close(self) -> None:
        self.client.close()


def _checked(result: LoadResult, what: str) -> LoadResult:
    if result.errors:
        raise RuntimeError(f"{what}: {len(result.errors)} calls failed, first: {result.errors[0]!r}")
    return result


def measure(api: Api, pipeline_id: str, concurrency: tuple[int, ...], total: int) -> Section:
    section = Section("2-3. Submit latency (issue 5): POST PipelineSubmit, 1-step pipeline, vs its storage floor")
    with api.client() as client:
        template_run = submit(client, pipeline_id, reuse=True)
        # The host's own round trip: a route it serves itself, no function, no storage.
        keys = f"{api.base_url}/.devissuer/keys"
        round_trip = Summary.of_seconds(sample(lambda: client.get(keys).raise_for_status(), 50, warmup=5))
    section.add(Row("host round trip: GET /.devissuer/keys", round_trip, note="no function, no storage"))
    template: list[dict[str, Any]] = run_rows(api.workspace_name, template_run)
    for clients in concurrency:
        over_http = _checked(
            run_load(lambda: HttpSubmit(api.client(), pipeline_id), clients, total), f"submit x{clients}"
        )
        floor = _checked(
            run_load(lambda: FloorSubmit(api.workspace_name, pipeline_id, template), clients, total),
            f"floor x{clients}",
        )
        lean = _checked(
            run_load(lambda: FloorSubmit(api.workspace_name, pipeline_id, template, lean=True), clients, total),
            f"floor (service's transaction) x{clients}",
        )
        http_s = Summary.of_seconds(over_http.latencies)
        plural = "client" if clients == 1 else "clients"
        section.add(Row(f"submit, {clients} {plural}", http_s, note=f"{over_http.per_second:.0f} submits/s"))
        for label, ratio, result, note in (
            ("storage floor", "submit / floor", floor, " (issue 14's figure)"),
            ("storage floor, the service's transaction writer", "submit / that floor", lean, ""),
        ):
            floor_s = Summary.of_seconds(result.latencies)
            section.add(Row(f"{label}, {clients} {plural}", floor_s, note=f"{result.per_second:.0f} submits/s"))
            section.add(Row(f"{ratio}, {clients} {plural}", value=http_s.p50 / floor_s.p50, unit="x p50",
                            note=f"p99: {http_s.p99 / floor_s.p99:.2f}x{note}"))
    section.notes += [
        "floor = point read of the pipeline row + 1 of the reuse index (a miss) + 3 index upserts side by side"
        " + 1 transaction (run + step rows) + 1 queue send, made bare with the SDKs (issue 14's floor)",
        "the service writes a transaction's multipart body and reads its answer itself (pipelines/store/batch.py),"
        " faster than the SDK's submit_transaction: the second floor makes the same calls that way",
        "the host ran with no queue worker (HTTP functions only): submits do not share the CPU with steps",
    ]
    return section
