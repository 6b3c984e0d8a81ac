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
    from azure.eventgrid._legacy import EventGridPublisherClient as _TopicClient


class PublishError(PipelinesError):
    """Event Grid did not take the events (the message says why; no secret is in it).
    `timed_out`: it did not answer in time (it may have taken them)."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


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
# A publish's patience unless the caller asks for less (`pipelines.events.sinks.Patience`).
CONNECT_SECONDS = 5.0
READ_SECONDS = 15.0
RETRIES = 2
_ATTRIBUTES = frozenset({"id", "source", "type", "specversion", "time", "subject", "datacontenttype", "data"})


class EventGridTopic:
    """A custom topic (`namespace_topic` None) or a namespace's topic, reached with `credential`."""

    def __init__(self, endpoint: str, namespace_topic: str | None, credential: Any) -> None:
        self.endpoint = endpoint
        self.namespace_topic = namespace_topic
        self._credential = credential
        # One client per patience: timeouts are set per client (given per call, the custom-topic
        # client passes them on to each event's model too, which logs a warning about each).
        self._clients: dict[tuple[float, float, int], EventGridPublisherClient | _TopicClient] = {}

    def _publisher(self, connect: float = CONNECT_SECONDS, read: float = READ_SECONDS,
                   retries: int = RETRIES) -> EventGridPublisherClient | _TopicClient:
        client = self._clients.get((connect, read, retries))
        if client is None:
            options: dict[str, Any] = {"connection_timeout": connect, "read_timeout": read, "retry_total": retries}
            if self.namespace_topic is None:
                # The package's public client builds its custom-topic client without the options it
                # is given (azure-eventgrid 4.22.1): it would wait 300 s for an answer and try 10
                # times. The client it builds is made here, with them.
                from azure.eventgrid._legacy import EventGridPublisherClient as TopicClient

                client = TopicClient(self.endpoint, self._credential, **options)
            else:
                from azure.eventgrid import EventGridPublisherClient

                client = EventGridPublisherClient(self.endpoint, self._credential,
                                                  namespace_topic=self.namespace_topic, **options)
            self._clients[connect, read, retries] = client
        return client

    def publish(self, events: Sequence[Mapping[str, Any]], *, connect: float = CONNECT_SECONDS,
                read: float = READ_SECONDS, retries: int = RETRIES) -> None:
        """One call for the batch, each request waiting at most `connect` and `read` seconds and
        tried again at most `retries` times; PublishError when Event Grid does not take it."""
        from azure.core.exceptions import AzureError, ServiceRequestTimeoutError, ServiceResponseTimeoutError

        try:
            for start in range(0, len(events), BATCH):  # a request holds at most 1 MB: events are ~1 KB
                self._publisher(connect, read, retries).send(cloud_events(events[start:start + BATCH]))
        except AzureError as error:
            status = getattr(error, "status_code", None)
            raise PublishError(
                f"Event Grid refused the events ({type(error).__name__}{f', status {status}' if status else ''})",
                timed_out=isinstance(error, ServiceRequestTimeoutError | ServiceResponseTimeoutError),
            ) from error
