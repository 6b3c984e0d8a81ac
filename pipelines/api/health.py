"""`GET /health`: anonymous; 200 when storage answers, 503 when it does not.

It names which storage service does not answer, never why in detail: the
route needs no token, so it tells nothing about the deployment's settings.
"""

from __future__ import annotations

import logging

import azure.functions as func

from pipelines.api.http import Reply, RequestContext, route

bp = func.Blueprint()
log = logging.getLogger("pipelines.api")


@route(bp, "health")
def health(ctx: RequestContext) -> Reply:
    from pipelines.store.account import get_probe_account

    try:
        services = get_probe_account().ping()
    except Exception:  # noqa: BLE001 - whatever stops storage from answering is "unhealthy"
        log.warning("health: storage is not reachable", exc_info=True)
        services = {"table": "unavailable", "blob": "unavailable", "queue": "unavailable"}
    healthy = all(state == "ok" for state in services.values())
    return Reply(
        {"Status": "Healthy" if healthy else "Unhealthy", "Storage": services},
        status=200 if healthy else 503,
    )
