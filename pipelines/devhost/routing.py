"""HTTP trigger route templates, matched as the Functions host (ASP.NET Core routing) does.

Supported template syntax: literal segments (matched case-insensitively),
`{name}`, `{name?}` (optional), `{name=default}`, `{name:int}` and the other
inline constraints (several may be chained: `{id:int:min(1)}`), `{*rest}` /
`{**rest}` catch-alls, and segments mixing literals and parameters
(`{file}.{ext}`).

When several templates match a path, the most specific wins, segment by segment:
literal, then constrained parameter or mixed segment, then plain parameter, then
catch-all (ASP.NET Core `RoutePrecedence.ComputeInbound`,
https://github.com/dotnet/aspnetcore/blob/main/src/Http/Routing/src/Template/RoutePrecedence.cs).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar
from urllib.parse import unquote

log = logging.getLogger("pipelines.devhost")

T = TypeVar("T")

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


class RouteTemplateError(ValueError):
    pass


# -- constraints --------------------------------------------------------------------------------
def _integer(bounds: tuple[int, int]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return bool(re.fullmatch(r"[+-]?\d+", value)) and bounds[0] <= int(value) <= bounds[1]

    return check


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _constraint(name: str, argument: str | None) -> Callable[[str], bool] | None:
    """One inline constraint as a predicate; None (with a warning) when unknown."""
    simple: dict[str, Callable[[str], bool]] = {
        "int": _integer(_INT32),
        "long": _integer(_INT64),
        "bool": lambda v: v.lower() in ("true", "false"),
        "guid": _guid,
        "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
        "decimal": _number,
        "double": _number,
        "float": _number,
        "datetime": _datetime,
        "required": lambda v: v != "",
    }
    key = name.lower()
    if argument is None and key in simple:
        return simple[key]
    if argument is not None:
        args = [part.strip() for part in argument.split(",")]
        if key == "minlength":
            return lambda v: len(v) >= int(args[0])
        if key == "maxlength":
            return lambda v: len(v) <= int(args[0])
        if key == "length":
            low, high = (int(args[0]), int(args[-1]))
            return lambda v: low <= len(v) <= high
        if key in ("min", "max", "range"):
            limits = [int(arg) for arg in args]
            low = limits[0] if key != "max" else _INT64[0]
            high = limits[-1] if key != "min" else _INT64[1]
            number = _integer(_INT64)
            return lambda v: number(v) and low <= int(v) <= high
        if key == "regex":
            pattern = re.compile(argument, re.IGNORECASE)
            return lambda v: pattern.search(v) is not None
    log.warning("route constraint %r is not known to the development host: ignored", name)
    return None


# -- template parsing ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Parameter:
    name: str
    optional: bool = False
    catch_all: bool = False
    default: str | None = None
    checks: tuple[Callable[[str], bool], ...] = ()
    constrained: bool = False

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.checks)


@dataclass(frozen=True)
class Segment:
    """A literal segment, a single parameter, or a mix of both (`{file}.{ext}`)."""

    parts: tuple[str | Parameter, ...]

    @property
    def literal(self) -> str | None:
        return self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], str) else None

    @property
    def parameter(self) -> Parameter | None:
        part = self.parts[0]
        return part if len(self.parts) == 1 and isinstance(part, Parameter) else None

    @property
    def precedence(self) -> int:
        if self.literal is not None:
            return 1
        parameter = self.parameter
        if parameter is None:
            return 2  # mixed segment
        if parameter.catch_all:
            return 4
        return 2 if parameter.constrained else 3


def _split_outside_parentheses(text: str, separator: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _parse_parameter(body: str, template: str) -> Parameter:
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    optional = body.endswith("?")
    body = body.rstrip("?")
    default = None
    # `=` may appear inside a regex constraint: only the last one outside parentheses counts.
    pieces = _split_outside_parentheses(body, "=")
    if len(pieces) > 1:
        body, default = "=".join(pieces[:-1]), pieces[-1]
    name, *constraints = _split_outside_parentheses(body, ":")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise RouteTemplateError(f"route {template!r}: {name!r} is not a parameter name")
    checks = []
    for constraint in constraints:
        match = re.fullmatch(r"(\w+)(?:\((.*)\))?", constraint, re.DOTALL)
        if not match:
            raise RouteTemplateError(f"route {template!r}: bad constraint {constraint!r}")
        check = _constraint(match.group(1), match.group(2))
        if check is not None:
            checks.append(check)
    return Parameter(
        name=name,
        optional=optional or catch_all,  # a catch-all may match nothing
        catch_all=catch_all,
        default=default,
        checks=tuple(checks),
        constrained=bool(constraints),
    )


def _parse_segment(text: str, template: str) -> Segment:
    parts: list[str | Parameter] = []
    for piece in re.split(r"(\{[^{}]*\})", text):
        if not piece:
            continue
        if piece.startswith("{"):
            parts.append(_parse_parameter(piece[1:-1], template))
        elif "{" in piece or "}" in piece:
            raise RouteTemplateError(f"route {template!r}: unbalanced braces in {text!r}")
        else:
            parts.append(piece)
    if not parts:
        raise RouteTemplateError(f"route {template!r}: empty segment")
    return Segment(tuple(parts))


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        text = template.strip().strip("/")
        segments = tuple(_parse_segment(part, template) for part in text.split("/")) if text else ()
        for index, segment in enumerate(segments):
            parameter = segment.parameter
            if parameter and parameter.catch_all and index != len(segments) - 1:
                raise RouteTemplateError(f"route {template!r}: a catch-all must be the last segment")
            if parameter and parameter.optional and not parameter.catch_all:
                later = segments[index + 1 :]
                if any(not (s.parameter and (s.parameter.optional or s.parameter.default)) for s in later):
                    raise RouteTemplateError(f"route {template!r}: an optional parameter must be last")
        return cls(text, segments)

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(segment.precedence for segment in self.segments)

    def match(self, path: Sequence[str]) -> dict[str, str] | None:
        """Route values for `path` (raw, still percent-encoded segments), or None."""
        values: dict[str, str] = {}
        position = 0
        for segment in self.segments:
            parameter = segment.parameter
            if parameter and parameter.catch_all:
                rest = "/".join(unquote(part) for part in path[position:])
                if rest:
                    if not parameter.accepts(rest):
                        return None
                    values[parameter.name] = rest
                elif parameter.default is not None:
                    values[parameter.name] = parameter.default
                return values
            if position >= len(path):
                if parameter and (parameter.optional or parameter.default is not None):
                    if parameter.default is not None:
                        values[parameter.name] = parameter.default
                    continue
                return None
            if not _match_segment(segment, unquote(path[position]), values):
                return None
            position += 1
        return values if position == len(path) else None


def _match_segment(segment: Segment, value: str, values: dict[str, str]) -> bool:
    literal = segment.literal
    if literal is not None:
        return literal.casefold() == value.casefold()
    parameter = segment.parameter
    if parameter is not None:
        if value == "" or not parameter.accepts(value):
            return False
        values[parameter.name] = value
        return True
    # A mixed segment: literals anchor the parameters between them.
    pattern = "".join(
        re.escape(part) if isinstance(part, str) else f"(?P<{part.name}>.+?)" for part in segment.parts
    )
    match = re.fullmatch(pattern, value, re.IGNORECASE)
    if not match:
        return False
    for part in segment.parts:
        if isinstance(part, Parameter):
            if not part.accepts(match.group(part.name)):
                return False
            values[part.name] = match.group(part.name)
    return True


# -- the table -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resolution(Generic[T]):
    """A request's target, or why there is none (`allowed` non-empty: the method is wrong)."""

    target: T | None = None
    route_params: dict[str, str] = field(default_factory=dict)
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Entry(Generic[T]):
    template: RouteTemplate
    methods: frozenset[str]  # empty: every method
    target: T
    order: int


