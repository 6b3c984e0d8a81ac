"""Paths under the service's prefixes that no route takes, and methods a route does not take.

The Functions host answers a request that no function's route and method match with a 404
and an empty body. Under `/pipelines`, `/history` and `/artifact` a catch-all function of
each prefix comes after every other route (`pipelines.api.routes`, "fallback"), so there a
caller gets the contract's error JSON: a 405 with `Allow` when a route is at that path with
other methods, else a 404. Each needs a token, as every route but `/health` and the
studio's page does.
"""

from __future__ import annotations

from typing import NoReturn
from urllib.parse import urlsplit

from pipelines.api.http import RequestContext, route
from pipelines.api.routes import methods_at
from pipelines.errors import MethodNotAllowedError, NotFoundError


def _refuse(ctx: RequestContext) -> NoReturn:
    path = urlsplit(ctx.request.url).path
    allowed = methods_at(path)
    if allowed:
        raise MethodNotAllowedError(
            f"{path} takes {', '.join(allowed)}, not {ctx.request.method.upper()}",
            headers={"Allow": ", ".join(allowed)},
        )
    raise NotFoundError(f"no route of this service is at {path}")


@route("unknown_pipelines_path")
def unknown_pipelines_path(ctx: RequestContext) -> NoReturn:
    _refuse(ctx)


@route("unknown_history_path")
def unknown_history_path(ctx: RequestContext) -> NoReturn:
    _refuse(ctx)


@route("unknown_artifact_path")
def unknown_artifact_path(ctx: RequestContext) -> NoReturn:
    _refuse(ctx)


@route("unknown_datastore_path")
def unknown_datastore_path(ctx: RequestContext) -> NoReturn:
    _refuse(ctx)
