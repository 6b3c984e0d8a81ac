"""`GET /health`: anonymous; 200 when storage answers, 503 when it does not.

It names which storage service does not answer, never why in detail: the
route needs no token, so it tells nothing about the deployment's settings.
"""

from __future__ import annotations

import logging

from pipelines.api.answers import Health, StorageHealth
from pipelines.api.http import Reply, RequestContext, route
from pipelines.startup import configuration_problems
from pipelines.store.account import get_probe_account
from pipelines.version import __version__

log = logging.getLogger("pipelines.api")


@route("health")
def health(ctx: RequestContext) -> Reply:
    configured = not configuration_problems()
    storage = StorageHealth(table="unavailable", blob="unavailable", queue="unavailable")
    if configured:
        try:
            states = get_probe_account().ping()
        except Exception:  # noqa: BLE001 - whatever stops storage from answering is "unhealthy"
            log.warning("health: storage is not reachable", exc_info=True)
        else:
            storage = StorageHealth(table=states["table"], blob=states["blob"], queue=states["queue"])
    healthy = configured and all(state == "ok" for state in (storage.table, storage.blob, storage.queue))
    return Reply(
        Health(
            status="Healthy" if healthy else "Unhealthy",
            # Which settings are wrong is in the app's log: this route needs no token.
            configuration="valid" if configured else "invalid: the app's log names the settings",
            storage=storage,
            version=__version__,
        ),
        status=200 if healthy else 503,
    )