class RouteTable(Generic[T]):
    def __init__(self) -> None:
        self._entries: list[_Entry[T]] = []

    def add(self, template: str, methods: Iterable[str] | None, target: T) -> RouteTemplate:
        parsed = RouteTemplate.parse(template)
        method_set = frozenset(method.upper() for method in methods or ())
        for entry in self._entries:
            overlap = not entry.methods or not method_set or entry.methods & method_set
            if entry.template.text.lower() == parsed.text.lower() and overlap:
                log.warning("route %r is registered twice: the first registration wins", template)
        self._entries.append(_Entry(parsed, method_set, target, len(self._entries)))
        # Most specific first; ties keep a stable, readable order.
        self._entries.sort(key=lambda e: (e.template.precedence, e.template.text.lower(), e.order))
        return parsed

    def routes(self) -> list[tuple[RouteTemplate, frozenset[str], T]]:
        """Every route, most specific first."""
        return [(e.template, e.methods, e.target) for e in self._entries]

    def resolve(self, method: str, path: Sequence[str]) -> Resolution[T]:
        allowed: list[str] = []
        for entry in self._entries:
            values = entry.template.match(path)
            if values is None:
                continue
            if not entry.methods or method.upper() in entry.methods:
                return Resolution(entry.target, values)
            allowed.extend(m for m in sorted(entry.methods) if m not in allowed)
        return Resolution(None, {}, tuple(allowed))


def split_path(raw_path: str) -> list[str]:
    """`/a/b/` → ["a", "b"]: one trailing slash is ignored, as ASP.NET Core routing does."""
    path = raw_path.split("?", 1)[0].lstrip("/")
    path = path.removesuffix("/")
    return path.split("/") if path else []
