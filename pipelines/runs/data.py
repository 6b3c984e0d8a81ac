"""Data assignments of a run: datapaths on datastores, and datasets.

A run may point a datapath parameter at another blob path
(`DataPathAssignments`) or a dataset parameter at another dataset
(`DataSetDefinitionValueAssignments`) without republishing. This module reads
those wire forms and resolves them with `pipelines.data.references` (the one
resolver); what it returns is recorded on the run, so the run keeps reading what
it was given whatever is registered later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from pipelines.authoring.definition import InputSpec, PipelineDefinition
from pipelines.authoring.paths import UnsafePathError
from pipelines.authoring.paths import safe_relative_path as _checked_path
from pipelines.data.datastores import DEFAULT_DATASTORE, NAME
from pipelines.data.references import DataError, DatasetNotFound, References
from pipelines.errors import BadRequestError, NotFoundError
from pipelines.store import StorageAccount

if TYPE_CHECKING:
    from pipelines.runs.model import Run

__all__ = [
    "DEFAULT_DATASTORE", "as_assignments", "input_value", "resolve_datapath", "resolve_dataset", "safe_relative_path",
]


def safe_relative_path(value: Any, *, target: str) -> str:
    """A path inside a datastore, by the package's one rule (`pipelines.authoring.paths`)."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError("RelativePath must be a non-empty string", target=target)
    try:
        return _checked_path(value)
    except UnsafePathError as exc:
        raise BadRequestError(f"RelativePath: {exc}", target=target) from None


def _lowered(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in value.items()}


def resolve_datapath(
    account: StorageAccount, workspace: str, name: str, param_type: str, value: Any
) -> dict[str, str]:
    """`{"DataStoreName", "RelativePath"}` (keys in any case): a path on a registered datastore."""
    if not isinstance(value, Mapping):
        raise BadRequestError(f'{name!r} must be {{"DataStoreName": ..., "RelativePath": ...}}', target=name)
    lowered = _lowered(value)
    store = lowered.get("datastorename")
    if not isinstance(store, str) or not NAME.match(store):
        raise BadRequestError(f"{name!r}: DataStoreName must name a datastore", target=name)
    path = safe_relative_path(lowered.get("relativepath"), target=name)
    try:
        References(account, workspace).datapath(store, path)
    except DataError as exc:
        raise BadRequestError(f"{name!r}: {exc}", target=name) from None
    return {"datastore": store, "path": path}


def resolve_dataset(
    account: StorageAccount, workspace: str, name: str, param_type: str, value: Any
) -> dict[str, Any]:
    """One of `SavedDataSetReference {Id}`, `DataSetReference {Id | Name, Version}`,
    `LiteralValue {DataStoreName, RelativePath}`: what the run records."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise BadRequestError(
            f"{name!r} must hold one of SavedDataSetReference, DataSetReference, LiteralValue", target=name
        )
    ((form, reference),) = value.items()
    form_lower = str(form).lower()
    if form_lower == "literalvalue":
        return {"kind": "datapath", **resolve_datapath(account, workspace, name, param_type, reference)}
    if form_lower not in ("saveddatasetreference", "datasetreference"):
        raise BadRequestError(
            f"{name!r}: {form!r} is not SavedDataSetReference, DataSetReference or LiteralValue", target=name
        )
    if param_type != "dataset":
        raise BadRequestError(f"{name!r} is a datapath parameter: give it a LiteralValue, not a {form}", target=name)
    if not isinstance(reference, Mapping):
        raise BadRequestError(f"{name!r}: {form} must be an object", target=name)
    lowered = _lowered(reference)
    dataset_id, dataset_name = lowered.get("id"), lowered.get("name")
    for key, item in (("Id", dataset_id), ("Name", dataset_name)):
        if item is not None and not isinstance(item, str):
            raise BadRequestError(f"{name!r}: {key} must be a string", target=name)
    if form_lower == "saveddatasetreference" and not dataset_id:
        raise BadRequestError(f"{name!r}: SavedDataSetReference needs the dataset's Id", target=name)
    try:
        return References(account, workspace).dataset(
            dataset_id=dataset_id or None, name=dataset_name or None, version=lowered.get("version")
        )
    except DatasetNotFound as exc:
        raise NotFoundError(f"{name!r}: {exc}", target=name) from None  # docs/contract.md §4: 404
    except DataError as exc:
        raise BadRequestError(f"{name!r}: {exc}", target=name) from None


def input_value(run: Run, definition: PipelineDefinition, spec: InputSpec) -> dict[str, Any]:
    """What a data input reads in `run`: the value the run recorded for its parameter, else the
    published default, or the input's fixed value (a reference for `References.recorded`)."""
    if spec.parameter is not None:
        assigned = run.datapath_assignments.get(spec.parameter) or run.data_assignments.get(spec.parameter)
        if assigned:
            return dict(assigned)
        default = next((p.default for p in definition.parameters if p.name == spec.parameter), None)
        return default.model_dump() if isinstance(default, BaseModel) else {}
    return spec.fixed.model_dump() if spec.fixed is not None else {}


def as_assignments(run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's recorded data as a submit would assign it (`DataPathAssignments`,
    `DataSetDefinitionValueAssignments`): a dataset by its id (a registration never changes),
    a path as a path. Submitted again, they resolve to what the run recorded."""
    datapaths = {
        name: {"DataStoreName": value["datastore"], "RelativePath": value["path"]}
        for name, value in run.datapath_assignments.items()
    }
    datasets: dict[str, Any] = {}
    for name, value in run.data_assignments.items():
        if value.get("kind") == "dataset":
            datasets[name] = {"SavedDataSetReference": {"Id": value["id"]}}
        else:
            datasets[name] = {"LiteralValue": {"DataStoreName": value["datastore"], "RelativePath": value["path"]}}
    return datapaths, datasets
