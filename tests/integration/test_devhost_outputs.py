"""Queue output bindings in the development host, against a real Azurite: what a function sets
on its `func.Out` is written to the queue after it returns, and wakes this host's poller of
that queue (the Storage Queues extension's `QueueAsyncCollector` and `SharedQueueWatcher`).
pipelines/devhost/README.md maps each test to the behaviour it checks.
"""

from __future__ import annotations

import base64
import threading
import time
import typing

import azure.functions as func
import httpx
import pytest
from azure.storage.queue import QueueClient

from pipelines.devhost.functions import FunctionLoadError, index_functions
from pipelines.devhost.queues import SharedQueueWatcher
from tests.conftest import unique_prefix
from tests.hosting import running_host, wait_for

# The poller waits long between empty polls: only a notification makes it poll early.
SLOW_POLLING = {"version": "2.0", "extensions": {"queues": {"maxPollingInterval": "00:01:00"}}}


@pytest.fixture
def queue_name(storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"{unique_prefix()}-out"
    monkeypatch.setenv("DEVHOST_TEST_QUEUE", name)
    return name


def output_app(received: list[tuple[str, float]], value: object = None) -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="send")
    @app.queue_output(arg_name="out", queue_name="%DEVHOST_TEST_QUEUE%", connection="AzureWebJobsStorage")
    def send(req: func.HttpRequest, out: func.Out[typing.List[str]]) -> func.HttpResponse:  # noqa: UP006
        out.set(value if value is not None else req.params["m"].split(","))
        return func.HttpResponse("sent")

    @app.queue_trigger(arg_name="msg", queue_name="%DEVHOST_TEST_QUEUE%", connection="AzureWebJobsStorage")
    def work(msg: func.QueueMessage) -> None:
        received.append((msg.get_body().decode(), time.monotonic()))

    return app


def test_messages_set_on_a_queue_output_are_written_after_the_function_returns(
    storage_env: dict[str, str], queue_name: str
) -> None:
    # GIVEN a function with a queue output whose queue does not exist yet, and no trigger reading it
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="send")
    @app.queue_output(arg_name="out", queue_name="%DEVHOST_TEST_QUEUE%", connection="AzureWebJobsStorage")
    def send(req: func.HttpRequest, out: func.Out[typing.List[str]]) -> func.HttpResponse:  # noqa: UP006
        out.set(['{"n":1}', '{"n":2}'])
        return func.HttpResponse("sent")

    with running_host(app, host_json=SLOW_POLLING) as host:
        assert httpx.get(f"{host.base_url}/api/send").text == "sent"
    # THEN the queue was created and holds each message, base64 (messageEncoding), in order
    queue = QueueClient.from_connection_string(storage_env["AzureWebJobsStorage"], queue_name)
    bodies = [base64.b64decode(m.content).decode() for m in queue.peek_messages(max_messages=32)]
    assert bodies == ['{"n":1}', '{"n":2}']


def test_a_message_written_by_an_output_binding_wakes_the_poller_of_its_queue(
    storage_env: dict[str, str], queue_name: str
) -> None:
    received: list[tuple[str, float]] = []
    with running_host(output_app(received), host_json=SLOW_POLLING) as host:
        # GIVEN a poller that found its queue empty for 4 s: its back-off wait is now over 1.6 s
        time.sleep(4)
        # WHEN a function writes through the output binding
        sent = time.monotonic()
        httpx.get(f"{host.base_url}/api/send", params={"m": "wake"})
        wait_for(lambda: received, timeout=10)
    # THEN the trigger got it without waiting out that back-off
    body, at = received[0]
    assert body == "wake"
    assert at - sent < 1.0


def test_a_failed_write_fails_the_invocation_and_the_http_answer_is_500(
    storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an output queue whose name Azure refuses
    monkeypatch.setenv("DEVHOST_TEST_QUEUE", "Not_A_Queue!")
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="send")
    @app.queue_output(arg_name="out", queue_name="%DEVHOST_TEST_QUEUE%", connection="AzureWebJobsStorage")
    def send(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
        out.set("lost")
        return func.HttpResponse("sent")

    with running_host(app, host_json=SLOW_POLLING) as host:
        answer = httpx.get(f"{host.base_url}/api/send")
    # THEN the host fails the invocation: 500 with an empty body, as for any failed invocation
    assert answer.status_code == 500 and answer.content == b""


def test_an_output_annotated_with_a_builtin_generic_is_refused_as_the_worker_refuses_it() -> None:
    # The worker's converter accepts typing.List[str] but not list[str] (azure.functions.meta).
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="send")
    @app.queue_output(arg_name="out", queue_name="q", connection="AzureWebJobsStorage")
    def send(req: func.HttpRequest, out: func.Out[list[str]]) -> func.HttpResponse:
        return func.HttpResponse("sent")

    with pytest.raises(FunctionLoadError, match="does not match"):
        index_functions(app)


class _Poller:
    def __init__(self) -> None:
        self.woken = threading.Event()

    def notify(self) -> None:
        self.woken.set()


def test_the_shared_watcher_wakes_only_the_pollers_of_the_queue_named() -> None:
    watcher = SharedQueueWatcher()
    steps, other = _Poller(), _Poller()
    watcher.register("steps", steps)  # type: ignore[arg-type]
    watcher.register("other", other)  # type: ignore[arg-type]
    watcher.notify("steps")
    assert steps.woken.is_set() and not other.woken.is_set()
