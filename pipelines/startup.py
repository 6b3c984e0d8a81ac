"""Start-up checks: a missing or malformed setting stops the app with its name.

`function_app.py` calls `check_configuration()` while the host indexes the app,
so a misconfigured deployment fails at start (the host logs the message and
serves nothing) instead of answering 500 on its first request.
"""

from __future__ import annotations

from pipelines.auth import check_auth_settings
from pipelines.settings import get_settings


def check_configuration() -> None:
    get_settings()
    check_auth_settings()
