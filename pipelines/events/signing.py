"""Webhook signatures, as the Standard Webhooks specification writes them (standardwebhooks.com).

Each request carries `webhook-id` (the event's id: the same on every retry, so a receiver
deduplicates by it), `webhook-timestamp` (seconds since the epoch, of this attempt) and
`webhook-signature`: `v1,` and the base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`
with the endpoint's secret. A secret written `whsec_<base64>` (the specification's form) is
those bytes; any other text is its UTF-8 bytes. `verify` is what a receiver does, here for
receivers written in Python and for the tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

PREFIX = "whsec_"
# A receiver refuses a timestamp further than this from its clock (the specification's advice).
TOLERANCE_SECONDS = 300


def secret_bytes(secret: str) -> bytes:
    if secret.startswith(PREFIX):
        try:
            return base64.b64decode(secret[len(PREFIX):], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode("utf-8")


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()).decode()


def signed_headers(secret: str, message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature(secret, message_id, stamp, body),
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> bool:
    """Whether `headers` (any case) sign `body` with `secret`, at a time close enough to `now`."""
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id, stamp, given = (lowered.get(k) for k in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (message_id and stamp and given and stamp.isdigit()):
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > TOLERANCE_SECONDS:
        return False
    expected = signature(secret, message_id, int(stamp), body)
    # The header may hold several space-separated signatures (during a secret's rotation).
    return any(hmac.compare_digest(expected, candidate) for candidate in given.split())
