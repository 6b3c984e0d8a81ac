"""Code snapshots: a step's source directory as a deterministic zip.

A snapshot is content-addressed (its sha256 names the blob), so the same files
must give the same bytes on every build: entries are sorted, timestamps and
permissions fixed, and nothing from the author's machine (mtimes, owners,
umask) leaks in. The zip is also untrusted input on the server, so
`validate_snapshot` refuses anything that could escape the extraction folder
or expand without bound.

Choices:
- Symlinks are refused, all of them: a zip cannot carry them portably, a link
  inside the folder is a copy waiting to diverge, and a link outside it would
  publish files the author never meant to. Exclude them with an ignore file.
- The ignore file is `.amlignore` when present, else `.gitignore` (the old
  SDK's order). Patterns are globs: `#` comments, a trailing `/` for folders
  only, a leading `/` (or any inner `/`) anchors to the root, `!` re-includes;
  as in git, a file inside an ignored folder cannot be re-included.
- Determinism holds for a given zlib: the hash is over the bytes, and the
  server never re-zips, so a different zlib only means a new snapshot blob.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import re
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from pipelines.authoring.paths import UnsafePathError, safe_relative_path
from pipelines.errors import BadRequestError, PayloadTooLargeError

# Folders and files that are never code: caches, VCS data, environments.
ALWAYS_EXCLUDED_DIRS = frozenset({"__pycache__", ".git", ".venv", "node_modules", ".ipynb_checkpoints"})
ALWAYS_EXCLUDED_FILES = ("*.pyc",)
IGNORE_FILES = (".amlignore", ".gitignore")

DEFAULT_MAX_SNAPSHOT_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 10_000
# A code zip expands a few times, data files ten or twenty; deflate can reach
# ~1000:1 on zeros. Entries bigger than _RATIO_FLOOR must stay under the ratio.
MAX_COMPRESSION_RATIO = 100
_RATIO_FLOOR = 1024 * 1024

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold
_FILE_MODE = 0o100644  # regular file, rw-r--r--
_COMPRESS_LEVEL = 6
_CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def combined_snapshot_hash(hashes: Iterable[str]) -> str:
    """The pipeline's code identity: sha256 over its sorted distinct snapshot hashes.

    Distinct, so two steps sharing a folder count once; sorted, so step order
    does not matter.
    """
    joined = "\n".join(sorted(set(hashes)))
    return hashlib.sha256(joined.encode("ascii")).hexdigest()


# -- building -----------------------------------------------------------------------


class _IgnoreRules:
    def __init__(self, lines: Iterable[str]) -> None:
        self.rules: list[tuple[bool, bool, bool, str]] = []  # negate, dir_only, anchored, glob
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            # git's rule: a slash at the start or in the middle anchors to the root.
            anchored = "/" in line
            line = line.lstrip("/")
            if line:
                self.rules.append((negate, dir_only, anchored, line))

    def ignored(self, relative: str, is_dir: bool) -> bool:
        result = False
        name = relative.rsplit("/", 1)[-1]
        for negate, dir_only, anchored, glob in self.rules:
            if dir_only and not is_dir:
                continue
            subject = relative if anchored else name
            if fnmatch.fnmatchcase(subject, glob):
                result = not negate
        return result


def _ignore_rules(root: Path) -> _IgnoreRules:
    for name in IGNORE_FILES:
        path = root / name
        if path.is_file() and not path.is_symlink():
            return _IgnoreRules(path.read_text(encoding="utf-8").splitlines())
    return _IgnoreRules(())


def snapshot_files(directory: str | os.PathLike[str]) -> list[str]:
    """The sorted relative posix paths `build_snapshot` would archive."""
    root = Path(directory)
    if not root.is_dir():
        raise BadRequestError(f"source directory {str(root)!r} is not a folder", target=str(root))
    rules = _ignore_rules(root)
    found: list[str] = []
    for current, dirs, files in os.walk(root, followlinks=False):
        base = Path(current).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        kept: list[str] = []
        for name in sorted(dirs):
            relative = prefix + name
            if name in ALWAYS_EXCLUDED_DIRS or rules.ignored(relative, is_dir=True):
                continue
            if (Path(current) / name).is_symlink():
                raise _refuse_link(relative)
            kept.append(name)
        dirs[:] = kept  # prune in place: os.walk descends only into these
        for name in files:
            relative = prefix + name
            if any(fnmatch.fnmatchcase(name, glob) for glob in ALWAYS_EXCLUDED_FILES):
                continue
            if rules.ignored(relative, is_dir=False):
                continue
            mode = os.lstat(Path(current) / name).st_mode
            if stat.S_ISLNK(mode):
                raise _refuse_link(relative)
            if not stat.S_ISREG(mode):
                raise BadRequestError(f"{relative!r} is not a regular file", target=relative)
            try:
                relative.encode("utf-8")
                checked = safe_relative_path(relative)
            except (UnicodeEncodeError, UnsafePathError) as exc:
                raise BadRequestError(
                    f"file name {relative!r} cannot go into a snapshot: {exc}", target=relative
                ) from None
            found.append(checked)
    return sorted(found)


def _refuse_link(relative: str) -> BadRequestError:
    return BadRequestError(
        f"{relative!r} is a symbolic link; snapshots refuse links"
        " (copy the file in, or list it in .amlignore)",
        target=relative,
    )


def build_snapshot(directory: str | os.PathLike[str]) -> tuple[bytes, str]:
    """Zip `directory` deterministically; return the bytes and their sha256 hex."""
    root = Path(directory)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for relative in snapshot_files(root):
            info = zipfile.ZipInfo(relative, date_time=_FIXED_DATE)
            info.create_system = 3  # "Unix", whatever the author's OS, so the bytes agree
            info.external_attr = _FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = (root / relative).read_bytes()
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=_COMPRESS_LEVEL)
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


# -- checking untrusted zips ------------------------------------------------------------


def _refuse(message: str, entry: str | None = None) -> BadRequestError:
    return BadRequestError(f"snapshot refused: {message}", target=entry)


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    # `filename` is cut at a NUL by zipfile; `orig_filename` is the central directory's whole
    # name, so other unzip tools cannot read a different name than the worker does.
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in info.orig_filename):
        return "has a control character (NUL included) in its name"
    name = info.filename
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type == stat.S_IFLNK:
        return "is a symbolic link"
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "is not a regular file"
    if info.flag_bits & 0x1:
        return "is encrypted"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"uses an unsupported compression method ({info.compress_type})"
    # `ZipInfo` already turned '\\' into '/' on Windows hosts only; check the raw name.
    raw = name[:-1] if info.is_dir() else name
    try:
        if safe_relative_path(raw) != raw:
            return "is not a canonical relative path"
    except UnsafePathError as exc:
        return str(exc)
    if info.file_size > _RATIO_FLOOR and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        return f"expands more than {MAX_COMPRESSION_RATIO} times"
    return None


def validate_snapshot(
    data: bytes,
    expected_sha256: str,
    max_bytes: int = DEFAULT_MAX_SNAPSHOT_BYTES,
    *,
    max_uncompressed_bytes: int | None = None,
) -> list[str]:
    """Check an uploaded snapshot; return its file names (sorted).

    Refuses (a `BadRequestError` naming the entry): a hash mismatch, more than
    `max_bytes` (`PayloadTooLargeError`), more than `max_uncompressed_bytes`
    expanded (default 10 × `max_bytes`), a suspicious compression ratio,
    absolute or escaping names, backslashes and drive letters, symlinks,
    duplicates, and anything that is not a zip. Every entry is decompressed
    once, bounded, to check its CRC: a lying header cannot slip through.
    """
    limit = max_uncompressed_bytes if max_uncompressed_bytes is not None else 10 * max_bytes
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"snapshot is {len(data)} bytes; the limit is {max_bytes}")
    expected = expected_sha256.lower() if isinstance(expected_sha256, str) else ""
    if not _SHA256.match(expected):
        raise _refuse(f"{expected_sha256!r} is not a sha256 hex digest")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise _refuse(f"its sha256 is {actual}, not {expected}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _refuse(f"not a zip file ({exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise _refuse(f"{len(infos)} entries; the limit is {MAX_ENTRIES}")
        names: list[str] = []
        seen: set[str] = set()
        folders: set[str] = set()
        total = 0
        for info in infos:
            entry = info.filename
            problem = _entry_problem(info)
            if problem:
                raise _refuse(f"entry {entry!r} {problem}", entry)
            key = entry.rstrip("/")
            if key in seen:
                raise _refuse(f"entry {entry!r} appears twice", entry)
            seen.add(key)
            if info.is_dir():
                continue
            total += info.file_size
            if total > limit:
                raise PayloadTooLargeError(f"snapshot expands to more than {limit} bytes", target=entry)
            folders.update(str(parent) for parent in PurePosixPath(key).parents if str(parent) != ".")
            names.append(key)
        for name in names:
            if name in folders:
                raise _refuse(f"entry {name!r} is both a file and a folder", name)
        for info in infos:
            if not info.is_dir():
                _read_bounded(archive, info, None)
    return sorted(names)


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, sink: BinaryIO | None) -> None:
    """Stream one entry; zipfile stops at the declared size and checks the CRC at the end."""
    produced = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                produced += len(chunk)
                if produced > info.file_size:
                    raise _refuse(f"entry {info.filename!r} is larger than it declares", info.filename)
                if sink is not None:
                    sink.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _refuse(f"entry {info.filename!r} is corrupt ({exc})", info.filename) from None
    if produced != info.file_size:
        raise _refuse(f"entry {info.filename!r} is shorter than it declares", info.filename)


def extract_snapshot(
    data: bytes,
    dest_dir: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
    max_bytes: int = DEFAULT_MAX_SNAPSHOT_BYTES,
) -> list[str]:
    """Validate `data` again, then write its files under `dest_dir`; return their names.

    `dest_dir` must be missing or empty: files are created exclusively, so
    nothing already there (a planted symlink, say) is followed or overwritten.
    Without `expected_sha256`, the hash check is skipped but every other check
    runs (the caller already addressed the blob by its hash).
    """
    expected = expected_sha256 or hashlib.sha256(data).hexdigest()
    names = validate_snapshot(data, expected, max_bytes)
    root = Path(dest_dir)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise BadRequestError(f"extraction folder {str(root)!r} is not empty", target=str(root))
    base = root.resolve()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in names:
            target = (base / name).resolve()
            # Defence in depth: validation already refused every escaping name.
            if not target.is_relative_to(base):
                raise _refuse(f"entry {name!r} leaves the extraction folder", name)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as sink:
                _read_bounded(archive, archive.getinfo(name), sink)
            os.chmod(target, 0o644)
    return names
