"""Putting a step's data on the worker's disk before its script starts.

The worker downloads every file of a dataset or datapath input into the
step's `inputs/{name}` folder (there is no mount: a Function app has no FUSE,
and a local copy behaves the same on a laptop, in tests and in Azure). The
cost is the disk: an input must fit the worker's temporary storage.

What to stage is a resolution (`pipelines.data.references`): a registered
dataset pinned at submit (id, version, paths, options), or a datapath.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines.data.datastores import Datastores
from pipelines.data.locations import BlobLocation
from pipelines.data.patterns import PatternError, check_pattern, expand, is_glob
from pipelines.data.references import DataError
from pipelines.runtime.context import StagedInput
from pipelines.store import StorageAccount


class DataStager:
    def __init__(self, account: StorageAccount, workspace: str) -> None:
        self.workspace = workspace
        self.datastores = Datastores(account)

    # -- staging ------------------------------------------------------------------------------------
    def stage(self, resolution: Mapping[str, Any], target: Path) -> StagedInput:
        """Download the input's files into `target`; what the runtime hands the script."""
        if resolution.get("kind") == "datapath":
            sources = [{"datastore": str(resolution["datastore"]), "path": str(resolution["path"])}]
        else:
            sources = [
                {"datastore": str(p["datastore"]), "path": str(p["path"])}
                for p in resolution.get("paths", [])
            ]
        matches: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        locations: dict[str, BlobLocation] = {}
        for source in sources:
            store = self.datastores.find(self.workspace, source["datastore"])
            if store is None:
                raise DataError(
                    f"datastore {source['datastore']!r} is not registered in workspace {self.workspace!r}"
                )
            location = locations.setdefault(store.name, self.datastores.location(store))
            try:
                pattern = check_pattern(source["path"])
            except PatternError as exc:
                raise DataError(str(exc)) from None
            found = expand(pattern, location.exists, location.names_under)
            if not found:
                raise DataError(f"nothing found at {store.name}/{pattern}")
            for path in found:
                if (store.name, path) not in seen:  # two globs may name one file: read it once
                    seen.add((store.name, path))
                    matches.append((store.name, path))
        local = _local_names(matches)
        target.mkdir(parents=True, exist_ok=True)
        root = target.resolve()
        for (store_name, path), relative in zip(matches, local, strict=True):
            destination = (root / relative).resolve()
            if not destination.is_relative_to(root):
                raise DataError(f"{store_name}/{path} would be written outside the input folder")
            destination.parent.mkdir(parents=True, exist_ok=True)
            with open(destination, "wb") as sink:
                locations[store_name].download(path, sink)
        kind = str(resolution.get("kind", "dataset"))
        single_file = (
            kind == "datapath"
            and len(local) == 1
            and not is_glob(sources[0]["path"])
            and matches[0][1] == sources[0]["path"]
        )
        dataset = None
        if kind == "dataset":
            dataset = {k: resolution.get(k) for k in ("id", "name", "version")}
        return StagedInput(
            kind=kind,
            # A datapath has no registered type: the runtime offers the table reading too.
            type=str(resolution.get("type", "tabular")),
            root=str(root),
            path=str(root / local[0]) if single_file else str(root),
            files=local,
            dataset=dataset,
            options=dict(resolution.get("options") or {}),
            sources=sources,
        )


def _local_names(matches: list[tuple[str, str]]) -> list[str]:
    """Each file's path under the input folder: relative to the folder all the files share.

    Files of several datastores keep their datastore's name as the first folder,
    so two blobs never land on one local name.
    """
    stores = {store for store, _ in matches}
    if len(stores) > 1:
        return [f"{store}/{path}" for store, path in matches]
    folders = [posixpath.dirname(path) for _, path in matches]
    base = "" if any(folder == "" for folder in folders) else posixpath.commonpath(folders)
    return [path[len(base) + 1 :] if base else path for _, path in matches]
