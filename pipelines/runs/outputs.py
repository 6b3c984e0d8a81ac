"""A step's outputs in Blob storage, read back: list an output's files, read their bytes.

The worker uploads each output folder under
`runs/{workspace}/{run id}/{node id}/outputs/{output}/` (see `logs.output_prefix`)
once the script exits 0, and records what it holds (`OutputSummary`); outputs small
enough are kept on the step's row instead (`InlineOutputs`), and each method here
reads those when it is given them (`inline`: the output's files from the row). Callers
read them through the app with their own token: in Azure only the app's identity
holds a storage role. An answer carries at most `MAX_PART` bytes, so a file of
any size is read in ranges and never sits whole in the app's memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from pipelines.errors import NotFoundError
from pipelines.runs.logs import output_prefix
from pipelines.runs.model import Run
from pipelines.store import MissingBlobError, StorageAccount, tokens

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


@dataclass(frozen=True)
class InlineOutput:
    """An output kept on its step's row: its files' bytes by path, and when the step ended
    (each file's time of change)."""

    name: str
    files: dict[str, bytes]
    ended: datetime | None

    def content(self, path: str) -> bytes:
        if path not in self.files:
            raise _no_file(self.name, path)
        return self.files[path]

    def stat(self, path: str) -> OutputFile:
        content = self.content(path)
        return OutputFile(path, len(content), self.ended, f'"{hashlib.sha256(content).hexdigest()[:32]}"')


def _no_file(output: str, path: str) -> NotFoundError:
    return NotFoundError(f"output {output!r} has no file {path!r}", target=path)


Inline = InlineOutput | None


class StepOutputs:
    def __init__(self, account: StorageAccount) -> None:
        self.container = account.container("runs")

    def files(
        self, workspace: str, run_id: str, node_id: str, output: str, *, page_size: int, marker: str | None,
        inline: Inline = None,
    ) -> tuple[list[OutputFile], str | None]:
        """One page of the output's files, by path, and the marker of the next page."""
        prefix = output_prefix(workspace, run_id, node_id, output)
        digest = tokens.scope("output files", prefix)
        if inline is not None:
            after = _decode_marker(marker, digest)
            paths = [path for path in sorted(inline.files) if after is None or path > after]
            listed = [inline.stat(path) for path in paths[:page_size]]
            return listed, _encode_marker(digest, listed[-1].path) if len(paths) > page_size else None
        page, next_marker = self.container.page(prefix, page_size, _decode_marker(marker, digest))
        found = [
            OutputFile(path=blob.name[len(prefix):], size=blob.size, last_modified=blob.last_modified, etag=blob.etag)
            for blob in page
            if blob.name[len(prefix):]
        ]
        return found, _encode_marker(digest, next_marker)

    def stat(self, workspace: str, run_id: str, node_id: str, output: str, path: str,
             inline: Inline = None) -> OutputFile:
        if inline is not None:
            return inline.stat(path)
        info = self.container.info(output_prefix(workspace, run_id, node_id, output) + path)
        if info is None:
            raise _no_file(output, path)
        return OutputFile(path, info.size, info.last_modified, info.etag)

    def read(
        self, workspace: str, run_id: str, node_id: str, output: str, path: str, offset: int, length: int,
        inline: Inline = None,
    ) -> bytes:
        """`length` bytes from `offset` (at most MAX_PART)."""
        if length > MAX_PART:
            raise ValueError("a read is at most MAX_PART bytes")
        if length == 0:
            return b""
        if inline is not None:
            return inline.content(path)[offset : offset + length]
        try:
            return self.container.read(output_prefix(workspace, run_id, node_id, output) + path, offset, length)
        except MissingBlobError:
            raise _no_file(output, path) from None


def _encode_marker(digest: str, marker: str | None) -> str | None:
    return tokens.seal(digest, m=marker) if marker else None


def _decode_marker(token: str | None, digest: str) -> str | None:
    position = tokens.unseal(token, digest)
    if position is None:
        return None
    marker = position.get("m")
    if not isinstance(marker, str) or not marker:
        raise tokens.forged()
    return marker
