"""Start-up checks: a missing or malformed setting is named, and the app stays up.

`function_app.py` calls `begin_check()` while the host indexes the app. Raising
there would make indexing fail: the host would load no function at all and answer
every route with 404, which says nothing. Instead each problem is logged with the
setting it names (the host's log, Application Insights), the functions are
registered, and until the settings are fixed every route but `/health` answers 503
and `/health` reports the configuration as invalid.

The check runs on a thread of its own, beside the indexing: reading the settings
imports pydantic and pydantic-settings, about half of a cold start's import, and
the host has work of its own to do between indexing the app and sending the first
invocation (loading each function, starting the listeners). What asks for the
outcome (`configuration_problems()`) waits for the check. The thread is not a
daemon, so a process that imports the app and ends at once still logs what the
check found.
"""

from __future__ import annotations

import logging
import os
import threading

from pipelines.errors import ConfigurationError
from pipelines.lazy import first_use

log = logging.getLogger("pipelines.startup")

_problems: list[str] = []
_checked = threading.Event()
_checked.set()  # no check under way: the outcome is the last check's (none yet: no problem)


def _steps_queue_is_set() -> None:
    # The queue triggers bind to %PIPELINES_STEPS_QUEUE%: the host resolves it from the
    # app settings and has no default, whatever the app's own settings default to.
    if not os.environ.get("PIPELINES_STEPS_QUEUE"):
        raise ConfigurationError("PIPELINES_STEPS_QUEUE must be set: the queue triggers bind to it")


def _no_local_http_webhooks_in_azure() -> None:
    # Plain http webhooks to this machine are for development; in Azure they would reach the instance itself.
    from pipelines.settings import get_settings  # imported by check_configuration, under the lock

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
    with first_use():  # the imports of first use, made one at a time (pipelines.lazy)
        from pipelines.auth.config import check_auth_settings
        from pipelines.settings import get_settings
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


def _check_and_tell() -> None:
    try:
        check_configuration()
    except Exception:  # a bug of the check itself: say so, and let requests through to say more
        log.exception("configuration: the start-up check failed")
    finally:
        _checked.set()


def begin_check() -> threading.Thread:
    """Start `check_configuration()` on a thread of its own; `configuration_problems()` waits for it."""
    _checked.clear()
    thread = threading.Thread(target=_check_and_tell, name="pipelines-startup-check")
    thread.start()
    return thread


def configuration_problems() -> list[str]:
    """What the last check found, once a check begun by `begin_check()` has ended."""
    _checked.wait()
    return list(_problems)
