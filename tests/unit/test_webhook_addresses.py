"""Webhooks reach public addresses only (`pipelines.events.addresses`): checked before a
connection is made and again once it is, against listeners this test opens on 127.0.0.1."""

from __future__ import annotations

import time

import pytest
import requests

from pipelines.catalogue import Webhook
from pipelines.events import addresses
from pipelines.events.sinks import FULL, WebhookSink
from pipelines.runs.notify import SinkRef
from tests.listening import Listener, listener

SECRET_SETTING = "PIPELINES_WEBHOOK_SECRET_ADDRESSES"
__all__ = ["listener"]  # the fixture, used by name


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True), ("2001:4860:4860::8888", True), ("::ffff:8.8.8.8", True),
        ("10.0.0.1", False), ("172.16.0.1", False), ("192.168.1.1", False), ("100.64.0.1", False),
        ("127.0.0.1", False), ("::1", False), ("169.254.169.254", False), ("fe80::1%eth0", False),
        ("fd00::1", False), ("0.0.0.0", False), ("255.255.255.255", False), ("224.0.0.1", False),
        ("::ffff:10.0.0.1", False), ("::ffff:127.0.0.1", False), ("168.63.129.16", False), ("not an address", False),
    ],
)
def test_only_global_addresses_are_allowed_and_loopback_only_where_development_allows_it(
    address: str, public: bool
) -> None:
    assert addresses.allowed(address, loopback=False) is public
    loopback = address in ("127.0.0.1", "::1", "::ffff:127.0.0.1")
    assert addresses.allowed(address, loopback=True) is (public or loopback)


def test_a_webhook_to_a_local_address_is_refused_before_any_connection(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_SETTING, "a-secret")
    hook = Webhook(f"https://127.0.0.1:{listener.port}/hook", SECRET_SETTING)
    sink = WebhookSink(SinkRef("w1", "webhook", "webhook https://127.0.0.1/hook", hook), allow_local_http=False)
    outcome = sink.deliver([("e1", {"id": "e1", "type": "Pipelines.RunFinished"})], time.monotonic() + 10, FULL)
    assert outcome.delivered == [] and not outcome.timed_out
    assert outcome.error == "webhook https://127.0.0.1/hook: the webhook's host is not a public address"
    time.sleep(0.3)
    assert listener.accepted == 0


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_name_that_resolves_elsewhere_once_connected_is_refused_before_anything_is_sent(
    listener: Listener, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    # GIVEN a host whose name passed the check (as a public address would) and then led to
    # 127.0.0.1 (DNS rebinding): the check before connecting lets it through
    monkeypatch.setattr(addresses, "check_host", lambda host, port, *, loopback: None)
    with pytest.raises(requests.ConnectionError), addresses.session(loopback=False) as session:
        session.post(f"{scheme}://127.0.0.1:{listener.port}/hook", data=b"secret body", timeout=5)
    # THEN the connection was made, checked, and closed with nothing sent (not even TLS's hello)
    deadline = time.monotonic() + 5
    while listener.accepted == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.accepted == 1
    assert listener.received == b""


def test_loopback_is_reached_where_development_allows_it(listener: Listener) -> None:
    with pytest.raises(requests.ConnectionError), addresses.session(loopback=True) as session:
        # The listener reads the request and closes without an answer: the request was sent.
        session.post(f"http://127.0.0.1:{listener.port}/hook", data=b"the body", timeout=5)
    assert b"the body" in listener.received
