"""Step logs in Blob storage: one blob per step attempt and stream.

`runs/{workspace}/{run id}/{node id}/{attempt}/{STDOUT|STDERR}.txt`. (The job log
is not a blob: it is written from the step's record when read, `pipelines.runs.joblog`;
runs of earlier versions also left a `JobLog.txt`, which nothing reads.)
The worker appends while the script runs (an append blob), so a caller polling
the log sees it grow; a log whole before its first write is put in one request
(a block blob). The read side answers the latest attempt's text either way.

An attempt's logs that were never written to a blob and are small (at most
INLINE_LOG_BYTES together, with the other attempts' logs on the row) go on the step's
row instead, in the commit that records how the attempt ended (`InlineLogs`): the reader
takes them from there (`StepLogs.read(..., kept=...)`).
"""

from __future__ import annotations

from pipelines.store import Blobs, StorageAccount

LOG_KINDS = ("STDOUT", "STDERR", "JobLog")
# An append blob block is at most 4 MiB.
MAX_BLOCK = 4 * 1024 * 1024
# What a log route answers at most (the end of a longer log), and what a step may write.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
MAX_LOG_BYTES = 256 * 1024 * 1024
# What a step's row keeps of its attempts' logs, all together (base64 in JSON on the row).
INLINE_LOG_BYTES = 4 * 1024


def log_blob_name(workspace: str, run_id: str, node_id: str, attempt: int, kind: str) -> str:
    return f"{workspace}/{run_id}/{node_id}/{attempt}/{kind}.txt"


def output_prefix(workspace: str, run_id: str, node_id: str, output: str) -> str:
    return f"{workspace}/{run_id}/{node_id}/outputs/{output}/"


class StepLogs:
    def __init__(self, account: StorageAccount) -> None:
        self.container = account.container("runs")

    def writer(self, workspace: str, run_id: str, node_id: str, attempt: int, kind: str,
               limit: int | None = None) -> LogWriter:
        return LogWriter(self.container, log_blob_name(workspace, run_id, node_id, attempt, kind), limit)

    def read(self, workspace: str, run_id: str, node_id: str, attempt: int, kind: str,
             kept: dict[str, bytes] | None = None) -> str:
        """The log's text; of a log over MAX_ANSWER_BYTES, its end (a step that printed
        gigabytes must not make every log request read them all). `kept`: the attempt's
        logs from the step's row (`Step.inline_logs`), when they are there."""
        if kept is not None:
            return kept.get(kind, b"").decode("utf-8", errors="replace")
        name = log_blob_name(workspace, run_id, node_id, attempt, kind)
        info = self.container.info(name)
        if info is None or not info.size:
            return ""
        start = max(0, info.size - MAX_ANSWER_BYTES)
        text = self.container.read(name, offset=start, length=info.size - start).decode("utf-8", errors="replace")
        note = f"[... the first {start} bytes are not shown: read them with a Range header (bytes=0-) ...]\n"
        return note + text if start else text

    def size(self, workspace: str, run_id: str, node_id: str, attempt: int, kind: str,
             kept: dict[str, bytes] | None = None) -> int:
        """The log's length in bytes, as written so far."""
        if kept is not None:
            return len(kept.get(kind, b""))
        info = self.container.info(log_blob_name(workspace, run_id, node_id, attempt, kind))
        return info.size if info is not None else 0

    def read_bytes(self, workspace: str, run_id: str, node_id: str, attempt: int, kind: str, offset: int,
                   length: int, kept: dict[str, bytes] | None = None) -> bytes:
        """`length` bytes of the log from `offset`, as written (a range of it: any part of a long log)."""
        if kept is not None:
            return kept.get(kind, b"")[offset:offset + length]
        return self.container.read(log_blob_name(workspace, run_id, node_id, attempt, kind), offset=offset,
                                   length=length)


class LogWriter:
    """Writes one log blob: appended to as it grows (created on the first append), or put
    whole once; at most MAX_LOG_BYTES kept."""

    def __init__(self, container: Blobs, name: str, limit: int | None = None) -> None:
        self.container = container
        self.name = name
        self._created = False
        self._written = 0
        self._limit = MAX_LOG_BYTES if limit is None else limit

    def _clip(self, data: bytes) -> bytes:
        """What of `data` is kept under the limit (with a note where it was cut)."""
        if not data or self._written > self._limit:
            return b""
        if self._written + len(data) > self._limit:
            data = data[: self._limit - self._written] + b"\n[... log truncated: over the limit of this step ...]\n"
        self._written += len(data)
        return data

    def append(self, data: bytes) -> None:
        data = self._clip(data)
        if not data:
            return
        if not self._created:
            self.container.create_append(self.name)
            self._created = True
        for start in range(0, len(data), MAX_BLOCK):
            self.container.append(self.name, data[start : start + MAX_BLOCK])

    def put(self, data: bytes) -> None:
        """The whole log at once, in one request: nothing was written of it before, and
        nothing will be after (a block blob, which reads as the append blob would)."""
        if self._created:
            raise RuntimeError(f"the log {self.name} was appended to: it is not put whole")
        data = self._clip(data)
        if data:
            self.container.write(self.name, data, overwrite=True)
            self._created = True
