"""The filter and ordering language of the run-history service: an OData subset.

Clients send filters such as

    Status eq 'Running' or Status eq 'NotStarted'
    (ParentRunId eq null)                                   SDK v1 Experiment.get_runs()
    ((RunType eq azureml.PipelineRun or Properties/azureml.runsource eq azureml.PipelineRun)
      and (Tags/k eq "v") and (Status eq Completed))         SDK v1, values as it quotes them
    (RootRunId eq 8f0c... and RunId ne 8f0c...)               SDK v1 get_children(recursive=True)
    CreatedUtc ge datetime'2026-11-01T00:00:00Z'

Supported: `eq ne gt ge lt le`, `and`, `or`, parentheses, on `Status`, `RunType`,
`RunId`, `ParentRunId`, `RootRunId`, `Name`, `DisplayName`, `Target`, `CreatedUtc`,
`StartTimeUtc`, `EndTimeUtc`, `RunNumber`, `Tags/{key}` and `Properties/{key}`,
with `'string'` (a quote doubled inside), `"string"` (read as it is, nothing
escaped, as SDK v1 writes tag values), bare words (SDK v1 leaves run ids, types,
statuses and compute target names unquoted), numbers, `datetime'...'`, a bare
datetime as Python prints one (SDK v1's `created_after`: `2026-11-01 00:00:00`) and `null`. Anything else is a
`BadRequestError` naming the token it could not read: a filter this service
misread would silently match the wrong runs, so it never guesses. Field names
and status words are matched case-insensitively.

`parse_filter` gives a tree that `matches` evaluates on a record; before
anything is read, `only_unfinished`, `may_match_steps` and `pinned_runs` tell
the reader which runs it needs to look at at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pipelines.errors import BadRequestError
from pipelines.runs.history import ABSENT, FINISHED_WORDS, STATUS_WORDS, STEP_RUN_TYPE

MAX_FILTER_CHARS = 8192
MAX_DEPTH = 32

_OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le")

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<datetime>datetime'[^']*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<dstring>"[^"]*")
  | (?P<time>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?=[\s()]|$))
  | (?P<bare>[^\s()'"]+)
    """,
    re.VERBOSE,
)
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Comparison:
    field: str  # canonical: "Status", "CreatedUtc", "Tags", ...
    key: str | None  # the tag or property name
    op: str
    value: Any  # str, float, datetime or None


@dataclass(frozen=True)
class Junction:
    op: str  # "and" | "or"
    parts: tuple[Node, ...]


Node = Comparison | Junction


@dataclass(frozen=True)
class _Token:
    kind: str  # open, close, datetime, string, bare
    text: str
    at: int
    value: Any = None  # the literal's value: str, or datetime


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            bad = text[at:].split(None, 1)[0][:40]
            raise BadRequestError(f"the filter has a token it cannot read at {at}: {bad!r}", target="filter")
        kind, raw = match.lastgroup or "", match.group(0)
        if kind == "datetime":
            found.append(_Token(kind, raw, at, _parse_time(raw[9:-1], raw)))
        elif kind == "string":
            found.append(_Token(kind, raw, at, raw[1:-1].replace("''", "'")))
        elif kind == "dstring":
            # SDK v1 writes tag and property values in double quotes as they are, nothing escaped
            # (`value_to_odata_string`): `"C:\data\new"` is those eleven characters.
            found.append(_Token("string", raw, at, raw[1:-1]))
        elif kind == "time":
            # SDK v1 writes a datetime bare, as Python prints it: `(CreatedUtc ge 2026-11-01 00:00:00)`.
            found.append(_Token(kind, raw, at, _parse_time(raw, raw)))
        elif kind != "space":
            found.append(_Token(kind, raw, at, raw))
        at = match.end()
    return found


