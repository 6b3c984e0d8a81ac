"""Code snapshots on the worker's disk, cached by hash.

A snapshot never changes (it is named by its sha256), so once extracted it is
reused by every later step that runs the same code. Extraction goes to a
temporary folder renamed into place, so a crash mid-way leaves no half tree.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from pipelines.authoring.snapshot import extract_snapshot
from pipelines.catalogue import PublishedPipelines

_lock = threading.Lock()


class SnapshotCache:
    def __init__(self, root: Path, pipelines: PublishedPipelines) -> None:
        self.root = root
        self.pipelines = pipelines

    def path(self, workspace: str, sha256: str) -> Path:
        target = self.root / sha256
        if target.is_dir():
            return target
        data = self.pipelines.download_snapshot(workspace, sha256)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}-", dir=self.root))
        try:
            extract_snapshot(
                data, staging / "tree", expected_sha256=sha256,
                max_bytes=self.pipelines.account.settings.max_snapshot_bytes,
            )
            with _lock:
                if not target.is_dir():
                    (staging / "tree").rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target
