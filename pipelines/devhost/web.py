"""The ASGI application the development host serves: HTTP triggers, the Event Grid webhook, dev JWKS.

What the host answers itself, it answers as the Functions host 4.x does
(azure-functions-host `WebJobsApplicationBuilderExtension` and its middleware):

- No route matches the path, or one matches but not with this method (the
  methods are an `HttpMethodRouteConstraint`, so the next route is tried): 404
  with an empty body. Never 405.
- `/` with no function on it: the host's home page (200 HTML), or 204 when
  `AzureWebJobsDisableHomepage` is `true` (`HomepageMiddleware`).
- A function that raises, fails to bind, or returns what the worker cannot turn
  into an answer (only `func.HttpResponse` and `str` are): 500 with an empty
  body (`ExceptionMiddleware`); the traceback goes to the log.
- A body over 100 MB (or `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT` bytes): Kestrel
  refuses to read it, binding the request fails, and the host answers 500
  (azure-functions-host issue #10519), not 413.

Requests become `azure.functions.HttpRequest` objects the way the host builds
its `RpcHttp` (`GrpcMessageConversionExtensions.ToRpcHttp`): header names
lower-cased, repeated headers and query keys joined with `,` (ASP.NET Core
merges query keys ignoring case), query parameters with an empty value left
out, and the body read only when the request declares a `Content-Length` above
0, so a chunked body reaches the function empty, as it does under the real host.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import azure.functions as func
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from pipelines.api.http import error_response, json_response
from pipelines.devhost import eventgrid
from pipelines.devhost.functions import FunctionEntry
from pipelines.devhost.routing import RouteTable, split_path
from pipelines.devhost.worker import Worker
from pipelines.errors import BadRequestError, ForbiddenError, MethodNotAllowedError, PipelinesError

log = logging.getLogger("pipelines.devhost")

JWKS_PATH = ".devissuer/keys"
# A development token for the studio's page (docs/studio.md): `?roles=` a comma list.
TOKEN_PATH = ".devissuer/token"

_HOMEPAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Azure Functions</title></head>"
    "<body><h1>Your Functions 4.0 app is up and running</h1>"
    "<p>Served by the development host (pipelines.devhost).</p></body></html>"
)


class _BodyUnreadable(Exception):
    """The body is over the limit, or the client went away while sending it."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _segments_equal(actual: list[str], expected: list[str]) -> bool:
    return len(actual) == len(expected) and all(
        unquote(a).casefold() == e.casefold() for a, e in zip(actual, expected, strict=True)
    )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def join_headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Repeated headers as one, comma-joined (`StringValues.ToString()`), names lower-cased."""
    joined: dict[str, str] = {}
    for key, value in pairs:
        name = key.lower()
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def join_query(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """ASP.NET Core's query collection: keys merged ignoring case (the first spelling kept),
    values comma-joined; a key whose value is empty is not sent to the worker."""
    spelling: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        folded = key.lower()
        spelling.setdefault(folded, key)
        values.setdefault(folded, []).append(value)
    joined = {spelling[folded]: ",".join(items) for folded, items in values.items()}
    return {key: value for key, value in joined.items() if value}


def to_asgi_response(value: Any) -> Response:
    """A function's return value as the host answers it; TypeError for what the worker cannot encode."""
    if isinstance(value, str):
        return Response(value, status_code=200, media_type="text/plain")
    if not isinstance(value, func.HttpResponse):
        # The worker's http converter (`HttpResponseConverter.encode`) knows these two only.
        raise TypeError(f"unable to encode outgoing TypedData: unsupported type {type(value).__name__!r}")
    response = Response(value.get_body(), status_code=value.status_code)
    pairs = [
        (k, v) for k, v in value.headers.items() if k.lower() not in ("content-length", "transfer-encoding")
    ]
    if not any(k.lower() == "content-type" for k, _ in pairs):
        # The worker's rule: text types get the charset, others go as they are.
        mimetype = value.mimetype
        pairs.append(
            (
                "content-type",
                f"{mimetype}; charset={value.charset}" if mimetype.startswith("text/") else mimetype,
            )
        )
    response.raw_headers.extend((k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in pairs)
    return response


def _empty(status: int) -> Response:
    return Response(status_code=status)


def _app_error(error: PipelinesError) -> Response:
    return to_asgi_response(error_response(error, str(uuid.uuid4())))


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return address == "localhost"


def dev_token(request: Request) -> func.HttpResponse:
    """A development token, for a page of this machine only: the caller and the `Host` it
    asked for must both be loopback (no other machine, and no DNS-rebound page, gets one)."""
    if request.method != "GET":
        raise MethodNotAllowedError("development tokens are read with GET")
    host = request.url.hostname or ""  # from the Host header, without its port
    if not (request.client and _loopback(request.client.host) and _loopback(host)):
        raise ForbiddenError("development tokens are handed out on the loopback address only")
    from pipelines.auth.devissuer import DEFAULT_ROLES, mint

    roles = [role.strip() for role in (request.query_params.get("roles") or "").split(",") if role.strip()]
    unknown = sorted(set(roles) - set(DEFAULT_ROLES))
    if unknown:
        raise BadRequestError(f"unknown roles {unknown}: pick from {list(DEFAULT_ROLES)}", target="roles")
    lifetime = 3600
    token = mint(roles or DEFAULT_ROLES, lifetime_seconds=lifetime)
    return json_response({"access_token": token, "token_type": "Bearer", "expires_in": lifetime}, 200,
                         {"Cache-Control": "no-store"})


class HostApplication:
    """Dispatches every request: dev issuer, Event Grid webhook, then the HTTP triggers."""

    def __init__(
        self,
        *,
        routes: RouteTable[FunctionEntry],
        event_grid: Mapping[str, FunctionEntry],
        route_prefix: str,
        worker: Worker,
        max_request_bytes: int,
        jwks: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.routes = routes
        self.event_grid = event_grid
        self.prefix = [part for part in route_prefix.split("/") if part]
        self.worker = worker
        self.max_request_bytes = max_request_bytes
        self.jwks = jwks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not a Functions thing
            return
        started = time.perf_counter()
        request = Request(scope, receive)
        try:
            response = await self._dispatch(request)
        except _BodyUnreadable as exc:
            log.error("%s %s: the request body could not be read: %s", request.method, request.url.path, exc)
            response = _empty(exc.status)
        except eventgrid.WebhookError as exc:  # the extension throws; the host answers 500
            log.error("%s %s: %s", request.method, request.url.path, exc)
            response = _empty(500)
        except Exception:
            log.exception("request %s %s failed in the development host", request.method, request.url.path)
            response = _empty(500)
        await response(scope, receive, send)
        log.info(
            "%s %s %d %.1fms",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )

    async def _dispatch(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = split_path(raw_path.decode("latin-1"))
        method = request.method.upper()
        # The development issuer's two resources: this host's own, not the Functions host's,
        # so they answer in the app's error JSON (405 for a wrong method).
        if self.jwks and _segments_equal(path, JWKS_PATH.split("/")):
            if method not in ("GET", "HEAD"):
                return _app_error(MethodNotAllowedError("the development JWKS is read with GET"))
            return to_asgi_response(json_response(self.jwks()))
        if self.jwks and _segments_equal(path, TOKEN_PATH.split("/")):
            try:
                return to_asgi_response(dev_token(request))
            except PipelinesError as error:
                return _app_error(error)
        webhook = _segments_equal(path[:3], eventgrid.WEBHOOK_PATH.split("/"))
        if webhook and method in eventgrid.WEBHOOK_METHODS:
            answer = await eventgrid.handle_webhook(
                method=method,
                headers=request.headers,
                params=dict(request.query_params.multi_items()),
                # The extension reads the body itself (HttpRequestMessage), Content-Length or not.
                body=await self._body(request, declared_only=False),
                functions=self.event_grid,
                worker=self.worker,
            )
            return to_asgi_response(answer)
        resolution = None
        if _segments_equal(path[: len(self.prefix)], self.prefix):
            resolution = self.routes.resolve(method, path[len(self.prefix) :])
        if resolution is None or resolution.target is None:
            if not path:  # `/`: the host's home page
                if _truthy(os.environ.get("AzureWebJobsDisableHomepage")):
                    return _empty(204)
                return Response(_HOMEPAGE, media_type="text/html")
            if resolution is not None and resolution.allowed:
                methods = ", ".join(resolution.allowed)
                log.info("%s %s: 404, its route takes %s only", method, request.url.path, methods)
            return _empty(404)
        target = resolution.target
        body = await self._body(request)
        trigger = func.HttpRequest(
            method,
            str(request.url),
            headers=join_headers(request.headers.items()),
            params=join_query(request.query_params.multi_items()),
            route_params=resolution.route_params,
            body=body,
        )
        outcome = await self.worker.invoke_async(target, trigger)
        if not outcome.succeeded:
            return _empty(500)
        try:
            return to_asgi_response(outcome.value)
        except TypeError as exc:
            log.error("function %s failed: %s", target.name, exc)
            return _empty(500)

    async def _body(self, request: Request, *, declared_only: bool = True) -> bytes:
        """The body as the host reads it: for a function, only with a Content-Length above 0;
        never more than the limit (Kestrel's MaxRequestBodySize)."""
        declared = request.headers.get("content-length", "").strip()
        if declared_only and (not declared.isdigit() or int(declared) == 0):
            return b""
        limit = self.max_request_bytes
        too_large = f"Request body too large. The max request body size is {limit} bytes."
        if declared.isdigit() and int(declared) > limit:
            raise _BodyUnreadable(500, too_large)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _BodyUnreadable(500, too_large)
                chunks.append(chunk)
        except ClientDisconnect:
            raise _BodyUnreadable(400, "the client went away while sending it") from None
        return b"".join(chunks)
