"""Files between a step's folder and Blob storage: outputs up, upstream outputs down.

Outputs go up side by side (UPLOAD_THREADS at a time), each file hashed as it
is read for the upload, so it is read once: the time between the script's exit
and its recorded result is the window in which a lost worker makes the step
run again, so it is kept short. What was uploaded is remembered by name
(`Uploaded.files`), so a successor on the same worker can copy exactly those
files instead of downloading them (`KeptOutputs`).

Outputs small enough (`read_small`: at most INLINE_MAX_BYTES together) are not
uploaded at all: they go on the step's row, in the transaction that records it
Finished (`pipelines.runs.model.InlineOutputs`), so a small step's turnover makes one
request fewer; a successor on another worker writes them from the row (`write_files`).
"""

from __future__ import annotations

import functools
import hashlib
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.runs.model import InlineOutputs, OutputSummary, inline_text
from pipelines.store import Blobs, MissingBlobError

UPLOAD_THREADS = 8
# Outputs kept on the step's row instead of uploaded: at most this many bytes and files for all
# of a step's outputs together, and the row's property (base64 in JSON) at most INLINE_MAX_CHARS,
# well under Table storage's 64 KiB a property.
INLINE_MAX_BYTES = 8 * 1024
INLINE_MAX_FILES = 16
INLINE_MAX_CHARS = 24_000


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
    files = _files_of(folder)
    upload = functools.partial(_upload_file, container, prefix, folder)
    if len(files) <= 1:
        uploaded = [upload(path) for path in files]
    else:
        with ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="upload") as pool:
            uploaded = list(pool.map(upload, files))
    return Uploaded(summarize(uploaded), tuple(relative for relative, _, _ in uploaded))


def summarize(files: list[tuple[str, int, str]]) -> OutputSummary:
    """An output's summary from its files' (relative path, size, sha256), in path order."""
    lines = [f"{relative}\t{size}\t{sha256}\n" for relative, size, sha256 in files]
    digest = hashlib.sha256("".join(lines).encode("utf-8", errors="surrogatepass")).hexdigest()
    return OutputSummary(files=len(lines), bytes=sum(size for _, size, _ in files), sha256=digest)


def _files_of(folder: Path) -> list[Path]:
    """An output folder's regular files, in path order (symbolic links are not followed)."""
    return [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()]


def read_small(outputs: dict[str, Path]) -> tuple[dict[str, OutputSummary], InlineOutputs] | None:
    """Every output's summary and files, read whole, when all of them together are small enough to
    be kept on the step's row; None when they are not (they are uploaded)."""
    found = {name: _files_of(folder) for name, folder in outputs.items()}
    paths = [path for files in found.values() for path in files]
    if len(paths) > INLINE_MAX_FILES or sum(path.stat().st_size for path in paths) > INLINE_MAX_BYTES:
        return None
    inline: InlineOutputs = {}
    summaries: dict[str, OutputSummary] = {}
    for name, files in found.items():
        data = {path.relative_to(outputs[name]).as_posix(): path.read_bytes() for path in files}
        inline[name] = data
        summaries[name] = summarize(
            [(relative, len(content), hashlib.sha256(content).hexdigest()) for relative, content in data.items()])
    if sum(len(content) for files in inline.values() for content in files.values()) > INLINE_MAX_BYTES:
        return None  # a file grew while it was read: upload instead
    if len(inline_text(inline) or "") > INLINE_MAX_CHARS:
        return None  # long paths
    return summaries, inline


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
        destination = _destination(target, blob.name[len(prefix):])
        if destination is None:
            continue
        try:
            with open(destination, "wb") as sink:
                container.read_into(blob.name, sink)
        except MissingBlobError:
            continue
        count += 1
    return count


def write_files(files: dict[str, bytes], target: Path) -> int:
    """An inline output's files into `target`, by their relative paths; returns how many."""
    count = 0
    for relative, content in files.items():
        destination = _destination(target, relative)
        if destination is not None:
            destination.write_bytes(content)
            count += 1
    return count


def _destination(target: Path, relative: str) -> Path | None:
    """Where a file named `relative` goes under `target` (its folder made); None for a name
    that is a folder or would leave `target`, which is never written."""
    if not relative or relative.endswith("/"):
        return None
    destination = (target / relative).resolve()
    if not destination.is_relative_to(target.resolve()):
        return None
    destination.parent.mkdir(parents=True, exist_ok=True)
    return destination


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
