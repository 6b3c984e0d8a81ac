"""Publishing run events to Event Grid waits only as long as it is told: the SDK's clients, for a
custom topic and for a namespace topic, against a topic served on 127.0.0.1 that answers late.

Both clients are the Azure SDK's, sending real requests; the topic is an HTTP server of this test
(no storage is involved).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
from azure.core.credentials import AzureKeyCredential

from pipelines.store.eventgrid import EventGridTopic, PublishError
from tests.listening import QuietHandler, http_server

EVENT = {"id": "9f1c", "source": "/test", "type": "Pipelines.RunFinished", "specversion": "1.0",
         "time": "2026-12-01T09:00:00+00:00", "data": {"runId": "r1"}}


class LateTopic:
    """Answers every publish with `status` after `delay` seconds; counts the requests."""

    def __init__(self, delay: float, status: int = 200) -> None:
        self.delay, self.status = delay, status
        self.paths: list[str] = []
        topic = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                topic.paths.append(self.path)
                time.sleep(topic.delay)
                self.send_response(topic.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.handler = Handler


@contextlib.contextmanager
def late_topic(delay: float, status: int = 200) -> Iterator[tuple[LateTopic, str]]:
    topic = LateTopic(delay, status)
    with http_server(topic.handler) as base:
        yield topic, base + "/api/events"


@pytest.mark.parametrize("namespace_topic", [None, "runs"])
def test_a_publish_gives_up_after_its_read_timeout_without_trying_again(namespace_topic: str | None) -> None:
    with late_topic(delay=1.5) as (late, url):
        topic = EventGridTopic(url, namespace_topic, AzureKeyCredential("not a secret"))
        # WHEN a publish may wait 0.3 s for the answer, and not try again
        began = time.monotonic()
        with pytest.raises(PublishError) as raised:
            topic.publish([EVENT], connect=1.0, read=0.3, retries=0)
        waited = time.monotonic() - began
        # THEN it stopped before the topic answered, after one request, and says it timed out
        assert raised.value.timed_out and "Timeout" in raised.value.message
        assert waited < late.delay and len(late.paths) == 1
        # AND with the default patience the same topic's late answer is taken
        topic.publish([EVENT])
        assert len(late.paths) == 2


@pytest.mark.parametrize("namespace_topic", [None, "runs"])
def test_a_refusal_is_not_a_timeout_and_is_tried_as_often_as_told(namespace_topic: str | None) -> None:
    with late_topic(delay=0.0, status=503) as (refusing, url):
        topic = EventGridTopic(url, namespace_topic, AzureKeyCredential("not a secret"))
        with pytest.raises(PublishError) as raised:
            topic.publish([EVENT], retries=1)
        assert not raised.value.timed_out and "503" in raised.value.message
        assert len(refusing.paths) == 2  # the first request and one more
