"""Start-up checks: a missing or malformed setting is named, and the app stays up.

`function_app.py` calls `check_configuration()` while the host indexes the app.
Raising there would make indexing fail: the host would load no function at all
and answer every route with 404, which says nothing. Instead each problem is
logged with the setting it names (the host's log, Application Insights), the
functions are registered, and until the settings are fixed every route but
`/health` answers 503 and `/health` reports the configuration as invalid.
"""

from __future__ import annotations

import logging
import os

from pipelines.auth import check_auth_settings
from pipelines.errors import ConfigurationError
from pipelines.settings import get_settings

log = logging.getLogger("pipelines.startup")

_problems: list[str] = []


def _steps_queue_is_set() -> None:
    # The queue triggers bind to %PIPELINES_STEPS_QUEUE%: the host resolves it from the
    # app settings and has no default, whatever the app's own settings default to.
    if not os.environ.get("PIPELINES_STEPS_QUEUE"):
        raise ConfigurationError("PIPELINES_STEPS_QUEUE must be set: the queue triggers bind to it")


def _no_local_http_webhooks_in_azure() -> None:
    # Plain http webhooks to this machine are for development; in Azure they would reach the instance itself.
    try:
        allowed = get_settings().webhooks_allow_local_http
    except ConfigurationError:
        return  # reported by get_settings itself
    if allowed:
        from pipelines.auth.devissuer import azure_environment  # only then: it loads the token libraries

        where = azure_environment()
        if where:
            raise ConfigurationError(
                f"PIPELINES_WEBHOOKS_ALLOW_LOCAL_HTTP is for development only, but this runs in Azure ({where})"
            )


def check_configuration() -> list[str]:
    """Check the settings; log and remember each problem (its message names the setting)."""
    found: list[str] = []
    for check in (get_settings, check_auth_settings, _steps_queue_is_set, _no_local_http_webhooks_in_azure):
        try:
            check()
        except ConfigurationError as error:
            found.append(error.message)
    for problem in found:
        log.error("configuration: %s", problem)
    _problems[:] = found
    return found


def configuration_problems() -> list[str]:
    return list(_problems)
