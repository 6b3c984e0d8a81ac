"""The ASGI application the development host serves: HTTP triggers, webhooks, dev JWKS.

Requests become `azure.functions.HttpRequest` objects the way the worker builds
them (lower-case header names, repeated query keys joined with commas), and the
function's `HttpResponse` goes back as the host sends it. Errors the host itself
answers use the contract's error JSON (`pipelines.api.http.error_response`).
"""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any
from urllib.parse import unquote

import azure.functions as func
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from pipelines.api.http import error_response, internal_error_response, json_response
from pipelines.devhost import eventgrid
from pipelines.devhost.functions import FunctionEntry, invoke_async
from pipelines.devhost.routing import RouteTable, split_path
from pipelines.errors import (
    BadRequestError,
    ForbiddenError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PipelinesError,
)

log = logging.getLogger("pipelines.devhost")

JWKS_PATH = ".devissuer/keys"
# A development token for the studio's page (docs/studio.md): `?roles=` a comma list.
TOKEN_PATH = ".devissuer/token"


def _segments_equal(actual: list[str], expected: list[str]) -> bool:
    return len(actual) == len(expected) and all(
        unquote(a).casefold() == e.casefold() for a, e in zip(actual, expected, strict=True)
    )


def _joined(pairs: list[tuple[str, str]], separator: str) -> dict[str, str]:
    """Repeated keys joined, as the host flattens headers and query strings for the worker."""
    joined: dict[str, str] = {}
    for key, value in pairs:
        joined[key] = f"{joined[key]}{separator}{value}" if key in joined else value
    return joined


def to_asgi_response(value: Any) -> Response:
    """A function's return value as the host answers it."""
    if value is None:
        return Response(status_code=204)
    if isinstance(value, (str, bytes)):
        return Response(value, status_code=200, media_type="text/plain")
    if not isinstance(value, func.HttpResponse):
        raise TypeError(f"an HTTP function must return func.HttpResponse, not {type(value).__name__}")
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
    """Dispatches every request: dev JWKS, Event Grid webhook, then the HTTP triggers."""

    def __init__(
        self,
        *,
        routes: RouteTable[FunctionEntry],
        event_grid: Mapping[str, FunctionEntry],
        route_prefix: str,
        executor: Executor,
        max_request_bytes: int,
        jwks: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.routes = routes
        self.event_grid = event_grid
        self.prefix = [part for part in route_prefix.split("/") if part]
        self.executor = executor
        self.max_request_bytes = max_request_bytes
        self.jwks = jwks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not a Functions thing
            return
        started = time.perf_counter()
        request = Request(scope, receive)
        request_id = str(uuid.uuid4())
        try:
            response = await self._dispatch(request, request_id)
        except PipelinesError as error:
            response = to_asgi_response(error_response(error, request_id))
        except Exception:
            log.exception("request %s %s failed in the development host", request.method, request.url.path)
            response = to_asgi_response(internal_error_response(request_id))
        await response(scope, receive, send)
        log.info(
            "%s %s %d %.1fms",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )

    async def _dispatch(self, request: Request, request_id: str) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = split_path(raw_path.decode("latin-1"))
        if self.jwks and _segments_equal(path, JWKS_PATH.split("/")):
            if request.method not in ("GET", "HEAD"):
                raise MethodNotAllowedError("the development JWKS is read with GET")
            return to_asgi_response(json_response(self.jwks()))
        if self.jwks and _segments_equal(path, TOKEN_PATH.split("/")):
            return to_asgi_response(dev_token(request))
        if _segments_equal(path, eventgrid.WEBHOOK_PATH.split("/")):
            if request.method not in ("POST", "OPTIONS"):
                raise MethodNotAllowedError("the Event Grid webhook takes POST")
            answer = await eventgrid.handle_webhook(
                method=request.method,
                headers=request.headers,
                params=_joined(request.query_params.multi_items(), ","),
                body=await self._body(request),
                functions=self.event_grid,
                executor=self.executor,
                request_id=request_id,
            )
            return to_asgi_response(answer)
        if not _segments_equal(path[: len(self.prefix)], self.prefix):
            raise NotFoundError(f"no function answers {request.url.path}", target=request.url.path)
        resolution = self.routes.resolve(request.method, path[len(self.prefix) :])
        if resolution.target is None:
            if resolution.allowed:
                error = MethodNotAllowedError(
                    f"{request.method} is not allowed on {request.url.path}",
                    target=request.method,
                    headers={"Allow": ", ".join(resolution.allowed)},
                )
                raise error
            raise NotFoundError(f"no function answers {request.url.path}", target=request.url.path)
        body = await self._body(request)
        trigger = func.HttpRequest(
            request.method,
            str(request.url),
            headers=_joined(request.headers.items(), ", "),
            params=_joined(request.query_params.multi_items(), ","),
            route_params=resolution.route_params,
            body=body,
        )
        outcome = await invoke_async(resolution.target, trigger, self.executor)
        if not outcome.succeeded:
            return to_asgi_response(internal_error_response(request_id))
        try:
            return to_asgi_response(outcome.value)
        except TypeError as exc:
            log.error("function %s: %s", resolution.target.name, exc)
            return to_asgi_response(internal_error_response(request_id))

    async def _body(self, request: Request) -> bytes:
        limit = self.max_request_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLargeError(f"the request body is over {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLargeError(f"the request body is over {limit} bytes")
                chunks.append(chunk)
        except ClientDisconnect:
            raise BadRequestError("the request body could not be read: the client went away") from None
        except PipelinesError:
            raise
        except Exception as exc:  # noqa: BLE001 - any read failure is the client's
            raise BadRequestError(f"the request body could not be read ({type(exc).__name__})") from None
        return b"".join(chunks)
