"""The thin layer between Azure Functions HTTP triggers and the services.

A handler is declared with `@route("name")`: method, template and permission
come from `pipelines.api.routes`, and `pipelines.api.functions` registers the
route's HTTP function, which calls `answer()` (importing the handler's module on
the route's first request). `handle()` checks the body size, authenticates and
authorises the caller, calls the handler, and turns its result, or any error,
into an `HttpResponse`. This module is the only place where an exception becomes
an HTTP answer.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from pydantic import BaseModel

from pipelines import lazy
from pipelines.api import answers
from pipelines.api.history_contract import RootError
from pipelines.api.routes import HANDLER_MODULES, Route
from pipelines.auth import authenticate
from pipelines.auth.permissions import Permission, Principal
from pipelines.errors import (
    BadRequestError,
    LengthRequiredError,
    MethodNotAllowedError,
    PayloadTooLargeError,
    PipelinesError,
    RangeNotSatisfiableError,
    ServiceUnavailableError,
    UnauthorizedError,
)
from pipelines.settings import Settings, get_settings
from pipelines.startup import configuration_problems
from pipelines.text import SURROGATE_RULE, experiment_name_problem, unpaired_surrogate, whole_number

log = logging.getLogger("pipelines.api")

# Azure ML workspace names: letters, digits, '-' and '_' (the old service's rule).
_WORKSPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")


@dataclass
class Reply:
    """A handler's answer when it needs headers or another status than 200."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RequestContext:
    request: func.HttpRequest
    route: Route
    request_id: str
    principal: Principal | None = None

    @property
    def caller(self) -> Principal:
        """The caller of a route that needs a token (set before its handler runs)."""
        if self.principal is None:
            raise RuntimeError(f"route {self.route.name} answers without a token: it has no caller")
        return self.principal

    # -- addressing ---------------------------------------------------------------
    def param(self, name: str) -> str:
        """A route parameter (names are matched case-insensitively, as the host does)."""
        params = self.request.route_params or {}
        for key, value in params.items():
            if key.lower() == name.lower() and value is not None:
                return str(value)
        raise BadRequestError(f"missing route parameter {name!r}", target=name)

    def optional_param(self, name: str) -> str | None:
        params = self.request.route_params or {}
        for key, value in params.items():
            if key.lower() == name.lower() and value not in (None, ""):
                return str(value)
        return None

    def query(self, name: str) -> str | None:
        """A query-string value; names are case-insensitive (`Name` and `name` both arrive)."""
        for key, value in (self.request.params or {}).items():
            if key.lower() == name.lower():
                return str(value)
        return None

    def header(self, name: str) -> str | None:
        value = self.request.headers.get(name)
        return str(value) if value is not None else None

    @property
    def workspace(self) -> str:
        """The namespace the route's `{workspaceName}` names: in any case, as Azure's resource
        names are read (`MyWorkspace` and `myworkspace` are one workspace), so kept lower-case."""
        return self._workspace_as_sent().lower()

    def _workspace_as_sent(self) -> str:
        name = self.param("workspaceName")
        if not _WORKSPACE.match(name):
            raise BadRequestError(
                "workspace names are letters, digits, '-' and '_' (64 at most)",
                target="workspaceName",
            )
        return name

    @property
    def experiment_name(self) -> str:
        """The `{experimentName}` of a history route, held to the rule of a submit's ExperimentName:
        a name no run can have is a 400; a valid one that names nothing is the handler's 404."""
        name = self.param("experimentName")
        problem = experiment_name_problem(name)
        if problem:
            raise BadRequestError(f"experimentName {problem}", target="experimentName")
        return name

    @property
    def base_url(self) -> str:
        """Where the app's routes start: `PIPELINES_PUBLIC_BASE_URL`, else what this request
        reached (scheme, host and any route prefix in front of the route's first segment)."""
        configured = get_settings().public_base_url
        if configured:
            return configured.rstrip("/")
        url = self.request.url.split("?", 1)[0]
        first = "/" + self.route.template.split("/", 1)[0] + "/"
        match = re.match(r"^(https?://[^/]+)", url)
        at = url.find(first, len(match.group(1)) if match else 0)
        return url[:at] if at >= 0 else (match.group(1) if match else "")

    def scope_path(self) -> str:
        """`subscriptions/{s}/resourceGroups/{rg}/providers/.../workspaces/{ws}` of this request."""
        return (
            f"subscriptions/{self.param('subscriptionId')}/resourceGroups/{self.param('resourceGroupName')}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self._workspace_as_sent()}"
        )

    @property
    def workspace_url(self) -> str:
        """The absolute `{WS}` prefix of this request (the pipelines family), for `Url` keys."""
        return f"{self.base_url}/pipelines/v1.0/{self.scope_path()}"

    @property
    def history_url(self) -> str:
        """The absolute `{HS}` prefix of this request (the run-history family)."""
        return f"{self.base_url}/history/v1.0/{self.scope_path()}"

    # -- body -------------------------------------------------------------------------
    def json(self, *, empty: Any = None) -> Any:
        """The body parsed as JSON whatever the Content-Type says (docs/contract.md §2)."""
        raw = self.request.get_body() or b""
        if not raw.strip():
            if empty is None:
                raise BadRequestError("the request body is empty; JSON was expected")
            return empty
        try:
            value = json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise BadRequestError("the request body is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise BadRequestError(f"the request body is not valid JSON: {exc}") from None
        except ValueError:  # the interpreter's own limit on a number's digits (4,300)
            raise BadRequestError("the request body holds a number with more digits than any value takes") from None
        except RecursionError:
            raise BadRequestError("the request body is nested too deeply") from None
        where = unpaired_surrogate(value)
        if where is not None:
            raise BadRequestError(f"the request body holds, at {where}, {SURROGATE_RULE}", target=where)
        return value

    def json_object(self, *, empty_ok: bool = True) -> dict[str, Any]:
        value = self.json(empty={} if empty_ok else None)
        if not isinstance(value, dict):
            raise BadRequestError(
                f"the request body must be a JSON object, not {_json_kind(value)}"
            )
        return value


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


# -- answers -----------------------------------------------------------------------------
def _dump(body: Any) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", by_alias=True)
    if isinstance(body, list):
        return [_dump(item) for item in body]
    if isinstance(body, dict):
        return {key: _dump(value) for key, value in body.items()}
    return body


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> func.HttpResponse:
    if isinstance(body, str) and headers and "text/plain" in headers.get("Content-Type", ""):
        return func.HttpResponse(body, status_code=status, headers=dict(headers))
    return func.HttpResponse(
        json.dumps(_dump(body), separators=(",", ":"), default=str),
        status_code=status,
        headers={"Content-Type": "application/json; charset=utf-8", **dict(headers or {})},
    )


def error_model(error: PipelinesError, request_id: str, *, sdk: bool = False) -> answers.Error:
    """The error JSON (docs/contract.md §4) of `error`; `sdk`: with its twin in the keys of
    Azure ML's run-history service (`answers.HistoryError`)."""
    info = answers.ErrorInfo(
        code=error.code,
        message=error.message,
        target=error.target,
        details=[answers.ErrorDetail(code=d.code, message=d.message, target=d.target) for d in error.details],
    )
    correlation = answers.Correlation(request_id=request_id)
    if not sdk:
        return answers.Error(error=info, correlation=correlation)
    twin = RootError(code=error.code, message=error.message, target=error.target, details=[
        RootError(code=d.code, message=d.message, target=d.target) for d in error.details])
    # By alias: `error` and `correlation` name the twin's fields, `Error` and `Correlation` the contract's.
    return answers.HistoryError.model_validate(
        {"Error": info, "Correlation": correlation, "error": twin, "correlation": {"request": request_id}})


def error_body(error: PipelinesError, request_id: str) -> dict[str, Any]:
    """The error JSON as a dict: what `error_response` writes."""
    return error_model(error, request_id).model_dump(mode="json", by_alias=True)


def error_response(error: PipelinesError, request_id: str, *, sdk: bool = False) -> func.HttpResponse:
    headers = {"x-ms-request-id": request_id, **error.headers}
    return json_response(error_model(error, request_id, sdk=sdk), error.status, headers)


def internal_error_response(request_id: str, *, sdk: bool = False) -> func.HttpResponse:
    error = PipelinesError("an unexpected error occurred; quote the request id when reporting it")
    return error_response(error, request_id, sdk=sdk)


# The route families of Azure ML's own services, whose SDK v1 clients read errors in their keys.
SDK_ERROR_FAMILIES = ("history/", "artifact/")


# -- handling a request ----------------------------------------------------------------------
Handler = Callable[[RequestContext], Any]


def authenticate_request(request: func.HttpRequest) -> Principal:
    # Imported here: the validator reads its settings on first use, not at import.
    return authenticate(request.headers)


def handle(
    request: func.HttpRequest, route: Route, handler: Handler | None = None, max_bytes: int | None = None
) -> func.HttpResponse:
    """`request` answered by `handler`, or by the route's declared handler (`declared`, its module
    imported here on the route's first request: a failure there is answered as any other)."""
    request_id = str(uuid.uuid4())
    ctx = RequestContext(request=request, route=route, request_id=request_id)
    sdk = route.template.startswith(SDK_ERROR_FAMILIES)
    link = None
    try:
        if handler is None:
            answering = declared(route.name)
            handler, max_bytes = answering.handler, answering.max_bytes() if answering.max_bytes else None
            link = answering.link
        if request.method.upper() not in route.methods:
            raise MethodNotAllowedError(
                f"{route.template} is read with {' and '.join(route.methods)}",
                headers={"Allow": ", ".join(route.methods)},
            )
        if configuration_problems() and route.permission is not Permission.ANONYMOUS:
            # The host's log names the settings (pipelines/startup.py); callers learn only that.
            raise ServiceUnavailableError("the app's settings are not valid: its log names them")
        if route.permission is not Permission.ANONYMOUS:
            ctx.principal = _by_link(ctx, link) or authenticate_request(request)
            for needed in route.needs:
                ctx.principal.require(needed)
        _check_framing(request)
        _check_size(request, max_bytes)
        if "{workspaceName}" in route.template:
            ctx._workspace_as_sent()  # a name no workspace can have is a 400 on every route, read or not
        result = handler(ctx)
        if isinstance(result, func.HttpResponse):
            return result
        if isinstance(result, Reply):
            return json_response(result.body, result.status, {"x-ms-request-id": request_id, **result.headers})
        return json_response(result, 200, {"x-ms-request-id": request_id})
    except PipelinesError as error:
        if error.status >= 500:
            # Server-side faults (a setting, storage) are logged, never explained to the caller.
            log.error("request %s %s failed: %s", request_id, route.name, error.message)
            generic = PipelinesError(
                "the service cannot answer right now; quote the request id when reporting it",
                headers=error.headers,
            )
            generic.status, generic.code = error.status, error.code
            return error_response(generic, request_id, sdk=sdk)
        return error_response(error, request_id, sdk=sdk)
    except Exception:  # noqa: BLE001 - the one place that turns a bug into a 500
        log.exception("request %s %s failed unexpectedly", request_id, route.name)
        return internal_error_response(request_id, sdk=sdk)


# Who a signed link makes the caller: a reader of the one thing the link names.
LINK_READER = Principal(object_id=None, app_id=None, tenant_id=None, roles=frozenset({Permission.READ.value}),
                        name="a signed link")


def _by_link(ctx: RequestContext, link: LinkCheck | None) -> Principal | None:
    """`LINK_READER` for a GET that carries a signed link and no `Authorization` header, on a
    route that takes links, when the link holds (else a 401 saying why); None otherwise: the
    token decides."""
    request = ctx.request
    if link is None or request.method.upper() != "GET" or request.headers.get("authorization") or not ctx.query("sig"):
        return None
    why = link(ctx)
    if why is not None:
        raise UnauthorizedError(why)
    return LINK_READER


def _check_framing(request: func.HttpRequest) -> None:
    """A body sent with `Transfer-Encoding` (chunked) and no `Content-Length` reaches the app
    empty: the Functions host passes a body on only when the request declares its length
    (`GrpcMessageConversionExtensions.ToRpcHttp`). Answered 411 rather than taken for no body,
    which a submit would run with the pipeline's defaults."""
    if (request.method.upper() in _BODY_METHODS and request.headers.get("transfer-encoding")
            and not request.headers.get("content-length") and not request.get_body()):
        raise LengthRequiredError(
            "the request body was sent with Transfer-Encoding and no Content-Length, and Azure Functions "
            "passes no such body on to the app: send it with a Content-Length header")


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _check_size(request: func.HttpRequest, max_bytes: int | None) -> None:
    # With settings that do not parse (only /health gets this far), the default limit holds.
    default = Settings.model_fields["max_request_bytes"].default
    limit = max_bytes or (default if configuration_problems() else get_settings().max_request_bytes)
    declared = request.headers.get("content-length")
    size = whole_number(declared) if declared else None
    if declared and (size is None or size > limit):
        raise PayloadTooLargeError(f"the request body is over {limit} bytes")
    if len(request.get_body() or b"") > limit:
        raise PayloadTooLargeError(f"the request body is over {limit} bytes")


# -- declaration: which function answers a route ------------------------------------------------
# Why a request's signed link does not hold (None: it does); see `Declared.link`.
LinkCheck = Callable[[RequestContext], str | None]


@dataclass(frozen=True)
class Declared:
    handler: Handler
    max_bytes: Callable[[], int] | None = None
    # A GET of the route may come with a signed link instead of a token: this says why the
    # request's link does not hold, or None when it does (`pipelines.runs.loglinks`).
    link: LinkCheck | None = None


_DECLARED: dict[str, Declared] = {}  # as each handler's module runs
_READY: dict[str, Declared] = {}  # once that module has run to its end


def route(
    name: str, *, max_bytes: Callable[[], int] | None = None, link: LinkCheck | None = None,
) -> Callable[[Handler], Handler]:
    """Declare `handler` as what answers the route `name` of the route table. It must be defined
    in the module the table names for the route (`HANDLER_MODULES`): the route's HTTP function
    (`pipelines.api.functions`) imports that module on its first request and calls it here."""
    module = HANDLER_MODULES[name]

    def declare(handler: Handler) -> Handler:
        earlier = _DECLARED.get(name)
        if handler.__module__ != module or (earlier and earlier.handler.__qualname__ != handler.__qualname__):
            raise RuntimeError(f"route {name!r} is answered by one function of {module} (pipelines/api/routes.py)")
        _DECLARED[name] = Declared(handler, max_bytes, link)
        return handler

    return declare


def declared(name: str) -> Declared:
    """What answers the route `name`, its module imported on the route's first request."""
    found = _READY.get(name)
    if found is None:
        # Waits while another thread's first request imports a module (`pipelines.lazy`): a
        # handler declared before the module's end may call what is defined after it.
        lazy.load(HANDLER_MODULES[name])
        found = _READY[name] = _DECLARED[name]
    return found


def answer(request: func.HttpRequest, spec: Route) -> func.HttpResponse:
    """The answer of the route `spec` to `request`: what every HTTP function of the app calls."""
    return handle(request, spec)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int, *, most: int) -> tuple[int, int] | None:
    """(first, last) inclusive of a `Range: bytes=...` header; None without one.

    One range only; `bytes=a-`, `bytes=a-b` and `bytes=-n` (the last n bytes).
    At most `most` bytes are answered: a longer range is cut, and the answer's
    `Content-Range` says which bytes it holds."""
    if header is None or not header.strip():
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None or (not match.group(1) and not match.group(2)):
        raise RangeNotSatisfiableError(
            f"the Range header {header!r} is not one range of bytes (bytes=first-last)",
            target="Range", headers={"Content-Range": f"bytes */{size}"},
        )
    first_text, last_text = match.groups()
    if first_text:
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
    else:
        first = max(0, size - int(last_text))
        last = size - 1
    if first >= size or last < first:
        raise RangeNotSatisfiableError(
            f"the file has {size} bytes: the range {header!r} is outside it",
            target="Range", headers={"Content-Range": f"bytes */{size}"},
        )
    return first, min(last, size - 1, first + most - 1)
