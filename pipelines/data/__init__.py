"""Data of a workspace: datastores (named blob containers) and registered datasets.

Pure storage logic, no HTTP: the routes are in `pipelines.api.data`, what a
run resolves at submit in `pipelines.runs.data`, what a step gets on disk in
`pipelines.data.staging`.
"""

from __future__ import annotations

from pipelines.data.datasets import DATASET_TYPES, DataPathRef, Dataset, Datasets, DatasetType
from pipelines.data.datastores import DEFAULT_DATASTORE, Datastore, Datastores
from pipelines.data.locations import BlobLocation
from pipelines.data.references import parse_version
from pipelines.data.tabular import TabularOptions

__all__ = [
    "DATASET_TYPES",
    "DEFAULT_DATASTORE",
    "BlobLocation",
    "DataPathRef",
    "Dataset",
    "DatasetType",
    "Datasets",
    "Datastore",
    "Datastores",
    "TabularOptions",
    "parse_version",
]
