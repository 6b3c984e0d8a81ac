"""Python client of the service, named after Azure ML SDK v1 where that helps migration
(docs/sdk-v1.md lists what maps to what)."""

from __future__ import annotations

from pipelines.client.automation import EventTrigger, Schedule, ScheduleRecurrence, UnsupportedError
from pipelines.client.data import Dataset, Datastore, FileDataset, TabularDataset
from pipelines.client.entities import PipelineEndpoint, PipelineRun, PublishedPipeline, RunFailedError
from pipelines.client.experiment import Experiment
from pipelines.client.history import HistoryRun, PortDataReference, StepRun
from pipelines.client.publish import PipelineFolderError, load_pipeline, publish, publish_folder
from pipelines.client.targets import ComputeTarget
from pipelines.client.workspace import ServiceError, Workspace

__all__ = [
    "ComputeTarget",
    "Dataset",
    "Datastore",
    "EventTrigger",
    "Experiment",
    "FileDataset",
    "HistoryRun",
    "PipelineEndpoint",
    "PipelineFolderError",
    "PipelineRun",
    "PortDataReference",
    "PublishedPipeline",
    "RunFailedError",
    "Schedule",
    "ScheduleRecurrence",
    "ServiceError",
    "StepRun",
    "TabularDataset",
    "UnsupportedError",
    "Workspace",
    "load_pipeline",
    "publish",
    "publish_folder",
]
