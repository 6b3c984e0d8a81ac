"""Pieces the OpenAPI generator is built from: schema helpers and operation records.

Shared by `pipelines.api.openapi` (the generator and the pipelines family's
operations) and `pipelines.api.openapi_history` (run history and outputs).
"""

from __future__ import annotations

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


NULLABLE_TEXT: JSON = {"type": ["string", "null"]}
SCALAR: JSON = {"type": ["string", "number", "boolean", "null"]}
LABELS: JSON = {"type": "object", "additionalProperties": SCALAR, "description": "Scalars are kept as text."}
STRINGS: JSON = {"type": "object", "additionalProperties": {"type": "string"}}
FLAG: JSON = {"type": ["boolean", "string"], "description": "true or false (also the strings, or 1 and 0)."}


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
    body: Body | None = None  # read on POST and PUT only
    params: tuple[str, ...] = ()  # names in PARAMETERS, or "query:<name>" for a plain query string
    errors: Mapping[int, str] = field(default_factory=dict)  # 404, 409, 412 ... and why
    paged: bool = False
    media: str = "application/json"
    responses: Mapping[str, JSON] = field(default_factory=dict)
    headers: tuple[str, ...] = ()  # names in HEADERS the 200 answer may carry
