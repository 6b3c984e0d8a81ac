"""Data assignments of a run: datapaths on datastores, and datasets.

A run may point a datapath parameter at another blob path
(`DataPathAssignments`) or a dataset parameter at another dataset
(`DataSetDefinitionValueAssignments`) without republishing. This module checks
and resolves those references; what it returns is recorded on the run, so
the run keeps reading what it was given whatever is registered later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.authoring.paths import UnsafePathError
from pipelines.authoring.paths import safe_relative_path as _checked_path
from pipelines.data.datastores import DEFAULT_DATASTORE, NAME, Datastores
from pipelines.errors import BadRequestError
from pipelines.runs.datasets import lookup_dataset
from pipelines.store import StorageAccount

__all__ = ["DEFAULT_DATASTORE", "resolve_datapath", "resolve_dataset", "safe_relative_path"]


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
    if not isinstance(value, Mapping):
        raise BadRequestError(f'{name!r} must be {{"DataStoreName": ..., "RelativePath": ...}}', target=name)
    lowered = _lowered(value)
    store = lowered.get("datastorename")
    if not isinstance(store, str) or not NAME.match(store):
        raise BadRequestError(f"{name!r}: DataStoreName must name a datastore", target=name)
    path = safe_relative_path(lowered.get("relativepath"), target=name)
    if Datastores(account).find(workspace, store) is None:
        raise BadRequestError(
            f"{name!r}: datastore {store!r} is not registered in this workspace", target=name
        )
    return {"datastore": store, "path": path}


def resolve_dataset(
    account: StorageAccount, workspace: str, name: str, param_type: str, value: Any
) -> dict[str, Any]:
    if not isinstance(value, Mapping) or len(value) != 1:
        raise BadRequestError(
            f"{name!r} must hold one of SavedDataSetReference, DataSetReference, LiteralValue", target=name
        )
    ((form, reference),) = value.items()
    form_lower = str(form).lower()
    if form_lower == "literalvalue":
        return {"kind": "datapath", **resolve_datapath(account, workspace, name, param_type, reference)}
    if form_lower in ("saveddatasetreference", "datasetreference"):
        if param_type != "dataset":
            raise BadRequestError(
                f"{name!r} is a datapath parameter: give it a LiteralValue, not a {form}", target=name
            )
        if not isinstance(reference, Mapping):
            raise BadRequestError(f"{name!r}: {form} must be an object", target=name)
        return lookup_dataset(
            account, workspace, name, _lowered(reference), saved=form_lower == "saveddatasetreference"
        )
    raise BadRequestError(
        f"{name!r}: {form!r} is not SavedDataSetReference, DataSetReference or LiteralValue", target=name
    )
