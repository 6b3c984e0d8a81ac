"""Where a datastore's bytes are: a blob container, and a folder inside it.

Every read and write of datastore data goes through a `BlobLocation`, so the
folder that keeps workspaces apart in the shared `workspaceblobstore`
container is added in one place and never forgotten.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from azure.storage.blob import BlobClient, ContainerClient


@dataclass(frozen=True)
class BlobLocation:
    container: ContainerClient
    # "" for a container of its own, "{workspace}/" for workspaceblobstore.
    prefix: str = ""

    def blob_name(self, path: str) -> str:
        return self.prefix + path

    def blob(self, path: str) -> BlobClient:
        return self.container.get_blob_client(self.blob_name(path))

    def exists(self, path: str) -> bool:
        return bool(self.blob(path).exists())

    def names_under(self, prefix: str) -> Iterator[str]:
        """Datastore paths (without this location's folder) that start with `prefix`."""
        for item in self.container.list_blobs(name_starts_with=self.prefix + prefix):
            yield item.name[len(self.prefix) :]

    def download(self, path: str, sink: IO[bytes]) -> int:
        return int(self.container.download_blob(self.blob_name(path), max_concurrency=4).readinto(sink))


@functools.lru_cache(maxsize=4)
def managed_identity(client_id: str | None) -> Any:
    """One credential per process: it caches its tokens, so build it once."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id)


def remote_container(account_url: str, container: str, client_id: str | None) -> ContainerClient:
    """A container of another account, reached with the app's identity (no key, no SAS stored).

    Locally `DefaultAzureCredential` falls back to the developer's login
    (Azure CLI, VS Code); in Azure it is the app's managed identity, which
    needs `Storage Blob Data Reader` (or Contributor, to upload) on that account.
    """
    return ContainerClient(
        account_url=account_url, container_name=container, credential=managed_identity(client_id)
    )
