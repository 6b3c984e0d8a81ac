"""Reading untrusted input: whole numbers out of text, keys out of JSON objects.

`str.isdigit()` is true for "²" and "٣" and for a 5,000-digit string, which
`int()` then refuses or turns into a number no storage column holds. Every
whole number read from a request goes through `whole_number`.
"""

from __future__ import annotations

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