def _parse_time(text: str, token: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestError(f"the filter has a date it cannot read: {token!r}", target="filter") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class _Parser:
    def __init__(self, text: str, fields: Fields) -> None:
        self.tokens = _tokens(text)
        self.fields = fields
        self.at = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise BadRequestError("the filter ends too early", target="filter")
        self.at += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "bare" and token.text.lower() in words:
            self.at += 1
            return token.text.lower()
        return None

    def expression(self, depth: int = 0) -> Node:
        if depth > MAX_DEPTH:
            raise BadRequestError("the filter is nested too deeply", target="filter")
        parts = [self.conjunction(depth)]
        while self.keyword("or"):
            parts.append(self.conjunction(depth))
        return parts[0] if len(parts) == 1 else Junction("or", tuple(parts))

    def conjunction(self, depth: int) -> Node:
        parts = [self.primary(depth)]
        while self.keyword("and"):
            parts.append(self.primary(depth))
        return parts[0] if len(parts) == 1 else Junction("and", tuple(parts))

    def primary(self, depth: int) -> Node:
        token = self.take()
        if token.kind == "open":
            inner = self.expression(depth + 1)
            closing = self.take()
            if closing.kind != "close":
                raise BadRequestError(f"the filter expects ')' at {closing.at}, not {closing.text!r}", target="filter")
            return inner
        if token.kind != "bare":
            raise BadRequestError(f"the filter expects a field name at {token.at}, not {token.text!r}", target="filter")
        field, key = self.fields.find(token)
        operator = self.take()
        if operator.kind != "bare" or operator.text.lower() not in _OPERATORS:
            raise BadRequestError(
                f"the filter expects one of {', '.join(_OPERATORS)} at {operator.at}, not {operator.text!r}",
                target="filter",
            )
        return Comparison(field, key, operator.text.lower(), self.fields.literal(field, self.take()))


@dataclass(frozen=True)
class Fields:
    """The fields a filter may name: by lower-case name, their canonical name and kind."""

    kinds: dict[str, tuple[str, str]]  # lower name -> (canonical, "text" | "time" | "number" | "status")
    maps: dict[str, str]  # lower prefix -> canonical ("tags" -> "Tags")

    def find(self, token: _Token) -> tuple[str, str | None]:
        name, _, key = token.text.partition("/")
        lowered = name.lower()
        if key and lowered in self.maps:
            return self.maps[lowered], key
        if not key and lowered in self.kinds:
            return self.kinds[lowered][0], None
        raise BadRequestError(f"the filter cannot filter on {token.text!r}", target="filter")

    def literal(self, field: str, token: _Token) -> Any:
        if token.kind == "bare" and token.text.lower() == "null":
            return None
        kind = next((k for canonical, k in self.kinds.values() if canonical == field), "text")
        if kind == "time" and token.kind in ("datetime", "time"):
            return token.value
        if kind == "time" and token.kind == "string":  # `'2026-11-01T00:00:00Z'`: the date in a string
            return _parse_time(str(token.value), token.text)
        if kind == "number" and token.kind == "string" and _NUMBER.match(str(token.value)):  # `'26'`
            return float(str(token.value))
        if token.kind == "time":  # a bare datetime compared with another kind of field: its text
            token = _Token("bare", token.text, token.at, token.text)
        if kind == "number" and token.kind == "bare" and _NUMBER.match(token.text):
            return float(token.text)
        if kind in ("text", "status") and token.kind in ("string", "bare"):
            # SDK v1 leaves run ids, run types and statuses unquoted: `(Status eq Completed)`.
            if kind == "status":
                word = STATUS_WORDS.get(str(token.value).lower())
                if word is None:
                    known = ", ".join(sorted(STATUS_WORDS.values()))
                    raise BadRequestError(f"the filter names no known status {token.text}: {known}", target="filter")
                return word
            return token.value
        wanted = {"time": "a datetime'...'", "number": "a number", "text": "a string", "status": "a status"}[kind]
        raise BadRequestError(
            f"the filter compares {field} with {token.text!r} at {token.at}: {wanted} or null is needed",
            target="filter",
        )


RUN_FIELDS = Fields(
    kinds={
        "status": ("Status", "status"),
        **{
            name.lower(): (name, "text")
            for name in ("RunType", "RunId", "ParentRunId", "RootRunId", "Name", "DisplayName", "Target")
        },
        **{name.lower(): (name, "time") for name in ("CreatedUtc", "StartTimeUtc", "EndTimeUtc")},
        "runnumber": ("RunNumber", "number"),
    },
    maps={"tags": "Tags", "properties": "Properties"},
)
EXPERIMENT_FIELDS = Fields(
    kinds={"name": ("Name", "text"), "experimentid": ("ExperimentId", "text"), "createdutc": ("CreatedUtc", "time")},
    maps={"tags": "Tags"},
)


def parse_filter(text: str | None, fields: Fields = RUN_FIELDS) -> Node | None:
    """The filter's tree; None for no filter (everything matches)."""
    if text is None or not text.strip():
        return None
    if len(text) > MAX_FILTER_CHARS:
        raise BadRequestError(f"the filter is over {MAX_FILTER_CHARS} characters", target="filter")
    parser = _Parser(text, fields)
    tree = parser.expression()
    rest = parser.peek()
    if rest is not None:
        raise BadRequestError(f"the filter has a token it cannot read at {rest.at}: {rest.text!r}", target="filter")
    return tree


# -- evaluation ---------------------------------------------------------------------------------
class Filterable(Protocol):
    def filter_value(self, field: str, key: str | None) -> Any: ...


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b),
    "ne": lambda a, b: bool(a != b),
    "gt": lambda a, b: bool(a > b),
    "ge": lambda a, b: bool(a >= b),
    "lt": lambda a, b: bool(a < b),
    "le": lambda a, b: bool(a <= b),
}


