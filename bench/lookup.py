"""Figure 1 (issue 4): resolving an endpoint's default version, with 10 and 10,000 pipelines.

The catalogue is grown by inserting copies of one really published pipeline
row straight into its table, 100 rows per entity-group transaction (one
partition per workspace), instead of publishing 10,000 times over HTTP. Every
copy points at the same graph and snapshot, as a republished pipeline would.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from bench.fixtures import Api
from bench.report import Row, Section
from bench.stats import Summary, sample
from pipelines.catalogue import Endpoints, PublishedPipelines
from pipelines.store import get_account

BATCH = 100


class Catalogue:
    """The workspace's Pipelines partition, grown by direct inserts."""

    def __init__(self, workspace: str, template_id: str) -> None:
        self.workspace = workspace
        self.pipelines = PublishedPipelines(get_account())
        self.endpoints = Endpoints(get_account(), self.pipelines)
        template = self.pipelines.table.get(workspace, template_id)
        assert template is not None, "the published template pipeline is missing"
        self.template: dict[str, Any] = dict(template)
        self.size = len(self.pipelines.table.query_all("PartitionKey eq @ws", parameters={"ws": workspace}))

    def grow_to(self, total: int) -> None:
        while self.size < total:
            count = min(BATCH, total - self.size)
            rows = [
                {**self.template, "RowKey": str(uuid.uuid4()), "Name": f"bench-copy-{self.size + i}"}
                for i in range(count)
            ]
            self.pipelines.table.client.submit_transaction([("create", row) for row in rows])
            self.size += count

    def resolve_default(self, endpoint_name: str) -> Callable[[], object]:
        """What a submit by endpoint name does before it writes: three point reads."""

        def call() -> object:
            endpoint = self.endpoints.get_by_name(self.workspace, endpoint_name)
            version = endpoint.pipeline_for(None)
            return self.pipelines.get(self.workspace, version.pipeline_id)

        return call


def measure(api: Api, template_id: str, endpoint_name: str, sizes: tuple[int, ...], samples: int) -> Section:
    section = Section("1. Endpoint lookup: resolve the default version (issue 4)")
    catalogue = Catalogue(api.workspace_name, template_id)
    with api.client() as client:

        def over_http() -> object:
            response = client.get("/PipelineEndpoints/Name", params={"Name": endpoint_name})
            response.raise_for_status()
            return response

        for size in sizes:
            catalogue.grow_to(size)
            http = Summary.of_seconds(sample(over_http, samples, warmup=20))
            bare = Summary.of_seconds(sample(catalogue.resolve_default(endpoint_name), samples, warmup=20))
            section.add(Row(f"GET PipelineEndpoints/Name, {size:,} pipelines", http))
            section.add(Row(f"service: by name + default + pipeline, {size:,} pipelines", bare))
    section.notes.append(
        "HTTP: token check + 2 point reads (name index row, endpoint row); "
        "service: Endpoints.get_by_name + pipeline_for(None) + PublishedPipelines.get = 3 point reads, no HTTP"
    )
    return section
