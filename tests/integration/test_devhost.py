"""The development host over HTTP: routing, the answers the host makes itself, requests as seen.

Real sockets and a real Azurite; small apps defined here. The other files:
test_devhost_queues.py (queue and timer triggers), test_devhost_worker.py (the
worker's one thread pool), test_devhost_eventgrid.py (the webhook),
test_devhost_cli.py (`python -m pipelines.devhost`, local.settings.json) and
test_devhost_units.py (route order, NCRONTAB, host.json, the worker's load
checks). pipelines/devhost/README.md maps each imitated behaviour of the
Functions host to its test. Helpers shared by those files live in tests/hosting.py.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator, MutableMapping
from typing import Any

import azure.functions as func
import httpx
import pytest

from pipelines.devhost.host import DevHost
from tests.hosting import running_host


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

    @app.route(route="returns/{kind}")
    def returns(req: func.HttpRequest) -> Any:
        # What the worker can turn into an answer: HttpResponse and str, nothing else.
        return {"text": "plain", "none": None, "dict": {"a": 1}, "bytes": b"raw"}[req.route_params["kind"]]

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


def test_query_keys_merge_ignoring_case_and_empty_values_are_dropped(client: httpx.Client) -> None:
    # WHEN a query repeats a key in two spellings, has an empty value, and a header is repeated
    answer = client.get(
        "/api/items/1?Key=1&key=2&empty=&b=x", headers=[("X-Test", "a"), ("X-Test", "b")]
    )
    seen = answer.json()
    # THEN the host's query collection merged the key (first spelling), left out the empty one,
    # and joined the header's values with a bare comma (StringValues.ToString)
    assert seen["query"] == {"Key": "1,2", "b": "x"}
    assert seen["header"] == "a,b"


def test_optional_parameter_may_be_absent(client: httpx.Client) -> None:
    seen = client.get("/api/items/7").json()
    assert seen["function"] == "echo"
    assert seen["route"] == {"id": "7"}


def test_literal_segment_wins_over_parameter_and_matches_any_case(client: httpx.Client) -> None:
    assert client.get("/api/items/special").json()["function"] == "special"
    assert client.get("/API/Items/SPECIAL").json()["function"] == "special"
    # a constrained parameter is tried before a plain one
    assert client.get("/api/items/12").json()["function"] == "echo"
    assert client.get("/api/items/other").json() == {"function": "by_name", "route": {"name": "other"}}


def test_unknown_route_and_wrong_method_answer_404_with_an_empty_body(client: httpx.Client) -> None:
    # an unknown path, a path outside the route prefix, a path longer than any template,
    # and known routes asked with a method they do not take (DELETE; HEAD on a GET route)
    for method, path in [
        ("GET", "/api/nothing/here"),
        ("GET", "/elsewhere"),
        ("GET", "/api/items/1/2/3"),
        ("DELETE", "/api/items/special"),
        ("HEAD", "/api/items/special"),
        ("PUT", "/api/items/5"),
    ]:
        answer = client.request(method, path)
        assert answer.status_code == 404, (method, path)
        assert answer.content == b"", (method, path)
        assert "allow" not in answer.headers


def test_a_route_that_refuses_the_method_lets_the_next_route_answer(storage_env: dict[str, str]) -> None:
    # GIVEN a GET-only literal route and a catch-all after it
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="files/readme", methods=["GET"])
    def readme(req: func.HttpRequest) -> str:
        return "readme"

    @app.route(route="files/{*path}")
    def anything(req: func.HttpRequest) -> str:
        return "catch-all " + req.route_params.get("path", "")

    with running_host(app, host_json={}) as started, httpx.Client(base_url=started.base_url) as http:
        assert http.get("/api/files/readme").text == "readme"
        # WHEN the literal route is asked with POST THEN the catch-all takes it, as the host's router does
        assert http.post("/api/files/readme").text == "catch-all readme"


def test_failing_function_answers_500_with_an_empty_body(client: httpx.Client) -> None:
    answer = client.get("/api/boom")
    assert answer.status_code == 500
    assert answer.content == b""
    assert client.get("/api/items/special").status_code == 200  # the host keeps serving


def test_only_an_http_response_or_a_str_is_an_answer(client: httpx.Client) -> None:
    text = client.get("/api/returns/text")
    assert (text.status_code, text.text) == (200, "plain")
    assert text.headers["content-type"].startswith("text/plain")
    # None, a dict and bytes fail the invocation in the worker (HttpResponseConverter.encode)
    for kind in ("none", "dict", "bytes"):
        answer = client.get(f"/api/returns/{kind}")
        assert (answer.status_code, answer.content) == (500, b""), kind


def test_the_root_is_the_host_home_page(client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    monkeypatch.setenv("AzureWebJobsDisableHomepage", "true")
    assert client.get("/").status_code == 204


def test_unreadable_body_answers_400_with_an_empty_body(http_host: DevHost) -> None:
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
        "headers": [(b"host", b"test"), (b"content-length", b"10")],
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "http_version": "1.1",
        "root_path": "",
    }
    # WHEN it is dispatched
    asyncio.run(application(scope, receive, send))
    # THEN the answer is a bare 400
    assert sent[0]["status"] == 400
    assert sent[1]["body"] == b""


def test_a_body_over_the_host_limit_answers_500(
    storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the host's limit lowered to 10 bytes
    monkeypatch.setenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", "10")
    with running_host(http_app(), host_json={}) as started, httpx.Client(base_url=started.base_url) as http:
        assert http.post("/api/items/1", content=b"x" * 10).json()["body"] == "x" * 10
        # WHEN a function's request is over it THEN binding fails: 500, not 413 (host issue #10519)
        over = http.post("/api/items/1", content=b"x" * 11)
        assert (over.status_code, over.content) == (500, b"")
        # and a path no function answers is still a 404: the body is never read
        assert http.post("/api/nothing", content=b"x" * 11).status_code == 404


def test_a_chunked_body_reaches_the_function_empty(client: httpx.Client) -> None:
    # The host reads a function's body only when Content-Length is above 0 (ToRpcHttp).
    def chunks() -> Iterator[bytes]:
        yield b"part one, "
        yield b"part two"

    assert client.post("/api/items/1", content=chunks()).json()["body"] == ""
    assert client.post("/api/items/1", content=b"sized").json()["body"] == "sized"


def test_route_prefix_comes_from_host_json(storage_env: dict[str, str]) -> None:
    for prefix, path in (("v1/x", "/v1/x/items/special"), ("", "/items/special")):
        host_json = {"extensions": {"http": {"routePrefix": prefix}}}
        with running_host(http_app(), host_json=host_json) as started:
            assert httpx.get(started.base_url + path, timeout=5).status_code == 200, prefix
            assert httpx.get(started.base_url + "/api/items/special", timeout=5).status_code == 404, prefix


def test_reserved_and_conflicting_routes_disable_their_function(storage_env: dict[str, str]) -> None:
    # GIVEN routes in the host's own space, and two functions on one route and method
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="admin/things")
    def admin_things(req: func.HttpRequest) -> str:
        return "never"

    @app.route(route="runtimes")
    def runtimes(req: func.HttpRequest) -> str:
        return "never"

    @app.route(route="dup", methods=["GET"])
    def first(req: func.HttpRequest) -> str:
        return "first"

    @app.route(route="DUP", methods=["GET", "POST"])
    def second(req: func.HttpRequest) -> str:
        return "second"

    @app.route(route="dup", methods=["DELETE"])
    def third(req: func.HttpRequest) -> str:
        return "third"

    with running_host(app, host_json={}) as started, httpx.Client(base_url=started.base_url) as http:
        # THEN the host disables them at indexing (ScriptHost.ValidateFunction) and serves the others
        assert sorted(started.disabled) == ["admin_things", "runtimes", "second"]
        assert http.get("/api/admin/things").status_code == 404
        assert http.get("/api/dup").text == "first"
        assert http.post("/api/dup").status_code == 404  # `second` is disabled whole
        assert http.delete("/api/dup").text == "third"  # no method in common: no conflict


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
