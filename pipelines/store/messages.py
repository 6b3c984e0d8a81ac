"""Queue messages: JSON, base64-encoded as the Functions queue trigger expects.

The host's default `messageEncoding` is base64; a message sent as plain text
would be refused by the trigger in Azure. Messages carry ids, never payloads
(a queue message is at most 64 KB).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
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


@dataclass
class Outbox:
    """Messages for one queue, kept for a queue output binding to write (as JSON text: the
    host encodes them as `messageEncoding` says)."""

    queue_name: str
    messages: list[str] = field(default_factory=list)


_outbox: ContextVar[Outbox | None] = ContextVar("pipelines_outbox", default=None)


@contextmanager
def collected(queue_name: str) -> Iterator[Outbox]:
    """While open, messages without a delay that this thread's code sends to `queue_name`
    are collected instead of sent: the caller hands them to a queue output binding, which
    the host writes when the function returns and which wakes the host's own poller of
    that queue at once (see docs/architecture.md, "Trigger latency")."""
    box = Outbox(queue_name)
    token = _outbox.set(box)
    try:
        yield box
    finally:
        _outbox.reset(token)


def send(queue: QueueClient, payload: Mapping[str, Any], *, delay_seconds: int | None = None) -> None:
    box = _outbox.get()
    if box is not None and not delay_seconds and box.queue_name.lower() == queue.queue_name.lower():
        box.messages.append(json.dumps(payload, separators=(",", ":"), sort_keys=True))
        return
    with translated():
        queue.send_message(encode(payload), visibility_timeout=delay_seconds or None)
