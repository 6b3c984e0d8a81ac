"""The studio: the web page where a team sees, runs and debugs its pipelines (docs/studio.md).

`GET /studio` and `GET /studio/{*path}` answer the built page (`pipelines.studio`)
without a token: static files only, and `config.json`, the page's sign-in settings
(no secret in it). Everything the page shows it reads from the API's own routes,
with the signed-in user's token, so the page can do no more than its user may.
"""

from __future__ import annotations

import json

import azure.functions as func

from pipelines import studio as assets
from pipelines.api.http import RequestContext, route
from pipelines.errors import NotFoundError


def _headers(content_type: str, cache_control: str, request_id: str) -> dict[str, str]:
    return {
        "Content-Type": content_type,
        "Cache-Control": cache_control,
        "Content-Security-Policy": assets.content_security_policy(),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "x-ms-request-id": request_id,
    }


def _answer(ctx: RequestContext, path: str) -> func.HttpResponse:
    if path.strip("/") == "config.json":
        body = json.dumps(assets.config(), separators=(",", ":")).encode("utf-8")
        headers = _headers("application/json; charset=utf-8", "no-store", ctx.request_id)
        return func.HttpResponse(body, status_code=200, headers=headers)
    asset = assets.find(path)
    if asset is None:
        raise NotFoundError(f"the studio has no file {path!r}", target="path")
    return func.HttpResponse(
        asset.body, status_code=200, headers=_headers(asset.content_type, asset.cache_control, ctx.request_id)
    )


@route("studio")
def studio(ctx: RequestContext) -> func.HttpResponse:
    """The studio's page."""
    return _answer(ctx, "")


@route("studio_files")
def studio_files(ctx: RequestContext) -> func.HttpResponse:
    """A file of the studio, its configuration, or the page for one of its own paths."""
    return _answer(ctx, ctx.optional_param("path") or "")
