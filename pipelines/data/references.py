"""One place that turns a data reference into what a run records and a step stages.

A reference names a registered dataset (by id, or by name and version, "the
latest" when no version is given) or a path on a datastore. Three callers need
it resolved, and all go through `References`:

- a submit, for `DataSetDefinitionValueAssignments` and `DataPathAssignments`
  (`pipelines.runs.data` parses the wire forms, then asks here);
- a submit again, for the data parameters the request left at their published
  default (pinned then, so a version registered later changes nothing);
- the worker, for a step's fixed data input or a value recorded on the run.

What it answers is a *resolution*: `{"kind": "datapath", "datastore", "path"}`
or a dataset's `resolution()` (id, name, version, type, paths, options). A
reference that resolves to nothing is a `DataError` saying what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipelines.data.datasets import MAX_VERSION, Dataset, Datasets
from pipelines.data.datastores import Datastores
from pipelines.errors import BadRequestError
from pipelines.store import StorageAccount
from pipelines.text import whole_number


def parse_version(value: object, target: str = "Version") -> int | None:
    """A dataset's version as a reference holds it: JSON recorded on a run or in a definition, a
    submit's `DataSetReference`, a query string ("3", 3); None, "" and "latest" mean the latest."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "latest")):
        return None
    if isinstance(value, str) and whole_number(value) is not None:
        value = whole_number(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VERSION:
        raise BadRequestError(f"a dataset version is a whole number from 1, not {value!r}", target=target)
    return value


class DataError(Exception):
    """A data reference names nothing registered, or data cannot be found or read."""


class DatasetNotFound(DataError):
    """A dataset reference names no registered dataset (or no such version of it)."""


class References:
    def __init__(self, account: StorageAccount, workspace: str) -> None:
        self.workspace = workspace
        self.datastores = Datastores(account)
        self.datasets = Datasets(account)

    def datapath(self, datastore: str, path: str) -> dict[str, str]:
        if self.datastores.find(self.workspace, datastore) is None:
            raise DataError(f"datastore {datastore!r} is not registered in workspace {self.workspace!r}")
        return {"kind": "datapath", "datastore": datastore, "path": path}

    def dataset(
        self, *, dataset_id: str | None = None, name: str | None = None, version: Any = None,
        as_of: datetime | None = None,
    ) -> dict[str, Any]:
        """By id, or by name and version; without a version the latest, registered up to
        `as_of` when given (a run's default is the newest version when the run was created)."""
        found: Dataset | None
        try:
            number = parse_version(version)
        except BadRequestError as exc:
            raise DataError(exc.message) from None
        if dataset_id:
            found = self.datasets.find(self.workspace, dataset_id)
            if found is None:
                raise DatasetNotFound(f"dataset {dataset_id!r} is not registered in workspace {self.workspace!r}")
            if name and name != found.name:
                raise DataError(f"dataset {dataset_id!r} is named {found.name!r}, not {name!r}")
            if number is not None and number != found.version:
                raise DataError(f"dataset {dataset_id!r} is version {found.version} of {found.name!r}, not {number}")
            return self._readable(found)
        if not name:
            raise DataError("a dataset is named by its Id, or by its Name (and a Version)")
        if number is None and as_of is not None:
            found = self.datasets.latest_as_of(self.workspace, name, as_of)
        else:
            found = self.datasets.find_by_name(self.workspace, name, number)
        if found is None:
            what = f"dataset {name!r}" + (f" version {number}" if number is not None else "")
            raise DatasetNotFound(f"{what} is not registered in workspace {self.workspace!r}")
        return self._readable(found)

    def _readable(self, dataset: Dataset) -> dict[str, Any]:
        """The dataset's resolution, once each datastore it reads is still registered (a datastore
        removed after the dataset was registered would fail the run's steps at staging)."""
        for store in sorted({p.datastore for p in dataset.paths}):
            if self.datastores.find(self.workspace, store) is None:
                raise DataError(
                    f"dataset {dataset.name!r} version {dataset.version} reads datastore {store!r},"
                    f" which is no longer registered in workspace {self.workspace!r}"
                )
        return dataset.resolution()

    def recorded(self, value: Mapping[str, Any], *, as_of: datetime | None) -> dict[str, Any]:
        """A value as a run records it or a definition holds it (a pinned resolution, a
        datapath, or a dataset by id or name), as a resolution."""
        if value.get("kind") == "dataset" and "paths" in value:
            return dict(value)  # pinned at submit
        if "datastore" in value and "path" in value:
            return {"kind": "datapath", "datastore": str(value["datastore"]), "path": str(value["path"])}
        dataset_id, name = value.get("id"), value.get("name")
        if not dataset_id and not name:
            raise DataError(f"the value {dict(value)!r} names no dataset and no datapath")
        return self.dataset(
            dataset_id=str(dataset_id) if dataset_id else None, name=str(name) if name else None,
            version=value.get("version"), as_of=as_of,
        )
