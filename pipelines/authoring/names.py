"""Naming rules shared by the authoring API and the definition checks.

Each checker returns a reason (str) or None, so callers can either raise at
once (value objects) or collect the reason (pipeline and definition checks).
"""

from __future__ import annotations

import re
from typing import Any

MAX_NAME_LENGTH = 255

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Input, output and datastore names become folder names on the worker, keys in
# the runtime context and parts of blob paths; the old SDK already limited
# PipelineData and consumption names to letters, digits and underscores.
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]+$")
# Node ids are Table keys and path segments: no '/', '\\', '#', '?', '|'.
NODE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_NODE_ID = re.compile(NODE_ID_PATTERN)


def display_name_problem(value: object) -> str | None:
    """Free-text names (steps, parameters): non-empty, bounded, printable."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value.strip():
        return "must not be empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters"
    if _CONTROL.search(value):
        return "must not contain control characters"
    return None


def identifier_problem(value: object) -> str | None:
    """Input, output and datastore names: letters, digits and underscores."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value:
        return "must not be empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters"
    if not _IDENTIFIER.match(value):
        return "may contain only letters, digits and underscores"
    return None


def node_id_problem(value: object) -> str | None:
    if not isinstance(value, str) or not _NODE_ID.match(value):
        return "must match [A-Za-z0-9_-]{1,64}"
    return None


def compute_target_name(target: Any) -> str | None:
    """The name of a step's compute target: a name, or an SDK v1 compute object's `.name`; None (and
    "app") for the app itself."""
    if target is None:
        return None
    name = target if isinstance(target, str) else getattr(target, "name", None)
    if not isinstance(name, str):
        raise TypeError(
            f"compute_target must be a compute target's name or an object with a .name, not {type(target).__name__}"
        )
    return None if name == "app" else name
