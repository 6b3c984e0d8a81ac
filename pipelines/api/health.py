"""`GET /api/health`: anonymous; 200 when storage answers, 503 when it does not."""

from __future__ import annotations

import azure.functions as func

from pipelines.api.http import Reply, RequestContext, route
from pipelines.errors import PipelinesError

bp = func.Blueprint()


@route(bp, "health")
def health(ctx: RequestContext) -> Reply:
    from pipelines.store.account import StorageAccount
    from pipelines.settings import get_settings

    try:
        services = StorageAccount(get_settings()).ping()
    except PipelinesError as exc:  # a configuration error: report it, don't crash
        return Reply({"Status": "Unhealthy", "Storage": {"error": exc.message}}, status=503)
    healthy = all(state == "ok" for state in services.values())
    return Reply(
        {"Status": "Healthy" if healthy else "Unhealthy", "Storage": services},
        status=200 if healthy else 503,
    )