# Fields that name an entry of a map: a tag or property without a value ("") is null.
_MAPS = ("Tags", "Properties")


def _compare(actual: Any, comparison: Comparison) -> bool:
    expected = comparison.value
    if actual is ABSENT:
        return False  # a tag or property the run does not have: nothing is true of it
    if comparison.field in _MAPS:
        actual, expected = (None if value == "" else value for value in (actual, expected))
    if actual is None or expected is None:
        # null is equal only to null; it is neither greater nor smaller than anything.
        if comparison.op == "eq":
            return actual is None and expected is None
        if comparison.op == "ne":
            return not (actual is None and expected is None)
        return False
    if comparison.field == "Status":
        actual, expected = str(actual).lower(), str(expected).lower()
    if isinstance(actual, datetime) != isinstance(expected, datetime):
        return comparison.op == "ne"  # a time and a text are never equal, nor ordered
    if isinstance(actual, (int, float)) and not isinstance(expected, (int, float)):
        actual = str(actual)
    return _COMPARE[comparison.op](actual, expected)


def matches(tree: Node | None, record: Filterable) -> bool:
    if tree is None:
        return True
    if isinstance(tree, Comparison):
        return _compare(record.filter_value(tree.field, tree.key), tree)
    results = (matches(part, record) for part in tree.parts)
    return all(results) if tree.op == "and" else any(results)


# -- what a filter can match, before reading anything ---------------------------------------------------
Decide = Callable[[Comparison], "bool | None"]


def _decide(tree: Node, decide: Decide) -> bool | None:
    """Three-valued: True/False where `decide` settles the filter, None where other fields do."""
    if isinstance(tree, Comparison):
        return decide(tree)
    values = [_decide(part, decide) for part in tree.parts]
    if tree.op == "and":
        return False if False in values else (None if None in values else True)
    return True if True in values else (None if None in values else False)


def only_unfinished(tree: Node | None) -> bool:
    """True when no run that has ended (Completed, Failed, Canceled) can match."""
    if tree is None:
        return False
    def by_status(word: str) -> Decide:
        return lambda c: _compare(word, c) if c.field == "Status" else None

    return all(_decide(tree, by_status(word)) is False for word in FINISHED_WORDS)


