"""A sink that answers late is told apart from one that refuses, whichever part of its answer is late,
and a call ends in its time in all, whatever the other side does.

requests raises `ReadTimeout` when an answer's status line is late, but a `ConnectionError`
(wrapping urllib3's `ReadTimeoutError`) when its body is: both are a sink slower than the
notify queue's deliverer waits for, to be passed to the sinks queue, not a failed attempt.
A receiver that sends its answer a little at a time never lets one read wait its patience
out: the call is cut at `Patience.whole`. The receiver is an HTTP server of this test on
127.0.0.1 (no storage is involved).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pipelines.catalogue.webhooks import Webhook
from pipelines.events.sinks import Patience, WebhookSink
from pipelines.runs.notify import SinkRef
from tests.listening import QuietHandler, http_server

SECRET_SETTING = "PIPELINES_WEBHOOK_SECRET_TIMEOUTS"
EVENT = {"id": "9f1c", "source": "/test", "type": "Pipelines.RunQueued", "specversion": "1.0"}
MOMENT = Patience(connect=1.0, read=0.3, retries=0, whole=1.0)


@pytest.fixture
def receiver() -> Iterator[str]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - the standard library's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/late-status":
                time.sleep(1.0)
            if self.path == "/trickle":  # a header line every 0.2 s, for 6 s: no read waits 0.3 s
                self.send_response_only(200)
                for n in range(30):
                    self.send_header(f"X-Line-{n}", "x")
                    self.flush_headers()
                    time.sleep(0.2)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.flush()
            if self.path == "/late-body":
                time.sleep(1.0)
            self.wfile.write(b"{}")

    with http_server(Handler) as base:
        yield base


def deliver(url: str) -> Any:
    ref = SinkRef("webhook-t", "webhook", "webhook t", Webhook(url, SECRET_SETTING))
    sink = WebhookSink(ref, allow_local_http=True)
    return sink.deliver([("a", EVENT)], time.monotonic() + 5, MOMENT)


@pytest.mark.parametrize("path", ["/late-status", "/late-body"])
def test_an_answer_late_in_any_part_is_a_timeout(receiver: str, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_SETTING, "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=")
    outcome = deliver(receiver + path)
    assert outcome.error and not outcome.delivered
    assert outcome.timed_out, outcome.error


def test_an_answer_sent_a_little_at_a_time_is_cut_at_the_calls_whole_time(
    receiver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_SETTING, "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=")
    began = time.monotonic()
    outcome = deliver(receiver + "/trickle")
    took = time.monotonic() - began
    assert outcome.timed_out and not outcome.delivered, outcome
    assert took < 3.0, took  # the answer would take 6 s; the call may take 1 s in all


def test_a_quick_answer_is_delivered_and_a_refusal_is_no_timeout(receiver: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_SETTING, "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=")
    assert deliver(receiver + "/quick").delivered == ["a"]
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = deliver(f"http://127.0.0.1:{port}/hook")
    assert refused.error and not refused.timed_out
