"""The keys of a request body: known ones matched in any case, near misses refused, the rest ignored.

A key that is a near miss of a known one (`ParamAssignments`,
`parameter_assignments`, `Tag`, `SubjectBeginWith`) is a 400 naming the key it
meant: ignoring it would run with a default, silently. The submit body
(`pipelines.runs.request`) and the bodies of event triggers and schedules
(`pipelines.api.automation_contract`) are read this way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pipelines.errors import ErrorDetail


def _squashed(key: str) -> str:
    return re.sub(r"[\s_.-]", "", key).lower()


def _words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w.lower() for w in re.split(r"[\s_.-]+", spaced) if w]


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and
    transpositions of neighbours each count 1."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _abbreviates(given: list[str], known: list[str]) -> bool:
    """Word for word the known key, some words cut short (`ParamAssignments`)."""
    if len(given) != len(known) or given == known:
        return False
    for word, full in zip(given, known, strict=True):
        stem = word.removesuffix("s") if len(word) > 3 else word
        if word != full and not (len(stem) >= 3 and full.startswith(stem)):
            return False
    return True


def near_miss(key: str, known: Iterable[str]) -> str | None:
    """The known key `key` was probably meant to be, or None.

    Case-insensitively, ignoring `_`, `-`, `.` and spaces: the same letters, an edit
    distance of at most 2 (at most 1 for keys of 4 letters or fewer: `Tags` is
    not `Flags`), or the same words with some cut short (`Param` for `Parameter`).
    A key that matches a known key exactly, in any case, is no near miss.
    """
    squashed = _squashed(key)
    best: tuple[int, str] | None = None
    for candidate in known:
        if candidate.lower() == key.lower():
            return None
        target = _squashed(candidate)
        limit = 1 if len(target) <= 4 else 2
        distance = edit_distance(squashed, target)
        if distance > limit:
            distance = limit + 1 if _abbreviates(_words(key), _words(candidate)) else 99
        if distance <= limit + 1 and (best is None or distance < best[0]):
            best = (distance, candidate)
    return best[1] if best else None


def sort_keys(
    body: Mapping[Any, Any], known: Iterable[str], *, silent: Iterable[str] = (), where: str = ""
) -> tuple[dict[str, Any], list[str], list[ErrorDetail]]:
    """Split an object's keys: the known ones (under their canonical names, matched in
    any case), the ignored ones, and a problem for each near miss of a known key.

    Keys in `silent` are known to be ignored (what an answer holds and a request
    does not set): neither listed nor refused. `where` prefixes the targets. A known key
    sent twice in different cases is read from the last, and the others are listed as ignored.
    """
    canonical = {k.lower(): k for k in known}
    quiet = {k.lower() for k in silent}
    values: dict[str, Any] = {}
    sent_as: dict[str, str] = {}
    ignored: list[str] = []
    problems: list[ErrorDetail] = []
    for raw_key, value in body.items():
        name = str(raw_key)
        if name.lower() in canonical:
            known_name = canonical[name.lower()]
            if known_name in sent_as:  # the same key in another case (`Tags`, `tags`): the last is read
                ignored.append(where + sent_as[known_name])
            values[known_name], sent_as[known_name] = value, name
        elif name.lower() in quiet:
            continue
        else:
            meant = near_miss(name, canonical.values())
            if meant is None:
                ignored.append(where + name)
            else:
                problems.append(
                    ErrorDetail("UserError", f"unknown key {name!r}: did you mean {meant!r}?", where + name)
                )
    return values, ignored, problems
