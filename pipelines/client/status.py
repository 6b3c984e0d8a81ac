"""Status codes in words: the one mapping the client and the command line use.

The wire carries integers (C# and Java clients bind them to `int`), and the same
number means different things in different places: a run's StatusCode 3 is
Finished, a step's 3 is Failed. Print the words, never the codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# PipelineRunEntity.Status.StatusCode (docs/contract.md §3).
RUN_STATUS = {0: "NotStarted", 1: "Running", 2: "Failed", 3: "Finished", 4: "Canceled"}
# TaskStatus.StatusCode of a step.
TASK_STATUS = {
    0: "NotStarted", 1: "Queued", 2: "Running", 3: "Failed", 4: "Finished", 5: "Canceled",
    6: "PartiallyExecuted", 7: "Bypassed",
}
# EntityStatus of published pipelines, endpoints, triggers and schedules.
ENTITY_STATUS = {0: "Active", 1: "Deprecated", 2: "Disabled"}

RUN_ENDED = frozenset({"Finished", "Failed", "Canceled"})
STEP_ENDED = frozenset({"Finished", "Failed", "Canceled", "Bypassed"})

__all__ = [
    "ENTITY_STATUS",
    "RUN_ENDED",
    "RUN_STATUS",
    "STEP_ENDED",
    "TASK_STATUS",
    "entity_status",
    "parse_time",
    "run_status",
    "seconds_between",
    "step_status",
]


def _word(table: Mapping[int, str], code: Any) -> str:
    if isinstance(code, str):  # already a word (some answers carry both forms)
        return code
    if isinstance(code, int) and not isinstance(code, bool) and code in table:
        return table[code]
    return "Unknown" if code is None else f"Unknown({code})"


def run_status(entity: Mapping[str, Any]) -> str:
    """The word of a PipelineRunEntity's `Status.StatusCode`."""
    status = entity.get("Status")
    return _word(RUN_STATUS, status.get("StatusCode") if isinstance(status, Mapping) else None)


def step_status(status: Mapping[str, Any]) -> str:
    """The word of a step's TaskStatus `StatusCode`."""
    return _word(TASK_STATUS, status.get("StatusCode"))


def entity_status(code: Any) -> str:
    """The word of an `EntityStatus` (0 Active, 1 Deprecated, 2 Disabled); 0 when absent."""
    return _word(ENTITY_STATUS, 0 if code is None else code)


def parse_time(value: Any) -> datetime | None:
    """A wire time (ISO 8601, `Z` or an offset) as an aware datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def seconds_between(start: Any, end: Any = None) -> float | None:
    """Seconds from `start` to `end` (wire times); to now while `end` is None."""
    began = parse_time(start)
    if began is None:
        return None
    ended = parse_time(end) if end is not None else datetime.now(UTC)
    if ended is None:
        return None
    return max(0.0, (ended - began).total_seconds())
