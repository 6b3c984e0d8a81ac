"""Blob helpers: the container operations the app makes, with storage errors translated.

Code snapshots, published graphs, step logs (append blobs), step outputs and
datastore files all go through `Blobs`, so the Azure SDK and its exceptions stay
inside `pipelines.store` (see `failures.py`). A missing blob is a
`MissingBlobError`, a write that would replace what it must not an
`AlreadyExistsError`; callers say in their own words what was missing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, cast

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from pipelines.errors import AlreadyExistsError, BadRequestError, NotFoundError
from pipelines.store.failures import translated

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient


class MissingBlobError(NotFoundError):
    """The blob is not there (callers re-raise it with a message of their own)."""


@dataclass(frozen=True)
class BlobInfo:
    name: str
    size: int
    last_modified: datetime | None
    etag: str | None


def _missing(name: str) -> MissingBlobError:
    return MissingBlobError("the file was not found", target=name)


class Blobs:
    """One blob container."""

    def __init__(self, client: ContainerClient) -> None:
        self.client = client

    @property
    def name(self) -> str:
        return str(self.client.container_name)

    @property
    def account_url(self) -> str:
        return str(self.client.url).rsplit("/", 1)[0]

    # -- the container ------------------------------------------------------------------------
    def container_exists(self) -> bool:
        with translated():
            return bool(self.client.exists())

    def create(self) -> bool:
        """Create the container if absent; True when this call created it."""
        with translated():
            try:
                self.client.create_container()
            except ResourceExistsError:
                return False
        return True

    # -- read -------------------------------------------------------------------------------------
    def info(self, name: str) -> BlobInfo | None:
        with translated():
            try:
                properties = self.client.get_blob_client(name).get_blob_properties()
            except ResourceNotFoundError:
                return None
        return BlobInfo(name, int(properties.size), properties.last_modified, properties.etag)

    def exists(self, name: str) -> bool:
        return self.info(name) is not None

    def read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        with translated():
            try:
                window: dict[str, Any] = {} if not offset and length is None else {"offset": offset, "length": length}
                return bytes(self.client.download_blob(name, **window).readall())
            except ResourceNotFoundError:
                raise _missing(name) from None

    def read_into(self, name: str, sink: IO[bytes], *, concurrency: int = 1) -> int:
        with translated():
            try:
                return int(self.client.download_blob(name, max_concurrency=concurrency).readinto(sink))
            except ResourceNotFoundError:
                raise _missing(name) from None

    def listing(self, prefix: str) -> Iterator[BlobInfo]:
        """Every blob whose name starts with `prefix`, by name (pages fetched as iterated)."""
        with translated():
            for blob in self.client.list_blobs(name_starts_with=prefix):
                yield BlobInfo(blob.name, int(blob.size or 0), blob.last_modified, blob.etag)

    def page(self, prefix: str, page_size: int, marker: str | None) -> tuple[list[BlobInfo], str | None]:
        """One page of `listing`, and the marker of the next (None at the end). A marker storage
        does not know is a `BadRequestError`."""
        pages = self.client.list_blobs(name_starts_with=prefix, results_per_page=page_size).by_page(
            continuation_token=marker
        )
        with translated():
            try:
                found = [BlobInfo(b.name, int(b.size or 0), b.last_modified, b.etag) for b in next(pages)]
            except StopIteration:
                found = []
            except HttpResponseError as exc:
                if exc.status_code != 400:
                    raise
                raise BadRequestError("continuationToken is not one this service issued",
                                      target="continuationToken") from None
        return found, cast(Any, pages).continuation_token or None

    # -- write ------------------------------------------------------------------------------------
    def write(self, name: str, data: bytes | IO[bytes], *, length: int | None = None, overwrite: bool) -> None:
        """Upload a whole blob; without `overwrite`, an existing one is an `AlreadyExistsError`."""
        with translated():
            try:
                self.client.upload_blob(name, data, length=length, overwrite=overwrite)
            except ResourceExistsError:
                raise AlreadyExistsError("the file exists", target=name) from None

    def delete(self, name: str) -> None:
        """Delete a blob; one that is already gone is fine."""
        with translated(), contextlib.suppress(ResourceNotFoundError):
            self.client.delete_blob(name)

    def delete_under(self, prefix: str) -> int:
        names = [blob.name for blob in self.listing(prefix)]
        for name in names:
            self.delete(name)
        return len(names)

    # -- blocks: a file uploaded in parts -----------------------------------------------------------
    def stage_block(self, name: str, block_id: str, data: bytes) -> None:
        with translated():
            self.client.get_blob_client(name).stage_block(block_id, data)

    def commit_blocks(self, name: str, block_ids: Iterable[str], *, overwrite: bool) -> int:
        """Make the staged blocks the blob's content; returns its size. Without `overwrite`,
        an existing blob is an `AlreadyExistsError`; blocks that were never staged are a
        `BadRequestError`."""
        from azure.storage.blob import BlobBlock  # loaded with the account (see pipelines.store.account)

        blob = self.client.get_blob_client(name)
        conditions: dict[str, Any] = {} if overwrite else {"match_condition": MatchConditions.IfMissing}
        with translated():
            try:
                blob.commit_block_list([BlobBlock(block_id) for block_id in block_ids], **conditions)
            except (ResourceExistsError, ResourceModifiedError):
                raise AlreadyExistsError("the file exists", target=name) from None
            except HttpResponseError as exc:
                if exc.status_code != 400:
                    raise
                raise BadRequestError("some parts of the upload were not staged", target="parts") from None
            return int(blob.get_blob_properties().size)

    # -- append blobs: logs written while a step runs ---------------------------------------------------
    def create_append(self, name: str) -> None:
        """Create an empty append blob unless it exists."""
        with translated(), contextlib.suppress(ResourceExistsError, ResourceModifiedError):
            self.client.get_blob_client(name).create_append_blob(match_condition=MatchConditions.IfMissing)

    def append(self, name: str, data: bytes) -> None:
        with translated():
            self.client.get_blob_client(name).append_block(data)
