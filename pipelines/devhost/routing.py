"""HTTP trigger route templates, matched as the Functions host (ASP.NET Core routing) does.

Supported template syntax: literal segments (matched case-insensitively),
`{name}`, `{name?}` (optional), `{name=default}`, `{name:int}` and the other
inline constraints (several may be chained: `{id:int:min(1)}`), `{*rest}` /
`{**rest}` catch-alls, and segments mixing literals and parameters
(`{file}.{ext}`).

The host (azure-functions-host 4.x, `WebScriptHostHttpRoutesManager`) maps each
function to a classic ASP.NET Core `Route` whose methods are an
`HttpMethodRouteConstraint`, and tries them in the order
`WebJobsRouteBuilder.Build` sorts them (azure-webjobs-sdk-extensions,
`src/WebJobs.Extensions.Http/WebJobsRouteBuilder.cs`, `RouteComparison`),
segment by segment: a literal before a parameter, two literals alphabetically
(ordinal, ignoring case), two parameters by their number of inline constraints
(more first), and a longer template before its own prefix. The first route that
matches the path and whose method constraint accepts the request wins, so a
route that matches with another method lets the next one try: no 405, and if
none is left the host answers 404. Templates that compare equal (`files/{*path}`
and `files/{name}`) keep the order they were registered in here; the host's
`List.Sort` leaves their order unspecified, so do not rely on it.

When indexing, the host (`ScriptHost.ValidateHttpFunction`, `HttpRoutesConflict`)
refuses a route beginning with `admin` or `runtime` and a route equal (ignoring
case) to another function's with a method in common; that function is disabled.
"""

from __future__ import annotations

import functools
import logging
import math
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


class RouteConflictError(RouteTemplateError):
    """The host refuses this function's route (reserved, or another function's)."""


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
    constraint_count: int = 0  # inline constraints written, known or not

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.checks)


@dataclass(frozen=True)
class Segment:
    """A literal segment, a single parameter, or a mix of both (`{file}.{ext}`)."""

    parts: tuple[str | Parameter, ...]

    # Worked out once per segment (every request tries every route until one matches).
    @functools.cached_property
    def literal(self) -> str | None:
        return self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], str) else None

    @functools.cached_property
    def folded(self) -> str | None:
        """The literal, case-folded: what a request's segment, case-folded, is compared with."""
        return self.literal.casefold() if self.literal is not None else None

    @functools.cached_property
    def parameter(self) -> Parameter | None:
        part = self.parts[0]
        return part if len(self.parts) == 1 and isinstance(part, Parameter) else None


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
        constraint_count=len(constraints),
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

    def match(self, path: Sequence[str]) -> dict[str, str] | None:
        """Route values for `path` (raw, still percent-encoded segments), or None."""
        return self.match_decoded(_Path.of(path))

    @functools.cached_property
    def lengths(self) -> tuple[int, float]:
        """The fewest and the most path segments the template can match: a segment may be left
        out only with every one after it (an optional or defaulted parameter), and a catch-all
        takes any number."""
        required = [i for i, s in enumerate(self.segments)
                    if not (s.parameter and (s.parameter.optional or s.parameter.default is not None))]
        catch_all = bool(self.segments) and bool(self.segments[-1].parameter and self.segments[-1].parameter.catch_all)
        return (required[-1] + 1 if required else 0), (math.inf if catch_all else len(self.segments))

    def match_decoded(self, path: _Path) -> dict[str, str] | None:
        """`match`, for a path decoded once for every route it is tried against."""
        decoded = path.decoded
        values: dict[str, str] = {}
        position = 0
        for segment in self.segments:
            parameter = segment.parameter
            if parameter and parameter.catch_all:
                rest = "/".join(decoded[position:])
                if rest:
                    if not parameter.accepts(rest):
                        return None
                    values[parameter.name] = rest
                elif parameter.default is not None:
                    values[parameter.name] = parameter.default
                return values
            if position >= len(decoded):
                if parameter and (parameter.optional or parameter.default is not None):
                    if parameter.default is not None:
                        values[parameter.name] = parameter.default
                    continue
                return None
            if not _match_segment(segment, decoded[position], path.folded[position], values):
                return None
            position += 1
        return values if position == len(decoded) else None


