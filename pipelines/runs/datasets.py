"""Dataset references of a run, resolved against the registry at submit.

`SavedDataSetReference {Id}` and `DataSetReference {Id}` name one
registration; `DataSetReference {Name, Version}` a version of a name, the
latest when `Version` is absent. What the run records is the registration
itself (id, version, paths, options): registering a new version later changes
nothing for this run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.data.datasets import Dataset, Datasets, parse_version
from pipelines.errors import BadRequestError
from pipelines.store import StorageAccount


def lookup_dataset(
    account: StorageAccount, workspace: str, name: str, reference: Mapping[str, Any], *, saved: bool = False
) -> dict[str, Any]:
    """`reference` has lowercased keys (`id`, `name`, `version`)."""
    dataset_id = reference.get("id")
    dataset_name = reference.get("name")
    for key, value in (("Id", dataset_id), ("Name", dataset_name)):
        if value is not None and not isinstance(value, str):
            raise BadRequestError(f"{name!r}: {key} must be a string", target=name)
    registry = Datasets(account)
    found: Dataset | None
    if dataset_id:
        found = registry.find(workspace, dataset_id)
        if found is None:
            raise BadRequestError(
                f"{name!r}: dataset {dataset_id!r} is not registered in this workspace", target=name
            )
        if dataset_name and dataset_name != found.name:
            raise BadRequestError(
                f"{name!r}: dataset {dataset_id!r} is named {found.name!r}, not {dataset_name!r}", target=name
            )
        return found.resolution()
    if saved:
        raise BadRequestError(f"{name!r}: SavedDataSetReference needs the dataset's Id", target=name)
    if not dataset_name:
        raise BadRequestError(
            f"{name!r}: DataSetReference needs an Id, or a Name (and a Version)", target=name
        )
    try:
        version = parse_version(reference.get("version"))
    except BadRequestError as exc:
        raise BadRequestError(f"{name!r}: {exc.message}", target=name) from None
    found = registry.find_by_name(workspace, dataset_name, version)
    if found is None:
        what = f"dataset {dataset_name!r}" + (f" version {version}" if version is not None else "")
        raise BadRequestError(f"{name!r}: {what} is not registered in this workspace", target=name)
    return found.resolution()
