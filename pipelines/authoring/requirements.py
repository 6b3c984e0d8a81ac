"""Pip requirements of steps and the packages compute targets promise (issue 16).

A step may declare requirements (`PythonScriptStep(requirements=[...])`) that must be present
where it runs; a target promises packages (`Packages` of a compute target; the app's are the
pins of its requirements.txt). Publish refuses a step whose requirements its target does not
promise, so a missing package is a 400 at publish, not an ImportError in the middle of a run.

A requirement is satisfied when the target promises the same project (names compared as pip
canonicalises them) and, when the step gives a version specifier and the target pins one
version (`==X` or `===X`), that version satisfies the specifier. A target that promises the
name without a pin (no version, or a range) satisfies any specifier of the step: it says
the package is there, and nothing more can be checked before the step runs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

MAX_REQUIREMENTS = 100
MAX_REQUIREMENT_CHARS = 200
DISTRIBUTION = "aml-pipelines-functions"
# The app's own requirements file: beside the package in a deployment and in the repository.
REQUIREMENTS_FILE = Path(__file__).resolve().parents[2] / "requirements.txt"


def requirement_problem(text: object) -> str | None:
    """Why `text` is not a pip requirement a step or a target may name, or None."""
    if not isinstance(text, str):
        return f"must be a string, not {type(text).__name__}"
    if not text.strip() or len(text) > MAX_REQUIREMENT_CHARS:
        return f"must be a requirement of 1 to {MAX_REQUIREMENT_CHARS} characters"
    try:
        parsed = Requirement(text)
    except InvalidRequirement as exc:
        return f"{text!r} is not a pip requirement: {str(exc).splitlines()[0]}"
    if parsed.url:
        return f"{text!r} names a URL; name the package (and a version) instead"
    return None


def _pinned(requirement: Requirement) -> Version | None:
    """The one version `requirement` pins (`==X`, `===X`), or None."""
    pins = [s for s in requirement.specifier if s.operator in ("==", "===") and "*" not in s.version]
    if len(pins) != 1:
        return None
    try:
        return Version(pins[0].version)
    except InvalidVersion:
        return None


def unmet(requirements: Iterable[str], promised: Sequence[str]) -> list[str]:
    """The requirements (as given) that the packages `promised` do not satisfy."""
    offered: dict[str, Requirement] = {}
    for text in promised:
        try:
            offered_one = Requirement(text)
        except InvalidRequirement:
            continue
        offered[canonicalize_name(offered_one.name)] = offered_one
    missing = []
    for text in requirements:
        wanted = Requirement(text)
        promise = offered.get(canonicalize_name(wanted.name))
        if promise is None:
            missing.append(text)
            continue
        pin = _pinned(promise)
        if wanted.specifier and pin is not None and not wanted.specifier.contains(pin, prereleases=True):
            missing.append(text)
    return missing


@functools.cache
def app_packages() -> tuple[str, ...]:
    """What the app promises: the requirements of its requirements.txt, read once (the installed
    distribution's requirements when the file is not there)."""
    try:
        lines = REQUIREMENTS_FILE.read_text(encoding="utf-8").splitlines()
    except OSError:
        try:
            lines = list(metadata.requires(DISTRIBUTION) or [])
        except metadata.PackageNotFoundError:
            lines = []
    found = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        try:
            Requirement(text)
        except InvalidRequirement:
            continue
        found.append(text)
    return tuple(found)
