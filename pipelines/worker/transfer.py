"""Files between a step's folder and Blob storage: outputs up, upstream outputs down.

Outputs go up side by side (UPLOAD_THREADS at a time), each file hashed as it
is read for the upload, so it is read once: the time between the script's exit
and its recorded result is the window in which a lost worker makes the step
run again, so it is kept short. What was uploaded is remembered by name
(`Uploaded.files`), so a successor on the same worker can copy exactly those
files instead of downloading them (`KeptOutputs`).
"""

from __future__ import annotations

import functools
import hashlib
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.runs.model import OutputSummary
from pipelines.store import Blobs, MissingBlobError

UPLOAD_THREADS = 8


class HashingReader:
    """A file read for an upload, hashed and counted on the way."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.size = 0
        self._hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.source.read(size)
        self._hash.update(data)
        self.size += len(data)
        return data

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


@dataclass(frozen=True)
class Uploaded:
    summary: OutputSummary
    files: tuple[str, ...]  # relative paths, as uploaded


def upload_folder(container: Blobs, prefix: str, folder: Path, *, first: bool = False) -> Uploaded:
    """Replace what is under `prefix` with the folder's regular files (symbolic links are
    not followed); returns what was uploaded and its digest. `first`: nothing was ever
    written under `prefix` (a step's first attempt), so there is nothing to remove."""
    if not first:
        # An earlier attempt may have left files (one lost during its upload): the output is
        # this attempt's alone.
        container.delete_under(prefix)
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()]
    upload = functools.partial(_upload_file, container, prefix, folder)
    if len(files) <= 1:
        uploaded = [upload(path) for path in files]
    else:
        with ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="upload") as pool:
            uploaded = list(pool.map(upload, files))
    lines = [f"{relative}\t{size}\t{sha256}\n" for relative, size, sha256 in uploaded]
    digest = hashlib.sha256("".join(lines).encode("utf-8", errors="surrogatepass")).hexdigest()
    summary = OutputSummary(files=len(lines), bytes=sum(size for _, size, _ in uploaded), sha256=digest)
    return Uploaded(summary, tuple(relative for relative, _, _ in uploaded))


def _upload_file(container: Blobs, prefix: str, folder: Path, path: Path) -> tuple[str, int, str]:
    """(relative path, size, sha256) of one output file, uploaded."""
    relative = path.relative_to(folder).as_posix()
    with open(path, "rb") as source:
        reader = HashingReader(source)
        container.write(prefix + relative, reader, length=path.stat().st_size, overwrite=True)  # type: ignore[arg-type]
    return relative, reader.size, reader.hexdigest()


def download_prefix(container: Blobs, prefix: str, target: Path) -> int:
    """Every blob under `prefix` into `target`, by its name after the prefix; returns how many."""
    count = 0
    for blob in container.listing(prefix):
        relative = blob.name[len(prefix):]
        if not relative or relative.endswith("/"):
            continue
        destination = (target / relative).resolve()
        if not destination.is_relative_to(target.resolve()):
            continue  # a name that would leave the folder is never written
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(destination, "wb") as sink:
                container.read_into(blob.name, sink)
        except MissingBlobError:
            continue
        count += 1
    return count


@dataclass(frozen=True)
class KeptOutputs:
    """A finished step's outputs, still on this worker's disk: the folder holding one
    folder per output, and the files of each output that were uploaded."""

    run_id: str
    node_id: str
    root: Path
    files: dict[str, tuple[str, ...]]

    def copy(self, run_id: str, node_id: str, output: str, target: Path) -> bool:
        """Copy an output of this step into `target`; False when it is not this step's."""
        if (self.run_id, self.node_id) != (run_id, node_id) or output not in self.files:
            return False
        for relative in self.files[output]:
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.root / output / relative, destination)
        return True
