"""Dataset references of a run. The registry of datasets is its own issue (#6):
until it lands no dataset is registered, so every reference is unknown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.errors import BadRequestError
from pipelines.store import StorageAccount


def lookup_dataset(account: StorageAccount, workspace: str, name: str, reference: Mapping[str, Any]) -> dict[str, Any]:
    wanted = reference.get("Id") or reference.get("id") or reference.get("Name") or reference.get("name")
    raise BadRequestError(f"{name!r}: dataset {wanted!r} is not registered in this workspace", target=name)
