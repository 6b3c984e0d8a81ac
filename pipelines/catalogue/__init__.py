"""The catalogue: published pipelines and the endpoints in front of them."""

from __future__ import annotations

from pipelines.catalogue.endpoint_changes import KEEP, EndpointChange, Keep, Version, VersionChange
from pipelines.catalogue.endpoints import Endpoint, Endpoints
from pipelines.catalogue.published import PublishedPipeline, PublishedPipelines, StoredSnapshot
from pipelines.catalogue.targets import ComputeTarget, ComputeTargets, TargetSpec
from pipelines.catalogue.webhooks import Webhook

__all__ = [
    "KEEP",
    "ComputeTarget",
    "ComputeTargets",
    "Endpoint",
    "EndpointChange",
    "Endpoints",
    "Keep",
    "PublishedPipeline",
    "PublishedPipelines",
    "StoredSnapshot",
    "TargetSpec",
    "Version",
    "VersionChange",
    "Webhook",
]