def may_match_steps(tree: Node | None) -> bool:
    """Whether a step run can match: SDK v1 asks for `(ParentRunId eq null)` (pipeline runs
    only) by default and for `RootRunId eq X and RunId ne X` (a run's steps) when recursive."""

    def decide(c: Comparison) -> bool | None:
        if c.field == "RunType" or (c.field == "Properties" and c.key == "azureml.runsource"):
            return _compare(STEP_RUN_TYPE, c)
        if c.field == "ParentRunId" and c.value is None:
            return _compare("a parent", c)
        return None

    return tree is None or _decide(tree, decide) is not False


def pinned_runs(tree: Node | None) -> set[str] | None:
    """The ids a filter pins the answer to, so a query reads those runs, not a history: a
    required term `RootRunId eq X`, `ParentRunId eq X` or `RunId eq X`, or an `or` of such
    terms (SDK v1 asks for runs by id as `RunId eq A or RunId eq B`)."""
    if tree is None:
        return None
    terms = tree.parts if isinstance(tree, Junction) and tree.op == "and" else (tree,)
    for term in terms:
        choices = term.parts if isinstance(term, Junction) and term.op == "or" else (term,)
        ids = [_pinned_id(choice) for choice in choices]
        if all(run_id is not None for run_id in ids):
            return {run_id for run_id in ids if run_id is not None}
    return None


def _pinned_id(term: Node) -> str | None:
    if (
        isinstance(term, Comparison)
        and term.op == "eq"
        and term.field in ("RootRunId", "ParentRunId", "RunId")
        and isinstance(term.value, str)
    ):
        return term.value
    return None


# -- ordering -------------------------------------------------------------------------------------
ORDER_FIELDS = {
    "createdutc": "CreatedUtc",
    "starttimeutc": "StartTimeUtc",
    "endtimeutc": "EndTimeUtc",
    "runnumber": "RunNumber",
    "runid": "RunId",
}


@dataclass(frozen=True)
class Order:
    field: str = "CreatedUtc"
    descending: bool = True

    def key(self, record: Filterable) -> list[Any]:
        """A sort key that survives a round trip through JSON (it goes into tokens):
        [missing, number], or [missing, code points] for a text (a run id); records without
        the value (not started yet) sort last."""
        value = record.filter_value(self.field, None)
        if value is None:
            return [1, 0.0]
        if isinstance(value, str):
            points = [ord(c) for c in value]
            # Descending: each point negated, and an end mark above any of them, so that a text
            # sorts before the texts it begins (`abc` before `ab`).
            return [0, [-p for p in points] + [1] if self.descending else points]
        number = value.timestamp() if isinstance(value, datetime) else float(value)
        return [0, -number if self.descending else number]


def parse_order(orderby: str | None, sortorder: str | None = None) -> Order | None:
    """`StartTimeUtc desc` (what SDK v1 sends), another time field, or None when none is asked."""
    text = (orderby or "").strip()
    if not text:
        if sortorder and sortorder.strip().lower() not in ("asc", "desc"):
            raise BadRequestError(f"the sort order must be asc or desc, not {sortorder!r}", target="sortorder")
        return Order(descending=sortorder.strip().lower() == "desc") if sortorder else None
    parts = text.split()
    field = ORDER_FIELDS.get(parts[0].lower())
    if field is None or len(parts) > 2 or "," in text:
        raise BadRequestError(
            f"orderby cannot be {text!r}: one of {', '.join(ORDER_FIELDS.values())}, then asc or desc",
            target="orderby",
        )
    direction = (parts[1] if len(parts) == 2 else (sortorder or "asc")).strip().lower()
    if direction not in ("asc", "desc"):
        raise BadRequestError(f"the sort order must be asc or desc, not {direction!r}", target="orderby")
    return Order(field, direction == "desc")
