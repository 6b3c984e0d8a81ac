"""Queue output bindings: what a function sets on its `func.Out` goes to the queue after it returns.

As the Storage Queues extension 5.x writes them (`QueueAsyncCollector.AddAsync`,
azure-sdk-for-net `sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Queues`):

- when the invocation has returned, each message set on the binding is added to
  its queue, the queue created if it does not exist
  (`AddMessageAndCreateIfNotExistsAsync`), encoded as `messageEncoding` says
  (base64 by default); a failure to write fails the invocation (an HTTP function
  then answers 500, as any failed invocation does);
- a string is one message; a list of strings is one message each; bytes are one
  message (base64 of the bytes);
- after each add, the host's shared queue watcher is told (`SharedQueueWatcher.Notify`):
  every queue trigger of *this host* on that queue stops waiting out its polling
  back-off and polls at once (`QueueListener.Notify`). Other instances are not
  told: they find the message at their next poll.

Only `queue` outputs are driven; the development host skips a function with any
other output binding (see `functions.py`).
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from pipelines.devhost.hostconfig import QueueOptions, resolve_binding_expression

log = logging.getLogger("pipelines.devhost")


@dataclass(frozen=True)
class QueueOutput:
    """A function's `queue` output binding, as indexed."""

    name: str  # the parameter
    queue_name: str  # may hold %Setting% expressions
    connection: str | None


class OutValue(func.Out[Any]):
    """What the worker passes for an output parameter: the function sets it, the host reads it."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


def _messages(value: Any) -> list[str | bytes]:
    """The messages a bound value stands for (`QueueMessageOutConverter.encode`)."""
    if value is None:
        return []
    if isinstance(value, str | bytes):
        return [value]
    if isinstance(value, Iterable):
        items = list(value)
        if all(isinstance(item, str) for item in items):
            return list(items)
    raise TypeError(f"a queue output takes a str, bytes or a list of str, not {type(value).__name__}")


class OutputBinder:
    """Writes an invocation's queue outputs and wakes this host's pollers of those queues."""

    def __init__(self, options: QueueOptions, notify: Callable[[str], None],
                 service: Callable[[str | None], Any]) -> None:
        self.options = options
        self.notify = notify
        self.service = service

    def write(self, function: str, outputs: Iterable[QueueOutput], values: dict[str, OutValue]) -> None:
        for output in outputs:
            messages = _messages(values[output.name].get())
            if not messages:
                continue
            what = f"function {function!r}: output {output.name!r}"
            queue_name = resolve_binding_expression(output.queue_name, what=what).lower()
            connection = resolve_binding_expression(output.connection, what=what) if output.connection else None
            queue = self.service(connection).get_queue_client(queue_name)
            for message in messages:
                encoded = self._encode(message)
                try:
                    queue.send_message(encoded)
                except ResourceNotFoundError:  # AddMessageAndCreateIfNotExistsAsync
                    with contextlib.suppress(ResourceExistsError):
                        queue.create_queue()
                    queue.send_message(encoded)
                self.notify(queue_name)

    def _encode(self, message: str | bytes) -> str:
        data = message.encode("utf-8") if isinstance(message, str) else message
        if self.options.message_encoding == "base64":
            return base64.b64encode(data).decode("ascii")
        return data.decode("utf-8")
