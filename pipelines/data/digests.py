"""The content digest of what a data reference resolves to, for a step's reuse key.

A dataset or a datapath names files on datastores (paths, folders, globs). Its digest
is a sha256 over what it resolves to at that moment: its kind, a dataset's type and
reading options (they change what the step reads), and for each file its datastore,
path, size and ETag.

Why the ETag and not the bytes: Blob storage gives a blob a new ETag on every write
and never gives an old one back, so an unchanged ETag proves the bytes unchanged, and
listing a folder costs one call however large its files are, where hashing them would
download every input at every submit. A file written again with the same bytes gets a
new ETag: a new digest, so the steps that read it run again (never a wrong reuse).
Content-MD5 is not used: a blob committed from blocks (the client's uploads over
8 MiB) has none.

What can still slip through: a file added under a folder or glob and removed again
between the moment a step's key is computed and the moment its inputs are staged (a
few milliseconds before it starts) leaves the listing as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pipelines.data.datastores import Datastores
from pipelines.data.locations import BlobLocation
from pipelines.data.patterns import PatternError, check_pattern, matching
from pipelines.data.references import DataError
from pipelines.store import StorageAccount


def sources_of(resolution: Mapping[str, Any]) -> list[dict[str, str]]:
    """The (datastore, path) pairs a resolution reads: a datapath's one, or a dataset's paths."""
    if resolution.get("kind") == "datapath":
        return [{"datastore": str(resolution["datastore"]), "path": str(resolution["path"])}]
    return [{"datastore": str(p["datastore"]), "path": str(p["path"])} for p in resolution.get("paths", [])]


def content_digest(resolution: Mapping[str, Any], files: list[tuple[str, str, int, str]]) -> str:
    """The digest of a resolution whose files are (datastore, path, size, etag)."""
    document = {
        "kind": str(resolution.get("kind", "dataset")),
        "type": resolution.get("type"),
        "options": dict(resolution.get("options") or {}),
        "files": sorted({f"{store}\t{path}\t{size}\t{etag}" for store, path, size, etag in files}),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


class DataDigests:
    """Digests of resolutions in one workspace (each datastore looked up once)."""

    def __init__(self, account: StorageAccount, workspace: str) -> None:
        self.workspace = workspace
        self.datastores = Datastores(account)
        self._locations: dict[str, BlobLocation] = {}

    def digest(self, resolution: Mapping[str, Any]) -> str:
        """DataError when a datastore is not registered or a path is malformed."""
        files: list[tuple[str, str, int, str]] = []
        for source in sources_of(resolution):
            location = self._location(source["datastore"])
            try:
                pattern = check_pattern(source["path"])
            except PatternError as exc:
                raise DataError(str(exc)) from None
            for path, blob in matching(pattern, location.info, location.blobs_under):
                files.append((source["datastore"], path, blob.size, blob.etag or ""))
        return content_digest(resolution, files)

    def _location(self, name: str) -> BlobLocation:
        if name not in self._locations:
            store = self.datastores.find(self.workspace, name)
            if store is None:
                raise DataError(f"datastore {name!r} is not registered in workspace {self.workspace!r}")
            self._locations[name] = self.datastores.location(store)
        return self._locations[name]
