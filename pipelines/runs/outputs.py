"""A step's outputs in Blob storage, read back: list an output's files, read their bytes.

The worker uploads each output folder under
`runs/{workspace}/{run id}/{node id}/outputs/{output}/` (see `logs.output_prefix`)
once the script exits 0, and records what it holds (`OutputSummary`). Callers
read them through the app with their own token: in Azure only the app's identity
holds a storage role. An answer carries at most `MAX_PART` bytes, so a file of
any size is read in ranges and never sits whole in the app's memory.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from pipelines.errors import BadRequestError, NotFoundError
from pipelines.runs.logs import output_prefix
from pipelines.runs.model import Run
from pipelines.store import MissingBlobError, StorageAccount

# The most one answer carries (the same bound as one upload request).
MAX_PART = 32 * 1024 * 1024
MAX_FILES_PAGE = 1000


def output_source(run: Run, node_id: str) -> tuple[str, str]:
    """(run id, node id) under which a step's outputs are stored: its own, or, for a step that
    took an earlier execution's outputs, that execution's (which nothing writes to again)."""
    origin = run.reused.get(node_id)
    return (str(origin[0]), str(origin[1])) if origin else (run.id, node_id)


def source_prefix(run: Run, node_id: str, output: str) -> str:
    """Where output `output` of step `node_id` of `run` is stored (`output_source`)."""
    return output_prefix(run.workspace, *output_source(run, node_id), output)


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the output folder, '/'-separated
    size: int
    last_modified: datetime | None
    etag: str | None


class StepOutputs:
    def __init__(self, account: StorageAccount) -> None:
        self.container = account.container("runs")

    def files(
        self, workspace: str, run_id: str, node_id: str, output: str, *, page_size: int, marker: str | None
    ) -> tuple[list[OutputFile], str | None]:
        """One page of the output's files, by path, and the marker of the next page."""
        prefix = output_prefix(workspace, run_id, node_id, output)
        page, next_marker = self.container.page(prefix, page_size, _decode_marker(marker))
        found = [
            OutputFile(path=blob.name[len(prefix):], size=blob.size, last_modified=blob.last_modified, etag=blob.etag)
            for blob in page
            if blob.name[len(prefix):]
        ]
        return found, _encode_marker(next_marker)

    def stat(self, workspace: str, run_id: str, node_id: str, output: str, path: str) -> OutputFile:
        info = self.container.info(output_prefix(workspace, run_id, node_id, output) + path)
        if info is None:
            raise NotFoundError(f"output {output!r} has no file {path!r}", target=path)
        return OutputFile(path, info.size, info.last_modified, info.etag)

    def read(
        self, workspace: str, run_id: str, node_id: str, output: str, path: str, offset: int, length: int
    ) -> bytes:
        """`length` bytes from `offset` (at most MAX_PART)."""
        if length > MAX_PART:
            raise ValueError("a read is at most MAX_PART bytes")
        if length == 0:
            return b""
        try:
            return self.container.read(output_prefix(workspace, run_id, node_id, output) + path, offset, length)
        except MissingBlobError:
            raise NotFoundError(f"output {output!r} has no file {path!r}", target=path) from None


def _encode_marker(marker: str | None) -> str | None:
    return base64.urlsafe_b64encode(marker.encode()).decode().rstrip("=") if marker else None


def _decode_marker(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise BadRequestError("continuationToken is not one this service issued", target="continuationToken") from None
