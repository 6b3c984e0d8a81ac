"""Python client of the service, named after Azure ML SDK v1 where that helps migration."""

from __future__ import annotations

from pipelines.client.data import Dataset, Datastore, FileDataset, TabularDataset
from pipelines.client.entities import PipelineEndpoint, PipelineRun, PublishedPipeline
from pipelines.client.history import Experiment, HistoryRun, PortDataReference, StepRun
from pipelines.client.publish import load_pipeline, publish, publish_folder
from pipelines.client.workspace import ServiceError, Workspace

__all__ = [
    "Dataset",
    "Datastore",
    "Experiment",
    "HistoryRun",
    "FileDataset",
    "PipelineEndpoint",
    "PipelineRun",
    "PortDataReference",
    "PublishedPipeline",
    "ServiceError",
    "StepRun",
    "TabularDataset",
    "Workspace",
    "load_pipeline",
    "publish",
    "publish_folder",
]
