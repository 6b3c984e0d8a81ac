"""Publish the example pipeline when the local host starts (`make run`).

A newcomer gets something to call at once: `examples/compare` published as
`My_Published_Pipeline` version 1.0, behind the endpoint `compare-endpoint`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.client import Workspace, publish_folder

log = logging.getLogger("pipelines.devhost")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "compare"
ENDPOINT = "compare-endpoint"


def publish_example(base_url: str) -> None:
    workspace = Workspace.from_env(base_url=base_url.rstrip("/") + "/api")
    published, endpoint = publish_folder(
        workspace, EXAMPLE, name="My_Published_Pipeline", version="1.0",
        description="The compare example of the publishing guide", endpoint=ENDPOINT,
    )
    print(f"example pipeline published: id {published.id}")
    print(f"  submit:   POST {published.endpoint}")
    if endpoint is not None:
        print(f"  endpoint: POST {endpoint.endpoint}  (name {endpoint.name!r})")
