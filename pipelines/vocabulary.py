"""Words every layer shares: an entity's status and the clock.

Neutral ground: the catalogue, triggers, schedules and runs use these, and so
do the wire models in `pipelines.api`, without either importing the other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from pipelines.errors import BadRequestError


def now() -> datetime:
    """The current time, in UTC (every stored time is UTC)."""
    return datetime.now(UTC)


class EntityStatus(IntEnum):
    ACTIVE = 0
    DEPRECATED = 1
    DISABLED = 2

    @classmethod
    def parse(cls, value: Any, *, target: str = "EntityStatus") -> EntityStatus:
        """Both forms arrive on input: 0 / "Active" (docs/contract.md §3)."""
        if isinstance(value, bool):
            raise BadRequestError("EntityStatus must be 0, 1, 2 or a status name", target=target)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON Schema's integer: 2.0 is 2
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                pass
        if isinstance(value, str):
            # "0", "1", "2" or a name in any case, as written (OpenAPI: `EntityStatusValue`).
            for member in cls:
                if value == str(member.value) or value.lower() == member.name.lower():
                    return member
        raise BadRequestError(
            f"EntityStatus must be one of Active, Deprecated, Disabled (or 0, 1, 2), not {value!r}",
            target=target,
        )
