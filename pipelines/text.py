"""Reading numbers out of untrusted text.

`str.isdigit()` is true for "²" and "٣" and for a 5,000-digit string, which
`int()` then refuses or turns into a number no storage column holds. Every
whole number read from a request goes through `whole_number`.
"""

from __future__ import annotations

import re

_WHOLE = re.compile(r"[0-9]{1,18}")


def whole_number(text: str) -> int | None:
    """The value of ASCII digits (at most 18, so it fits in 64 bits), else None."""
    stripped = text.strip()
    return int(stripped) if _WHOLE.fullmatch(stripped) else None
