"""Publish the example pipeline when the local host starts (`make run`).

A newcomer gets something to call at once: `examples/compare` published as
`My_Published_Pipeline` version 1.0, behind the endpoint `compare-endpoint`.
With data kept between runs (`--azurite-location`), an endpoint whose default
version already runs this very graph is reused rather than given a copy.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.client import PipelineEndpoint, ServiceError, Workspace, load_pipeline, publish_folder

log = logging.getLogger("pipelines.devhost")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "compare"
ENDPOINT = "compare-endpoint"


def _already_published(workspace: Workspace) -> PipelineEndpoint | None:
    from pipelines.catalogue.published import graph_id_of

    try:
        endpoint = PipelineEndpoint.get(workspace, name=ENDPOINT)
    except ServiceError as error:
        if error.status == 404:
            return None
        raise
    graph = graph_id_of(load_pipeline(EXAMPLE).to_definition())
    return endpoint if endpoint.get_pipeline().entity.get("GraphId") == graph else None


def publish_example(base_url: str) -> None:
    workspace = Workspace.from_env(base_url=base_url.rstrip("/"))
    endpoint = _already_published(workspace)
    if endpoint is not None:
        published = endpoint.get_pipeline()
        print(f"example pipeline already published: id {published.id}")
    else:
        published, endpoint = publish_folder(
            workspace, EXAMPLE, name="My_Published_Pipeline", version="1.0",
            description="The compare example of the publishing guide", endpoint=ENDPOINT,
        )
        print(f"example pipeline published: id {published.id}")
    print(f"  submit:   POST {published.endpoint}")
    if endpoint is not None:
        print(f"  endpoint: POST {endpoint.endpoint}  (name {endpoint.name!r})")
