"""Paths and globs on a datastore, and the blobs they name.

A dataset path is a file (`batch/train.csv`), a folder (`batch/2026`: every
blob under it) or a glob (`batch/*/part-*.csv`, `logs/**/x.csv`). Globs match
segment by segment, as a shell does: `*` and `?` never cross a `/`; only a
`**` segment spans folders. Every path passes the package's one safe-path
checker first (`pipelines.authoring.paths`), so a glob cannot escape either.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from pipelines.authoring.paths import UnsafePathError, safe_relative_path

T = TypeVar("T")
GLOB_CHARACTERS = frozenset("*?[")
# A segment's brackets: each '[' closes with a ']' around one character or more.
_BRACKETS = re.compile(r"(?:[^\[\]]|\[[^\[\]]+\])*")


class PatternError(ValueError):
    """A path or glob that is unsafe or malformed."""


def not_a_path(value: object) -> str:
    """What is wrong with a path that is no string."""
    return f"a path must be a string, not {type(value).__name__}"


def check_pattern(value: object) -> str:
    """`value` in canonical form, or `PatternError` saying why not."""
    if not isinstance(value, str):
        raise PatternError(not_a_path(value))
    try:
        path = safe_relative_path(value)
    except UnsafePathError as exc:
        raise PatternError(str(exc)) from None
    for segment in path.split("/"):
        if "**" in segment and segment != "**":
            raise PatternError(f"path {value!r}: '**' must be a whole segment (a/**/b.csv)")
        if not _BRACKETS.fullmatch(segment):
            raise PatternError(
                f"path {value!r}: a '[' in a glob must close with ']' around at least one character"
            )
    return path


def is_glob(path: str) -> bool:
    return any(character in GLOB_CHARACTERS for character in path)


def literal_prefix(pattern: str) -> str:
    """The folder a glob cannot leave: the segments before the first one with a wildcard."""
    literal: list[str] = []
    for segment in pattern.split("/"):
        if is_glob(segment):
            break
        literal.append(segment)
    return "".join(part + "/" for part in literal)


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(segment):
        character = segment[index]
        if character == "*":
            out.append("[^/]*")
        elif character == "?":
            out.append("[^/]")
        elif character == "[":
            end = segment.find("]", index + 1)
            body = segment[index + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            escaped = body.replace("\\", "\\\\").replace("^", "\\^")
            out.append(f"[{'^' if negate else ''}{escaped}]")
            index = end
        else:
            out.append(re.escape(character))
        index += 1
    return "".join(out)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    segments = pattern.split("/")
    out = ""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            out += ".*" if last else "(?:[^/]+/)*"
        else:
            out += _segment_regex(segment) + ("" if last else "/")
    return re.compile(out)


def expand(
    pattern: str, exists: Callable[[str], bool], names_under: Callable[[str], Iterable[str]]
) -> list[str]:
    """The datastore paths `pattern` names, in name order.

    `exists(path)` tells whether a blob is there; `names_under(prefix)` lists the
    paths that start with `prefix`. A plain path is a file when such a blob
    exists, else a folder.
    """
    found = matching(
        pattern,
        lambda path: path if exists(path) else None,
        lambda prefix: ((name, name) for name in names_under(prefix)),
    )
    return [path for path, _ in found]


def matching(
    pattern: str, find: Callable[[str], T | None], under: Callable[[str], Iterable[tuple[str, T]]]
) -> list[tuple[str, T]]:
    """`expand` keeping what the store says of each blob: `find(path)` is a blob's (None: no
    such blob), `under(prefix)` the (path, blob) pairs whose path starts with `prefix`."""
    if not is_glob(pattern):
        one = find(pattern)
        if one is not None:
            return [(pattern, one)]
        return sorted((item for item in under(pattern + "/") if not item[0].endswith("/")), key=lambda i: i[0])
    regex = compile_pattern(pattern)
    return sorted(
        (item for item in under(literal_prefix(pattern)) if not item[0].endswith("/") and regex.fullmatch(item[0])),
        key=lambda i: i[0],
    )
