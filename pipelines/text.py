"""Reading untrusted input: whole numbers out of text, keys out of JSON objects, and the rules of
text that is stored (Unicode only; experiment names, descriptions and tags as Azure ML has them).

`str.isdigit()` is true for "²" and "٣" and for a 5,000-digit string, which
`int()` then refuses or turns into a number no storage column holds. Every
whole number read from a request goes through `whole_number`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_WHOLE = re.compile(r"[0-9]{1,18}")


def whole_number(text: str) -> int | None:
    """The value of ASCII digits (at most 18, so it fits in 64 bits), else None."""
    stripped = text.strip()
    return int(stripped) if _WHOLE.fullmatch(stripped) else None


def pick(body: Mapping[str, Any], name: str) -> Any:
    """A key of a JSON object matched case-insensitively (docs/contract.md §2: clients
    send both `Tags` and `tags`); None when absent."""
    for key, value in body.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return None


# -- text that is stored ---------------------------------------------------------------------------------
# One rule for every string the service keeps (tables, blobs, queue messages): it must be
# Unicode text. `json.loads` turns the escape "\ud800" into a lone surrogate code point,
# which no UTF encoding carries: Table storage refuses it (or keeps what cannot be answered
# back as UTF-8). The JSON edge (`pipelines.api.http`), the storage edge
# (`pipelines.store.tables.check_entity_size`) and the rules below all ask `unpaired_surrogate`.
_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_RULE = "an unpaired surrogate (\\ud800-\\udfff alone), which is not Unicode text"


def unpaired_surrogate(value: Any, where: str = "$") -> str | None:
    """Where `value` (a string, or JSON made of dicts and lists) holds a lone surrogate, as a
    path such as `Tags.a[0]` (`Tags (a key)` for a key); None when it holds none. A pair that
    `json.loads` joined is one character, and text."""
    pending: list[tuple[Any, str]] = [(value, where)]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return path
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str) and _SURROGATE.search(key):
                    return f"{path} (a key)"
                pending.append((child, key if path == "$" else f"{path}.{key}"))
        elif isinstance(item, list):
            pending.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
    return None


# Control characters: C0, DEL and C1. Names and tag keys hold none; free text (a description,
# a tag's value) may hold tabs and line breaks, never the others (NUL among them).
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f"
TEXT_CONTROL_CHARACTERS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
_TEXT_CONTROL = re.compile(f"[{TEXT_CONTROL_CHARACTERS}]")
# The same as JSON Schema patterns (OpenAPI): a name or key, and free text.
NAME_TEXT_PATTERN = f"^[^{CONTROL_CHARACTERS}]*$"
FREE_TEXT_PATTERN = f"^[^{TEXT_CONTROL_CHARACTERS}]*$"


def _character(text: str, at: int) -> str:
    return f"U+{ord(text[at]):04X}"


# Azure ML's rules for what a run records (SDK v1 azureml-core `_valid_experiment_name`:
# `^[a-zA-Z0-9][\w\-]{0,254}$`; the limits of learn.microsoft.com/azure/machine-learning/
# resource-limits-capacity, "Runs"). Experiment names are kept to ASCII: the name is a path
# segment of every history route and SDK v1's `\w` would let Unicode letters and, through `$`,
# a trailing line break in.
EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")
EXPERIMENT_NAME_PATTERN = f"^{EXPERIMENT_NAME.pattern}$"  # the same, for JSON Schema
# A pipeline endpoint's name (the catalogue's rule; the CLI checks it before it publishes anything).
ENDPOINT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,254}\Z")
ENDPOINT_NAME_RULE = (
    "Name must start with a letter or digit and hold letters, digits, '_', '-', '.' or spaces (255 at most)"
)
EXPERIMENT_NAME_RULE = (
    "an experiment name is 1 to 255 characters: letters, digits, '_' and '-', starting with a letter or digit"
    " (Azure ML's rule)"
)
MAX_DESCRIPTION = 5000
MAX_TAGS = 50
MAX_TAG_KEY = 100
MAX_TAG_VALUE = 1000
# A run's tags are kept as one JSON text in one Table property (64 KiB: 32,768 UTF-16 units);
# Azure ML's per-tag limits alone (50 x 1,100 characters) would not fit.
MAX_TAGS_STORED = 32 * 1024
DESCRIPTION_RULE = (
    f"a description is at most {MAX_DESCRIPTION:,} characters (Azure ML's limit), and holds no control character"
    " but tab and line breaks"
)
TAG_KEY_RULE = f"a tag key is 1 to {MAX_TAG_KEY} characters (Azure ML's limit), with no control character"
TAG_VALUE_RULE = (
    f"a tag value is at most {MAX_TAG_VALUE:,} characters (Azure ML's limit), and holds no control character"
    " but tab and line breaks"
)
TAGS_RULE = (
    f"a run has at most {MAX_TAGS} tags (Azure ML's limit), and its tags, kept as JSON, take at most"
    f" {MAX_TAGS_STORED:,} characters (one Table storage property)"
)


def _why(text: str, limit: int, control: re.Pattern[str]) -> str | None:
    if unpaired_surrogate(text) is not None:
        return f"holds {SURROGATE_RULE}"
    found = control.search(text)
    if found:
        return f"holds {_character(text, found.start())}, a control character"
    if len(text) > limit:
        return f"is {len(text):,} characters long"
    return None


def experiment_name_problem(name: str) -> str | None:
    """What is wrong with `name` as an experiment name (`"holds U+0000, a control character: an
    experiment name is ..."`), or None."""
    if EXPERIMENT_NAME.fullmatch(name):
        return None
    why = _why(name, 255, _CONTROL)
    if why is None:
        found = re.search(r"[^A-Za-z0-9_-]", name)
        if not name:
            why = "is empty"
        elif found:
            why = f"holds {name[found.start()]!r}"
        else:
            why = f"starts with {name[0]!r}"
    return f"{why}: {EXPERIMENT_NAME_RULE}"


def description_problem(text: str) -> str | None:
    why = _why(text, MAX_DESCRIPTION, _TEXT_CONTROL)
    return f"{why}: {DESCRIPTION_RULE}" if why else None


def entry_problems(entries: Mapping[str, str | None], name: str = "Tags", noun: str = "tag") -> list[tuple[str, str]]:
    """Every problem of each key and value of a run's tags (or properties: `noun`) as (target,
    message): `{name}.{key}` names the entry. A value may be None (a tag without a value)."""
    found: list[tuple[str, str]] = []
    for key, value in entries.items():
        shown = key if len(key) <= MAX_TAG_KEY else key[:MAX_TAG_KEY] + "..."
        target = f"{name}.{shown}" if key else name
        why = "is empty" if not key else _why(key, MAX_TAG_KEY, _CONTROL)
        if why:
            found.append((target, f"the {noun} key {shown!r} {why}: {TAG_KEY_RULE.replace('a tag', 'a ' + noun)}"))
        why = None if value is None else _why(value, MAX_TAG_VALUE, _TEXT_CONTROL)
        if why:
            found.append((target, f"{target} {why}: {TAG_VALUE_RULE.replace('a tag', 'a ' + noun)}"))
    return found


def tags_problems(tags: Mapping[str, str], name: str = "Tags") -> list[tuple[str, str]]:
    """Every problem of a run's tags as (target, message): `Tags.{key}` names the tag."""
    found = entry_problems(tags, name)
    if len(tags) > MAX_TAGS:
        found.append((name, f"{name} holds {len(tags)} tags: {TAGS_RULE}"))
    elif not found and (stored := stored_json_length(tags)) > MAX_TAGS_STORED:
        found.append((name, f"{name} take {stored:,} characters as JSON: {TAGS_RULE}"))
    return found


def stored_json_length(value: Any) -> int:
    """UTF-16 units of `value` as `pipelines.store.codec.json_text` writes it (ASCII JSON)."""
    return len(json.dumps(value, separators=(",", ":")))
