"""Data assignments of a run: datapaths on datastores, and datasets.

A run may point a datapath parameter at another blob path
(`DataPathAssignments`) or a dataset parameter at another dataset
(`DataSetDefinitionValueAssignments`) without republishing. This module checks
and resolves those references; what it returns is recorded on the run.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from pipelines.errors import BadRequestError
from pipelines.store import StorageAccount

DEFAULT_DATASTORE = "workspaceblobstore"
_DATASTORE = re.compile(r"^[A-Za-z0-9_]{1,255}$")


def safe_relative_path(value: Any, *, target: str) -> str:
    """A path inside a datastore: relative, no `..`, no tricks hidden by URL encoding."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError("RelativePath must be a non-empty string", target=target)
    decoded = value
    for _ in range(3):  # %252e%252e decodes twice
        decoded = unquote(decoded)
    if "\\" in decoded or "\x00" in decoded or re.match(r"^[A-Za-z]:", decoded) or "://" in decoded:
        raise BadRequestError(f"RelativePath {value!r} is not a relative path", target=target)
    if decoded.startswith("/") or any(part == ".." for part in decoded.split("/")):
        raise BadRequestError(f"RelativePath {value!r} escapes the datastore", target=target)
    normal = posixpath.normpath(decoded)
    if normal in (".", "") :
        raise BadRequestError(f"RelativePath {value!r} names no file or folder", target=target)
    return normal


def known_datastores(account: StorageAccount, workspace: str) -> set[str]:
    return {DEFAULT_DATASTORE}


def resolve_datapath(account: StorageAccount, workspace: str, name: str, param_type: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise BadRequestError(f"{name!r} must be {{\"DataStoreName\": ..., \"RelativePath\": ...}}", target=name)
    lowered = {str(k).lower(): v for k, v in value.items()}
    store = lowered.get("datastorename")
    if not isinstance(store, str) or not _DATASTORE.match(store):
        raise BadRequestError(f"{name!r}: DataStoreName must name a datastore", target=name)
    if store not in known_datastores(account, workspace):
        raise BadRequestError(f"{name!r}: datastore {store!r} is not registered in this workspace", target=name)
    path = safe_relative_path(lowered.get("relativepath"), target=name)
    return {"datastore": store, "path": path}


def resolve_dataset(account: StorageAccount, workspace: str, name: str, param_type: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or len(value) != 1:
        raise BadRequestError(
            f"{name!r} must hold one of SavedDataSetReference, DataSetReference, LiteralValue", target=name
        )
    (form, reference), = value.items()
    form_lower = str(form).lower()
    if form_lower == "literalvalue":
        return {"kind": "datapath", **resolve_datapath(account, workspace, name, param_type, reference)}
    if form_lower in ("saveddatasetreference", "datasetreference"):
        if not isinstance(reference, Mapping):
            raise BadRequestError(f"{name!r}: {form} must be an object", target=name)
        from pipelines.runs.datasets import lookup_dataset

        return lookup_dataset(account, workspace, name, reference)
    raise BadRequestError(
        f"{name!r}: {form!r} is not SavedDataSetReference, DataSetReference or LiteralValue", target=name
    )
