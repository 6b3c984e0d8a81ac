"""Python client of the service, named after Azure ML SDK v1 where that helps migration."""

from __future__ import annotations

from pipelines.client.entities import PipelineEndpoint, PipelineRun, PublishedPipeline
from pipelines.client.publish import load_pipeline, publish, publish_folder
from pipelines.client.workspace import ServiceError, Workspace

__all__ = [
    "PipelineEndpoint",
    "PipelineRun",
    "PublishedPipeline",
    "ServiceError",
    "Workspace",
    "load_pipeline",
    "publish",
    "publish_folder",
]
