"""Pieces the OpenAPI generator is built from: schema helpers and operation records.

Shared by `pipelines.api.openapi` (the generator), `pipelines.api.openapi_operations`
(the pipelines family's operations) and `pipelines.api.openapi_history` (run history
and outputs). Bodies and answers are wire models (`pipelines.api.bodies`,
`pipelines.api.answers` and the `*contract` modules): the helpers here write the
small schemas of parameters and of the few answers that are no JSON object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


# -- schema helpers -------------------------------------------------------------------------------
def ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def array(name: str) -> JSON:
    return {"type": "array", "items": ref(name)}


def obj(properties: JSON, required: tuple[str, ...] = (), description: str | None = None) -> JSON:
    schema: JSON = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


def text(description: str | None = None, **extra: Any) -> JSON:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def pattern_of(regex: re.Pattern[str]) -> str:
    """A server rule (anchored with `\\Z`: Python's `$` also matches before a final line break) as
    JSON Schema (ECMA 262) writes it, where `$` is the end."""
    return regex.pattern.removesuffix("\\Z") + "$"


def any_case(*words: str) -> str:
    """A JSON Schema pattern (ECMA 262 has no case-insensitive flag) for exactly one of `words`,
    in any case: `any_case("asc", "desc")` is `^(?:[Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])$`."""
    def letters(word: str) -> str:
        return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)

    return "^(?:" + "|".join(letters(word) for word in words) + ")$"


def segment(**extra: Any) -> JSON:
    """A path parameter: one segment, never empty, and never `.` or `..`, which clients and hosts
    resolve away before any route sees them."""
    return {"type": "string", "minLength": 1, "not": {"enum": [".", ".."]}, **extra}


def param(name: str, where: str, schema: JSON, description: str, required: bool = False) -> JSON:
    found: JSON = {"name": name, "in": where, "required": required, "schema": schema}
    return found | ({"description": description} if description else {})


def use(kind: str, name: str) -> JSON:
    return {"$ref": f"#/components/{kind}/{name}"}


@dataclass(frozen=True)
class Body:
    schema: JSON
    media: str = "application/json"
    required: bool = True
    description: str = "Parsed as JSON whatever the Content-Type says."


@dataclass(frozen=True)
class Op:
    summary: str
    answer: JSON
    description: str = ""
    body: Body | None = None  # the body the route reads
    params: tuple[str, ...] = ()  # names in PARAMETERS, or "query:<name>" for a plain query string
    errors: Mapping[int, str] = field(default_factory=dict)  # 404, 409, 412 ... and why
    paged: bool = False
    media: str = "application/json"
    responses: Mapping[str, JSON] = field(default_factory=dict)
    headers: tuple[str, ...] = ()  # names in HEADERS the 200 answer may carry