@dataclass(frozen=True)
class _Path:
    """A request's path segments, percent-decoded and case-folded once."""

    decoded: tuple[str, ...]
    folded: tuple[str, ...]

    @classmethod
    def of(cls, raw: Sequence[str]) -> _Path:
        decoded = tuple(unquote(part) for part in raw)
        return cls(decoded, tuple(part.casefold() for part in decoded))


def _match_segment(segment: Segment, value: str, folded: str, values: dict[str, str]) -> bool:
    if segment.folded is not None:
        return segment.folded == folded
    parameter = segment.parameter
    if parameter is not None:
        if value == "" or not parameter.accepts(value):
            return False
        values[parameter.name] = value
        return True
    # A mixed segment: literals anchor the parameters between them; ASP.NET Core matches
    # it from the right, so `{file}.{ext}` takes `a.b.c` as `a.b` and `c` (greedy here).
    pattern = "".join(
        re.escape(part) if isinstance(part, str) else f"(?P<{part.name}>.+)" for part in segment.parts
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
def _compare_text(a: str, b: str) -> int:
    # .NET string.Compare(a, b, StringComparison.OrdinalIgnoreCase): upper-cased, code point order.
    x, y = a.upper(), b.upper()
    return (x > y) - (x < y)


def compare_routes(x: RouteTemplate, y: RouteTemplate) -> int:
    """`WebJobsRouteBuilder.RouteComparison`: negative when `x` is tried before `y`."""
    for index, segment in enumerate(x.segments):
        if len(y.segments) <= index:
            return -1
        # Only the first part of a segment counts (`{file}.{ext}` is a parameter, `v{n}` a literal).
        first, other = segment.parts[0], y.segments[index].parts[0]
        if isinstance(first, str) and isinstance(other, Parameter):
            return -1
        if isinstance(first, Parameter) and isinstance(other, str):
            return 1
        if isinstance(first, Parameter) and isinstance(other, Parameter):
            if first.constraint_count != other.constraint_count:
                return -1 if first.constraint_count > other.constraint_count else 1
        elif isinstance(first, str) and isinstance(other, str):
            comparison = _compare_text(first, other)
            if comparison:
                return comparison
    return 1 if len(y.segments) > len(x.segments) else 0


def check_route(template: str) -> None:
    """`ScriptHost.ValidateHttpFunction`: routes in the host's own space are refused."""
    if template.strip("/").lower().startswith(("admin", "runtime")):
        raise RouteConflictError(
            f"route {template!r}: the specified route conflicts with one or more built in routes"
        )


@dataclass(frozen=True)
class Resolution(Generic[T]):
    """A request's target, or none; `allowed` lists the methods of routes that matched the path."""

    target: T | None = None
    route_params: dict[str, str] = field(default_factory=dict)
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Entry(Generic[T]):
    template: RouteTemplate
    methods: frozenset[str]  # empty: every method
    target: T
    name: str


class RouteTable(Generic[T]):
    def __init__(self) -> None:
        self._entries: list[_Entry[T]] = []

    def add(self, template: str, methods: Iterable[str] | None, target: T, name: str = "") -> RouteTemplate:
        """Add one function's route; `RouteConflictError` when the host would disable it."""
        check_route(template)
        parsed = RouteTemplate.parse(template)
        method_set = frozenset(method.upper() for method in methods or ())
        for entry in self._entries:
            overlap = not entry.methods or not method_set or entry.methods & method_set
            if entry.template.text.lower() == parsed.text.lower() and overlap:
                raise RouteConflictError(
                    f"route {template!r}: the route specified conflicts with the route defined by "
                    f"function {entry.name!r}"
                )
        self._entries.append(_Entry(parsed, method_set, target, name))
        # Python's sort is stable: templates that compare equal keep their registration order.
        self._entries.sort(key=functools.cmp_to_key(lambda a, b: compare_routes(a.template, b.template)))
        return parsed

    def routes(self) -> list[tuple[RouteTemplate, frozenset[str], T]]:
        """Every route, in the order they are tried."""
        return [(e.template, e.methods, e.target) for e in self._entries]

    def resolve(self, method: str, path: Sequence[str]) -> Resolution[T]:
        allowed: list[str] = []
        decoded = _Path.of(path)
        for entry in self._entries:
            fewest, most = entry.template.lengths
            if not fewest <= len(path) <= most:
                continue  # it cannot match: no need to walk it
            values = entry.template.match_decoded(decoded)
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
