"""An address that did not answer in time is not called again for a while (`pipelines.events.sinks`):
deliveries to it fail at once instead of each holding a notify slot for the read timeout."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pipelines.catalogue import Webhook
from pipelines.events import sinks
from pipelines.events.sinks import WebhookSink
from pipelines.runs.notify import SinkRef
from tests.listening import Listener, listener

SECRET_SETTING = "PIPELINES_WEBHOOK_SECRET_RESTING"
EVENT = [("e1", {"id": "e1", "type": "Pipelines.RunFinished"})]
__all__ = ["listener"]  # the fixture, used by name


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_SETTING, "a-secret")
    monkeypatch.setattr(sinks, "READ_SECONDS", 0.3)
    monkeypatch.setattr(sinks, "RESTING_SECONDS", 1.0)
    monkeypatch.setattr(sinks, "_resting", {})


def hook(port: int, path: str = "/hook") -> WebhookSink:
    url = f"http://127.0.0.1:{port}{path}"
    return WebhookSink(SinkRef("w1", "webhook", f"webhook {url}", Webhook(url, SECRET_SETTING)),
                       allow_local_http=True)


def timed(sink: WebhookSink) -> tuple[sinks.Outcome, float]:
    started = time.monotonic()
    outcome = sink.deliver(EVENT, time.monotonic() + 30)
    return outcome, time.monotonic() - started


def test_an_address_that_did_not_answer_is_not_called_again_until_it_has_rested(listener: Listener) -> None:
    # GIVEN a webhook whose address takes connections and never answers (in the read timeout)
    first, took = timed(hook(listener.port))
    assert first.delivered == [] and "did not answer (ReadTimeout)" in (first.error or "") and took >= 0.3
    # WHEN a delivery to that address (another path of it too) is due right after
    again, took_again = timed(hook(listener.port, "/another"))
    # THEN it fails at once, saying why, and no connection is made
    assert again.delivered == [] and "not called again for" in (again.error or "") and took_again < 0.1
    assert listener.accepted == 1
    # AND once the address has rested, it is called again
    time.sleep(1.05)
    later, took_later = timed(hook(listener.port))
    assert "did not answer" in (later.error or "") and took_later >= 0.3 and listener.accepted == 2


def test_an_address_that_answers_is_called_every_time_whatever_it_answers() -> None:
    # GIVEN an address that answers at once, with an error
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        for _ in range(2):
            connection, _ = server.accept()
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            connection.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        # THEN each delivery calls it: an answer, even an error, is not a silence
        for _ in range(2):
            outcome, _ = timed(hook(port))
            assert outcome.error == f"webhook http://127.0.0.1:{port}/hook answered HTTP 500"
    finally:
        thread.join(5)
        server.close()
