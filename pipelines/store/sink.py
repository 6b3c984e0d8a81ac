"""Reading a queue of run events from outside the app: what `pipelines events tail` follows.

The local sink (`PIPELINES_EVENTS_QUEUE`, on Azurite) or any queue the events are sent to:
each message is one CloudEvent in its structured JSON form, base64-encoded as the app sends
every message (`pipelines.store.messages`). Reached with a connection string (Azurite's
`UseDevelopmentStorage=true` by default) or an account URL and `DefaultAzureCredential`.
"""

from __future__ import annotations

from typing import Any

from pipelines.store.account import _expand_development_storage
from pipelines.store.failures import translated
from pipelines.store.messages import decode


class EventQueue:
    def __init__(self, name: str, *, connection_string: str | None = None, account_url: str | None = None) -> None:
        from azure.storage.queue import QueueClient

        if account_url:
            from azure.identity import DefaultAzureCredential

            self.client = QueueClient(account_url=account_url, queue_name=name, credential=DefaultAzureCredential())
        else:
            conn = _expand_development_storage(connection_string or "UseDevelopmentStorage=true")
            self.client = QueueClient.from_connection_string(conn, name)
        self.name = name

    def take(self, most: int = 32) -> list[dict[str, Any]]:
        """The next events, removed from the queue (a follower consumes what it prints)."""
        found = []
        with translated():
            pages = self.client.receive_messages(messages_per_page=most, visibility_timeout=30).by_page()
            for message in next(pages, []):
                found.append(decode(message.content))
                self.client.delete_message(message)
        return found

    def peek(self, most: int = 32) -> list[dict[str, Any]]:
        """The first events, left where they are."""
        with translated():
            return [decode(message.content) for message in self.client.peek_messages(max_messages=most)]
