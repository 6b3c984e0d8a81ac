"""How values that Table storage has no type for are kept in entity properties.

Times are ISO 8601 text (lossless, readable in Storage Explorer, and the same in
the emulator and in Azure); maps and lists are compact JSON text.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def time_text(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def parse_json(value: Any, default: Any) -> Any:
    return json.loads(value) if value else default
