"""Run events to Event Grid, with the app's identity: a custom topic, or a namespace topic.

The one place that imports `azure-eventgrid`. The events arrive as CloudEvents 1.0 in
their structured JSON form (`pipelines.api.events_contract.cloud_event`); here they
become the SDK's `CloudEvent` objects, their ids kept, so a retried publish carries
the same ids and a subscriber that deduplicates by id sees each transition once.
No key: the client authenticates with `DefaultAzureCredential` (the app's managed
identity in Azure, which holds `EventGrid Data Sender` on the topic: infra/).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipelines.errors import PipelinesError

if TYPE_CHECKING:
    from azure.core.messaging import CloudEvent
    from azure.eventgrid import EventGridPublisherClient


class PublishError(PipelinesError):
    """Event Grid did not take the events (the message says why; no secret is in it)."""


def cloud_events(events: Sequence[Mapping[str, Any]]) -> list[CloudEvent[Any]]:
    """The SDK's CloudEvents of events in the structured JSON form, ids and times kept."""
    from azure.core.messaging import CloudEvent

    made = []
    for event in events:
        extensions = {k: v for k, v in event.items() if k not in _ATTRIBUTES}
        made.append(CloudEvent(
            source=event["source"],
            type=event["type"],
            specversion=event.get("specversion", "1.0"),
            id=event["id"],
            time=datetime.fromisoformat(event["time"]) if event.get("time") else None,
            subject=event.get("subject"),
            datacontenttype=event.get("datacontenttype"),
            data=event.get("data"),
            extensions=extensions or None,
        ))
    return made


BATCH = 100
_ATTRIBUTES = frozenset({"id", "source", "type", "specversion", "time", "subject", "datacontenttype", "data"})


class EventGridTopic:
    """A custom topic (`namespace_topic` None) or a namespace's topic, reached with `credential`."""

    def __init__(self, endpoint: str, namespace_topic: str | None, credential: Any) -> None:
        self.endpoint = endpoint
        self.namespace_topic = namespace_topic
        self._credential = credential
        self._client: EventGridPublisherClient | None = None

    def _publisher(self) -> EventGridPublisherClient:
        if self._client is None:
            from azure.eventgrid import EventGridPublisherClient

            self._client = EventGridPublisherClient(
                self.endpoint, self._credential, namespace_topic=self.namespace_topic,
                connection_timeout=5, read_timeout=15, retry_total=2,
            )
        return self._client

    def publish(self, events: Sequence[Mapping[str, Any]]) -> None:
        """One call for the batch; PublishError when Event Grid does not take it."""
        from azure.core.exceptions import AzureError

        try:
            for start in range(0, len(events), BATCH):  # a request holds at most 1 MB: events are ~1 KB
                self._publisher().send(cloud_events(events[start:start + BATCH]))
        except AzureError as error:
            status = getattr(error, "status_code", None)
            raise PublishError(
                f"Event Grid refused the events ({type(error).__name__}{f', status {status}' if status else ''})"
            ) from error
