"""Queue messages: JSON, base64-encoded as the Functions queue trigger expects.

The host's default `messageEncoding` is base64; a message sent as plain text
would be refused by the trigger in Azure. Messages carry ids, never payloads
(a queue message is at most 64 KB).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipelines.store.failures import translated

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient


def encode(payload: Mapping[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.b64encode(raw).decode("ascii")


def decode(body: bytes | str) -> dict[str, Any]:
    """Accept the decoded body the trigger hands over, or the raw base64 text."""
    text = body.decode() if isinstance(body, bytes) else body
    try:
        value = json.loads(text)
    except ValueError:
        value = json.loads(base64.b64decode(text, validate=True))
    if not isinstance(value, dict):
        raise ValueError("a queue message must be a JSON object")
    return value


def send(queue: QueueClient, payload: Mapping[str, Any], *, delay_seconds: int | None = None) -> None:
    with translated():
        queue.send_message(encode(payload), visibility_timeout=delay_seconds or None)
