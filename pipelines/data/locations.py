"""Where a datastore's bytes are: a blob container, and a folder inside it.

Every read and write of datastore data goes through a `BlobLocation`, so the
folder that keeps workspaces apart in the shared `workspaceblobstore`
container is added in one place and never forgotten.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from pipelines.store import BlobInfo, Blobs


@dataclass(frozen=True)
class BlobLocation:
    container: Blobs
    # "" for a container of its own, "{workspace}/" for workspaceblobstore.
    prefix: str = ""

    def blob_name(self, path: str) -> str:
        return self.prefix + path

    def exists(self, path: str) -> bool:
        return self.container.exists(self.blob_name(path))

    def names_under(self, prefix: str) -> Iterator[str]:
        """Datastore paths (without this location's folder) that start with `prefix`."""
        for item in self.container.listing(self.prefix + prefix):
            yield item.name[len(self.prefix) :]

    def info(self, path: str) -> BlobInfo | None:
        """The blob at a datastore path (its size and ETag), or None."""
        return self.container.info(self.blob_name(path))

    def blobs_under(self, prefix: str) -> Iterator[tuple[str, BlobInfo]]:
        """(datastore path, blob) of each blob whose path starts with `prefix`."""
        for item in self.container.listing(self.prefix + prefix):
            yield item.name[len(self.prefix) :], item

    def download(self, path: str, sink: IO[bytes]) -> int:
        return self.container.read_into(self.blob_name(path), sink, concurrency=4)
