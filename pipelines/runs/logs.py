"""Step logs in Blob storage: one append blob per step attempt and stream.

`runs/{workspace}/{run id}/{node id}/{attempt}/{STDOUT|STDERR|JobLog}.txt`.
The worker appends while the script runs, so a caller polling the log sees it
grow; the read side answers the latest attempt's text.
"""

from __future__ import annotations

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient

from pipelines.store import StorageAccount

LOG_KINDS = ("STDOUT", "STDERR", "JobLog")
# An append blob block is at most 4 MiB.
MAX_BLOCK = 4 * 1024 * 1024


def log_blob_name(workspace: str, run_id: str, node_id: str, attempt: int, kind: str) -> str:
    return f"{workspace}/{run_id}/{node_id}/{attempt}/{kind}.txt"


def output_prefix(workspace: str, run_id: str, node_id: str, output: str) -> str:
    return f"{workspace}/{run_id}/{node_id}/outputs/{output}/"


class StepLogs:
    def __init__(self, account: StorageAccount) -> None:
        self.container = account.container("runs")

    def blob(self, workspace: str, run_id: str, node_id: str, attempt: int, kind: str) -> BlobClient:
        return self.container.get_blob_client(log_blob_name(workspace, run_id, node_id, attempt, kind))

    def read(self, workspace: str, run_id: str, node_id: str, attempt: int, kind: str) -> str:
        try:
            data = self.blob(workspace, run_id, node_id, attempt, kind).download_blob().readall()
        except ResourceNotFoundError:
            return ""
        return data.decode("utf-8", errors="replace")


class LogWriter:
    """Appends to one append blob; created on first write."""

    def __init__(self, blob: BlobClient) -> None:
        self.blob = blob
        self._created = False

    def append(self, data: bytes) -> None:
        if not data:
            return
        if not self._created:
            try:
                self.blob.create_append_blob(content_settings=None)
            except ResourceExistsError:
                pass
            self._created = True
        for start in range(0, len(data), MAX_BLOCK):
            self.blob.append_block(data[start : start + MAX_BLOCK])
