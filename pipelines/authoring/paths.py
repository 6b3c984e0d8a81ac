"""Relative paths that stay where they are put.

Script names, datastore paths and zip entry names all come from people (or
from untrusted uploads) and end up joined onto a directory on a worker. One
checker serves them all, so "inside" means the same thing everywhere.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

# A Windows drive ("C:", "c:foo") in the first segment: joined onto a POSIX
# directory it is harmless, but a worker on Windows would leave the folder.
_DRIVE = re.compile(r"^[A-Za-z]:")
# A URL ("https://host/x", "file:///etc"): a datastore path is joined onto a
# container, never fetched, so a scheme can only be a mistake or a trick.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Percent-encoding is undone this many times at most: enough for double and
# triple encoding (`%252e%252e`), bounded so a crafted value cannot loop us.
_MAX_DECODE_ROUNDS = 4
MAX_PATH_LENGTH = 1024


class UnsafePathError(ValueError):
    """A path that is empty, absolute, or leaves its base directory."""


def _problem(path: str) -> str | None:
    if not path:
        return "is empty"
    if _CONTROL.search(path):
        return "contains a control character"
    if "\\" in path:
        # Backslashes are separators on Windows: `..\\x` and `C:\\x` hide there.
        return "contains a backslash (use '/' as the separator)"
    if path.startswith("/"):
        return "is absolute"
    if _URL.match(path):
        return "is a URL, not a relative path"
    if _DRIVE.match(path):
        return "starts with a drive letter"
    if ".." in path.split("/"):
        return "contains a '..' segment"
    return None


def safe_relative_path(path: str) -> str:
    """Return `path` in canonical form (`a/b.py`), or raise `UnsafePathError`.

    Canonical means: '/' separators, no empty or '.' segments, no trailing '/'.
    The check runs on the value as given and again after each round of URL
    decoding, because a storage URL built from it would decode `%2e%2e` into
    `..` on the server side.
    """
    if not isinstance(path, str):
        raise UnsafePathError(f"path must be a string, not {type(path).__name__}")
    if len(path) > MAX_PATH_LENGTH:
        raise UnsafePathError(f"path is longer than {MAX_PATH_LENGTH} characters")
    candidate = path
    for _ in range(_MAX_DECODE_ROUNDS):
        reason = _problem(candidate)
        if reason is not None:
            shown = path if candidate == path else f"{path} (decoded: {candidate})"
            raise UnsafePathError(f"path {shown!r} {reason}")
        decoded = unquote(candidate)
        if decoded == candidate:
            break
        candidate = decoded
    else:
        raise UnsafePathError(f"path {path!r} is percent-encoded too many times")
    segments = [segment for segment in path.split("/") if segment not in ("", ".")]
    if not segments:
        raise UnsafePathError(f"path {path!r} names no file or folder")
    return "/".join(segments)


def is_canonical_relative_path(path: str) -> bool:
    """True when `path` is safe and already in the form `safe_relative_path` returns."""
    try:
        return safe_relative_path(path) == path
    except UnsafePathError:
        return False
