"""Uploading files to a datastore through the app (the `Datastore.upload` of the old SDK).

The client sends the bytes to the app, not to storage: locally it has no
storage key, and in Azure the app's identity (not every caller) holds the
data-plane role. One request carries a whole file up to `UPLOAD_REQUEST_BYTES`;
larger files go in parts: each part is staged as an uncommitted block of the
blob, and a last request commits the list, so the app never holds more than
one part in memory and an interrupted upload leaves no half-written file
(Azure drops uncommitted blocks after a week).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from pipelines.data.locations import BlobLocation
from pipelines.data.patterns import GLOB_CHARACTERS, PatternError, check_pattern
from pipelines.errors import AlreadyExistsError, BadRequestError, ConflictError
from pipelines.text import whole_number

# The largest body of one upload request; the client sends 8 MiB parts.
UPLOAD_REQUEST_BYTES = 32 * 1_048_576
PART_BYTES = 8 * 1_048_576
MAX_PARTS = 50_000  # Azure's limit of blocks in one blob
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def check_upload_path(value: Any) -> str:
    """A file's path on a datastore: safe, and free of glob characters (a dataset reads them as globs)."""
    try:
        path = check_pattern(value)
    except PatternError as exc:
        raise BadRequestError(f"path: {exc}", target="path") from None
    if any(character in GLOB_CHARACTERS for character in path):
        raise BadRequestError("an uploaded file's path holds no '*', '?' or '['", target="path")
    return path


def check_upload_id(value: str) -> str:
    if not _UPLOAD_ID.match(value):
        raise BadRequestError("uploadId is 32 lowercase hex digits (a uuid4 hex)", target="uploadId")
    return value


def check_part(value: str, target: str, low: int) -> int:
    number = whole_number(value)
    if number is None or not low <= number <= MAX_PARTS - 1 + low:
        raise BadRequestError(
            f"{target} must be a whole number from {low} to {MAX_PARTS - 1 + low}", target=target
        )
    return number


def _block_id(upload_id: str, part: int) -> str:
    # Every block id of a blob must have the same length: 32 + 6 characters.
    return base64.b64encode(f"{upload_id}{part:06d}".encode()).decode()


def _exists_error(path: str) -> ConflictError:
    return ConflictError(
        f"{path!r} exists on the datastore; upload with overwrite to replace it", target=path
    )


def upload_whole(location: BlobLocation, path: str, data: bytes, *, overwrite: bool) -> None:
    try:
        location.container.write(location.blob_name(path), data, overwrite=overwrite)
    except AlreadyExistsError:
        raise _exists_error(path) from None


def stage_part(
    location: BlobLocation, path: str, upload_id: str, part: int, data: bytes, *, overwrite: bool
) -> None:
    if part == 0 and not overwrite and location.exists(path):
        raise _exists_error(path)  # say so before the client sends every part
    location.container.stage_block(location.blob_name(path), _block_id(upload_id, part), data)


def commit_parts(location: BlobLocation, path: str, upload_id: str, parts: int, *, overwrite: bool) -> int:
    """Make the staged parts 0..parts-1 the blob's content; returns its size."""
    blocks = [_block_id(upload_id, n) for n in range(parts)]
    try:
        return location.container.commit_blocks(location.blob_name(path), blocks, overwrite=overwrite)
    except AlreadyExistsError:
        raise _exists_error(path) from None
    except BadRequestError:
        raise BadRequestError(
            f"parts 0 to {parts - 1} of upload {upload_id} were not all staged", target="parts"
        ) from None
