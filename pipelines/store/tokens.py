"""Continuation tokens: opaque to the caller, bound to the list that issued them.

A token is base64url JSON, `{"q": <the list's digest>, ...where the next page starts}`. The
digest names the list (the table or folder, the filter and its values, the order), so a
token sent back with another list is a 400 that says so, and one this service did not
issue is a 400 too (docs/contract.md §4): neither answers a page of something else.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from pipelines.errors import BadRequestError

TARGET = "continuationToken"


def scope(*parts: str) -> str:
    """The digest that binds a token to one list."""
    text = "\n".join(parts)
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()[:16]


def seal(digest: str, **position: Any) -> str:
    raw = json.dumps({"q": digest, **position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unseal(token: str | None, digest: str) -> dict[str, Any] | None:
    """The position a token holds (None without one); a 400 for a token of another list
    or one this service did not issue."""
    if not token:
        return None
    value = _opened(token)
    if value is None:
        raise forged()
    if value["q"] != digest:
        raise BadRequestError(
            "continuationToken belongs to another query: send it back with the same list, filter and order"
            " as the page that gave it",
            target=TARGET,
        )
    return value


def issued_for(token: str, digest: str) -> bool:
    """Whether the token was sealed for this digest (never an error)."""
    value = _opened(token)
    return value is not None and value["q"] == digest


def forged() -> BadRequestError:
    return BadRequestError("continuationToken is not one this service issued", target=TARGET)


def _opened(token: str) -> dict[str, Any] | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("q"), str):
        return None
    return value
