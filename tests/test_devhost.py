"""The development host: real sockets, real Azurite, small apps defined here.

Pure parts (route templates, NCRONTAB, host.json) have unit tests at the end;
the CLI is run as a subprocess and must leave no Azurite behind.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import httpx
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueClient

from pipelines.devhost import azurite as azurite_mod
from pipelines.devhost.host import DevHost
from pipelines.devhost.hostconfig import HostOptions, parse_timespan
from pipelines.devhost.ncrontab import ScheduleError, parse_schedule
from pipelines.devhost.routing import RouteTable, RouteTemplate, split_path
from tests.conftest import ROOT, unique_prefix
from tests.hosting import running_host

# Fast polling and retries, so queue tests take fractions of a second.
FAST_QUEUES = {
    "version": "2.0",
    "extensions": {
        "queues": {
            "batchSize": 4,
            "newBatchThreshold": 2,
            "maxPollingInterval": "00:00:00.200",
            "visibilityTimeout": "00:00:00",
            "maxDequeueCount": 2,
            "messageEncoding": "base64",
        }
    },
}


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- apps under test ------------------------------------------------------------------------------
def http_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="items/{id:int}/{rest?}", methods=["GET", "POST"])
    def echo(req: func.HttpRequest) -> func.HttpResponse:
        body = {
            "function": "echo",
            "method": req.method,
            "route": dict(req.route_params),
            "query": dict(req.params),
            "header": req.headers.get("x-test"),
            "body": req.get_body().decode(),
            "url": req.url,
        }
        return func.HttpResponse(
            json.dumps(body), status_code=201, mimetype="application/json", headers={"x-echo": "1"}
        )

    @app.route(route="items/special", methods=["GET"])
    async def special(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({"function": context.function_name}), mimetype="application/json")

    @app.route(route="items/{name}", methods=["GET"])
    def by_name(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({"function": "by_name", "route": dict(req.route_params)}))

    @app.route(route="boom")
    def boom(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("secret detail that must not reach the client")

    return app


@pytest.fixture
def http_host(storage_env: dict[str, str]) -> Iterator[DevHost]:
    with running_host(http_app(), host_json={}) as started:
        yield started


@pytest.fixture
def client(http_host: DevHost) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=http_host.base_url, timeout=10) as http:
        yield http


# -- HTTP -------------------------------------------------------------------------------------------
def test_http_function_gets_route_params_query_headers_and_body(client: httpx.Client) -> None:
    # WHEN a request with every kind of input reaches the function through the socket
    answer = client.post("/api/items/42/more?a=1&a=2&b=x", content=b"payload", headers={"X-Test": "yes"})
    # THEN the function saw each of them, and its answer came back as it built it
    assert answer.status_code == 201
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-echo"] == "1"
    seen = answer.json()
    assert seen["method"] == "POST"
    assert seen["route"] == {"id": "42", "rest": "more"}
    assert seen["query"] == {"a": "1,2", "b": "x"}  # repeated keys joined, as the host does
    assert seen["header"] == "yes"
    assert seen["body"] == "payload"
    assert seen["url"].endswith("/api/items/42/more?a=1&a=2&b=x")


def test_optional_parameter_may_be_absent(client: httpx.Client) -> None:
    seen = client.get("/api/items/7").json()
    assert seen["function"] == "echo"
    assert seen["route"] == {"id": "7"}


def test_literal_segment_wins_over_parameter_and_matches_any_case(client: httpx.Client) -> None:
    assert client.get("/api/items/special").json()["function"] == "special"
    assert client.get("/API/Items/SPECIAL").json()["function"] == "special"
    # a constrained parameter is more specific than a plain one
    assert client.get("/api/items/12").json()["function"] == "echo"
    assert client.get("/api/items/other").json() == {"function": "by_name", "route": {"name": "other"}}


def test_unknown_route_answers_404_json(client: httpx.Client) -> None:
    for path in ("/api/nothing/here", "/elsewhere", "/api/items/1/2/3"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        error = answer.json()
        assert error["Error"]["Code"] == "NotFound"
        assert error["Error"]["Details"] == []
        assert error["Correlation"]["RequestId"]


def test_wrong_method_answers_405_json(client: httpx.Client) -> None:
    answer = client.delete("/api/items/special")
    assert answer.status_code == 405
    assert answer.json()["Error"]["Code"] == "MethodNotAllowed"
    assert answer.headers["allow"] == "GET"


def test_failing_function_answers_500_and_the_host_keeps_serving(client: httpx.Client) -> None:
    answer = client.get("/api/boom")
    assert answer.status_code == 500
    assert answer.json()["Error"]["Code"] == "InternalError"
    assert "secret" not in answer.text and "Traceback" not in answer.text
    assert client.get("/api/items/special").status_code == 200


def test_unreadable_body_answers_400_json(http_host: DevHost) -> None:
    # GIVEN the host's ASGI application and a client that goes away mid-body
    # (a socket cannot make the server see this reliably, so the app is driven directly)
    application = http_host.application
    assert application is not None
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/items/1",
        "raw_path": b"/api/items/1",
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "http_version": "1.1",
        "root_path": "",
    }
    # WHEN it is dispatched
    asyncio.run(application(scope, receive, send))
    # THEN the answer is the contract's 400
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["Error"]["Code"] == "UserError"


def test_project_app_answers_health(host: DevHost) -> None:
    answer = httpx.get(f"{host.base_url}/health", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["Status"] == "Healthy"


def test_functions_the_host_cannot_drive_are_skipped_not_fatal(storage_env: dict[str, str]) -> None:
    # GIVEN an app with a blob trigger (not supported) beside an HTTP function
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.blob_trigger(arg_name="blob", path="c/{name}", connection="AzureWebJobsStorage")
    def on_blob(blob: func.InputStream) -> None: ...

    @app.route(route="ping")
    def ping(req: func.HttpRequest) -> str:
        return "pong"

    # WHEN it is hosted THEN the HTTP function still answers (a str return is a 200 text answer)
    with running_host(app, host_json={}) as started:
        assert [entry.name for entry in started.functions] == ["ping"]
        answer = httpx.get(f"{started.base_url}/api/ping", timeout=5)
        assert (answer.status_code, answer.text) == (200, "pong")


def test_dev_issuer_keys_are_served_and_trusted(
    storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    pytest.importorskip("pipelines.auth.devissuer")
    monkeypatch.setenv("PIPELINES_DEV_KEY_DIR", str(tmp_path))
    with running_host(http_app(), host_json={}, dev_issuer=True) as started:
        keys = httpx.get(f"{started.base_url}/.devissuer/keys", timeout=5)
        assert keys.status_code == 200 and keys.json()["keys"]
        # the validator is pointed at this host while it runs, and not after
        assert os.environ["PIPELINES_AUTH_JWKS_URL"] == f"{started.base_url}/.devissuer/keys"
    assert "PIPELINES_AUTH_JWKS_URL" not in os.environ


def test_the_same_app_can_be_hosted_twice(storage_env: dict[str, str]) -> None:
    # get_functions() refuses a second call on one app: the host must index it once
    app = http_app()
    for _ in range(2):
        with running_host(app, host_json={}) as started:
            assert httpx.get(f"{started.base_url}/api/items/special", timeout=5).status_code == 200


def test_stop_leaves_no_threads(storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVHOST_TEST_QUEUE", unique_prefix())
    app, _ = queue_app()
    before = set(threading.enumerate())
    with running_host(app, host_json=FAST_QUEUES) as started:
        httpx.get(f"{started.base_url}/api/anything", timeout=5)
    wait_for(lambda: set(threading.enumerate()) <= before, timeout=5)


# -- queues -----------------------------------------------------------------------------------------
def queue_app(*, fail: bool = False, sleep: float = 0.0) -> tuple[func.FunctionApp, list[func.QueueMessage]]:
    app = func.FunctionApp()
    received: list[func.QueueMessage] = []

    # `%...%` is resolved from the environment, as the host resolves app settings.
    @app.queue_trigger(arg_name="msg", queue_name="%DEVHOST_TEST_QUEUE%", connection="AzureWebJobsStorage")
    def work(msg: func.QueueMessage) -> None:
        received.append(msg)
        time.sleep(sleep)
        if fail:
            raise RuntimeError("this message always fails")

    return app, received


@pytest.fixture
def queue_name(storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"{unique_prefix()}-work"
    monkeypatch.setenv("DEVHOST_TEST_QUEUE", name)
    return name


def _queue(storage_env: dict[str, str], name: str) -> QueueClient:
    client = QueueClient.from_connection_string(storage_env["AzureWebJobsStorage"], name)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    return client


def _count(client: QueueClient) -> int:
    try:
        return int(client.get_queue_properties().approximate_message_count or 0)
    except Exception:  # noqa: BLE001 - not created yet
        return 0


def test_queue_function_receives_a_base64_message(storage_env: dict[str, str], queue_name: str) -> None:
    app, received = queue_app()
    queue = _queue(storage_env, queue_name)
    with running_host(app, host_json=FAST_QUEUES):
        # WHEN a base64 message arrives
        queue.send_message(b64('{"step": 1}'))
        # THEN the function gets the decoded body, first delivery, and the message is deleted
        wait_for(lambda: received)
        message = received[0]
        assert message.get_json() == {"step": 1}
        assert message.dequeue_count == 1
        assert message.id and message.pop_receipt
        assert isinstance(message.insertion_time, datetime)
        wait_for(lambda: _count(queue) == 0)


def test_failing_message_moves_to_poison_after_max_dequeue_count(
    storage_env: dict[str, str], queue_name: str
) -> None:
    app, received = queue_app(fail=True)
    queue = _queue(storage_env, queue_name)
    poison = QueueClient.from_connection_string(storage_env["AzureWebJobsStorage"], f"{queue_name}-poison")
    with running_host(app, host_json=FAST_QUEUES):
        queue.send_message(b64("doomed"))
        wait_for(lambda: _count(poison) == 1)
        # THEN it was tried maxDequeueCount (2) times, and now lives only in the poison queue, as sent
        assert [m.dequeue_count for m in received] == [1, 2]
        wait_for(lambda: _count(queue) == 0)  # copied first, then deleted: never lost
        assert [m.content for m in poison.receive_messages()] == [b64("doomed")]


def test_message_that_is_not_base64_goes_to_poison_unprocessed(
    storage_env: dict[str, str], queue_name: str
) -> None:
    app, received = queue_app()
    queue = _queue(storage_env, queue_name)
    poison = QueueClient.from_connection_string(storage_env["AzureWebJobsStorage"], f"{queue_name}-poison")
    with running_host(app, host_json=FAST_QUEUES):
        queue.send_message("{not base64}")
        wait_for(lambda: _count(poison) == 1)
        assert received == []


def test_long_running_message_stays_invisible_while_it_runs(
    storage_env: dict[str, str], queue_name: str
) -> None:
    # GIVEN a processing visibility of 2 s (renewed every second) and a step taking 3.5 s
    app, received = queue_app(sleep=3.5)
    queue = _queue(storage_env, queue_name)
    with running_host(app, host_json=FAST_QUEUES, processing_visibility=timedelta(seconds=2)):
        queue.send_message(b64("slow"))
        wait_for(lambda: _count(queue) == 0, timeout=10)
    # THEN it ran once: renewals kept it from being delivered again meanwhile
    assert [m.dequeue_count for m in received] == [1]


# -- timers and Event Grid ----------------------------------------------------------------------------
def test_timer_fires_on_schedule_and_on_startup(storage_env: dict[str, str]) -> None:
    app = func.FunctionApp()
    fired: list[TimerRequest] = []
    started_fired: list[TimerRequest] = []

    @app.timer_trigger(schedule="*/1 * * * * *", arg_name="timer")
    def every_second(timer: TimerRequest) -> None:
        fired.append(timer)

    @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
    def yearly(timer: TimerRequest) -> None:
        started_fired.append(timer)

    with running_host(app, host_json={}):
        wait_for(lambda: len(fired) >= 2, timeout=5)
        wait_for(lambda: started_fired, timeout=2)
    assert fired[0].past_due is False
    assert fired[0].schedule_status["Next"]


def event_grid_app() -> tuple[func.FunctionApp, list[func.EventGridEvent]]:
    app = func.FunctionApp()
    received: list[func.EventGridEvent] = []

    @app.event_grid_trigger(arg_name="event")
    def on_event(event: func.EventGridEvent) -> None:
        if event.subject == "fail":
            raise RuntimeError("cannot handle it")
        received.append(event)

    return app, received


def test_event_grid_webhook_validates_and_delivers(storage_env: dict[str, str]) -> None:
    app, received = event_grid_app()
    with running_host(app, host_json={}) as started, httpx.Client(base_url=started.base_url) as http:
        url = "/runtime/webhooks/EventGrid?functionName=on_event"
        # WHEN Event Grid validates the subscription
        answer = http.post(
            url,
            headers={"aeg-event-type": "SubscriptionValidation"},
            json=[
                {
                    "id": "v",
                    "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                    "data": {"validationCode": "CODE-1"},
                }
            ],
        )
        # THEN the code is echoed, and the function is not called
        assert answer.status_code == 200
        assert answer.json() == {"validationResponse": "CODE-1"}
        assert received == []
        # WHEN it delivers an Event Grid event and a CloudEvent
        answer = http.post(
            url,
            headers={"aeg-event-type": "Notification"},
            json=[
                {
                    "id": "e1",
                    "topic": "/t",
                    "subject": "blob/a",
                    "eventType": "Blob.Created",
                    "eventTime": "2024-05-01T10:00:00.1234567Z",
                    "data": {"size": 3},
                    "dataVersion": "1",
                },
                {
                    "specversion": "1.0",
                    "id": "c1",
                    "source": "/src",
                    "subject": "s",
                    "type": "Custom.Done",
                    "time": "2024-05-01T10:00:01Z",
                    "data": {"ok": True},
                },
            ],
        )
        # THEN the function ran once per event with the mapped fields
        assert answer.status_code == 202
        assert [(e.id, e.topic, e.subject, e.event_type, e.get_json()) for e in received] == [
            ("e1", "/t", "blob/a", "Blob.Created", {"size": 3}),
            ("c1", "/src", "s", "Custom.Done", {"ok": True}),
        ]
        assert received[0].event_time == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
        assert received[0].data_version == "1"


def test_event_grid_webhook_errors(storage_env: dict[str, str]) -> None:
    app, _ = event_grid_app()
    with running_host(app, host_json={}) as started, httpx.Client(base_url=started.base_url) as http:
        unknown = http.post("/runtime/webhooks/eventgrid?functionName=nope", json=[])
        assert unknown.status_code == 404
        assert unknown.json()["Error"]["Code"] == "NotFound"
        failed = http.post(
            "/runtime/webhooks/EventGrid?functionName=ON_EVENT",
            headers={"aeg-event-type": "Notification"},
            json=[{"id": "x", "subject": "fail", "eventType": "t", "data": {}}],
        )
        assert failed.status_code == 500
        assert failed.json()["Error"]["Code"] == "InternalError"


# -- the command line ---------------------------------------------------------------------------------
def _cli_env(tmp_path: Any) -> dict[str, str]:
    env = dict(os.environ)  # the autouse fixture already removed ambient storage settings
    prefix = unique_prefix()
    env["PIPELINES_NAME_PREFIX"] = prefix
    env["PIPELINES_STEPS_QUEUE"] = f"{prefix}-steps"
    env["PIPELINES_DEV_KEY_DIR"] = str(tmp_path / "devkeys")  # not the developer's .devkeys
    return env


def _serve_until_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    def healthy() -> bool:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, timeout=40, interval=0.2)


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    return process.stdout.read().decode() if process.stdout else ""


def test_cli_starts_azurite_serves_and_stops_everything(tmp_path: Any) -> None:
    port = azurite_mod.free_port()
    ports = (azurite_mod.free_port(), azurite_mod.free_port(), azurite_mod.free_port())
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.devhost",
            "--port",
            str(port),
            "--azurite-ports",
            ",".join(map(str, ports)),
        ],
        cwd=ROOT,
        env=_cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _serve_until_healthy(process, f"http://127.0.0.1:{port}/health")
        if importlib.util.find_spec("pipelines.auth.devissuer") is not None:
            keys = httpx.get(f"http://127.0.0.1:{port}/.devissuer/keys", timeout=5)
            assert keys.status_code == 200 and keys.json()["keys"]
    finally:
        output = _stop(process)
    assert process.returncode == 0, output
    # No orphan: Azurite, in its own process group, went down with the host.
    emulator = azurite_mod.Azurite("127.0.0.1", *ports)
    wait_for(lambda: not any(azurite_mod._port_open("127.0.0.1", p) for p in emulator.ports), timeout=5)


def test_cli_uses_a_running_azurite_and_leaves_it_running(
    azurite: azurite_mod.Azurite, tmp_path: Any
) -> None:
    port = azurite_mod.free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.devhost",
            "--port",
            str(port),
            "--use-running-azurite",
            "--azurite-ports",
            ",".join(map(str, azurite.ports)),
        ],
        cwd=ROOT,
        env=_cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _serve_until_healthy(process, f"http://127.0.0.1:{port}/health")
    finally:
        output = _stop(process)
    assert process.returncode == 0, output
    assert azurite.answering()


# -- pure parts -----------------------------------------------------------------------------------------
def _resolve(table: RouteTable[str], method: str, path: str) -> tuple[str | None, dict[str, str]]:
    resolution = table.resolve(method, split_path(path))
    return resolution.target, resolution.route_params


def test_route_templates() -> None:
    table: RouteTable[str] = RouteTable()
    table.add("files/{*path}", None, "catch_all")
    table.add("files/readme", ["GET"], "literal")
    table.add("files/{name}.{ext}", None, "mixed")
    table.add("users/{id:guid}", None, "guid")
    table.add("users/{name:alpha:minlength(2)}", None, "alpha")
    table.add("pages/{page=1}", None, "default")
    assert _resolve(table, "GET", "files/README/") == ("literal", {})
    assert _resolve(table, "GET", "files/a.txt") == ("mixed", {"name": "a", "ext": "txt"})
    assert _resolve(table, "GET", "files/a/b%20c") == ("catch_all", {"path": "a/b c"})
    assert _resolve(table, "GET", "files") == ("catch_all", {})
    uid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert _resolve(table, "GET", f"users/{uid}") == ("guid", {"id": uid})
    assert _resolve(table, "GET", "users/Bob") == ("alpha", {"name": "Bob"})
    assert _resolve(table, "GET", "users/b") == (None, {})
    assert _resolve(table, "GET", "pages") == ("default", {"page": "1"})
    assert table.resolve("POST", split_path("files/readme")).target == "catch_all"
    with pytest.raises(ValueError):
        RouteTemplate.parse("a/{*rest}/b")


def test_ncrontab_schedules() -> None:
    start = datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC)  # a Monday
    assert parse_schedule("*/5 * * * * *").next_after(start) == start + timedelta(seconds=5)
    assert parse_schedule("0 30 9 * * Mon-Fri").next_after(start) == start.replace(hour=9, minute=30)
    # day and weekday must both match (NCrontab): the next Friday the 13th
    assert parse_schedule("0 0 0 13 * 5").next_after(start) == datetime(2024, 9, 13, tzinfo=UTC)
    assert parse_schedule("0 15,45 * * * *").next_after(start.replace(minute=20)) == start.replace(minute=45)
    assert parse_schedule("00:00:30").next_after(start) == start + timedelta(seconds=30)
    for bad in ("* * * *", "61 * * * * *", "*/0 * * * * *", "0 0 0 * * Funday"):
        with pytest.raises(ScheduleError):
            parse_schedule(bad)


def test_host_json_options() -> None:
    options = HostOptions.from_host_json(FAST_QUEUES)
    assert options.route_prefix == "api"
    assert options.queues.max_polling_interval == timedelta(milliseconds=200)
    assert options.queues.max_dequeue_count == 2
    defaults = HostOptions.from_host_json({"extensions": {"http": {"routePrefix": ""}}})
    assert defaults.route_prefix == ""
    assert defaults.queues.batch_size == 16 and defaults.queues.new_batch_threshold == 8
    assert parse_timespan("1.02:03:04.5") == timedelta(days=1, hours=2, minutes=3, seconds=4.5)
