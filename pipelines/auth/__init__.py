"""Authentication and authorisation: Entra ID access tokens in, a `Principal` out.

`authenticate(headers)` is what the HTTP layer calls; the route table
(`pipelines.api.routes`) says which `Permission` each route needs, and
`Principal.require` enforces it. Settings: `pipelines.auth.config`; the local
token issuer for development: `pipelines.auth.devissuer`.

The validator's names (they bring PyJWT and cryptography) and the settings' names
(they bring pydantic and pydantic-settings) are imported on first use: the route
table imports this package while the host indexes the app, the settings are checked
beside the indexing (`pipelines.startup`), and a token is checked only when a
request comes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.auth.bearer import MissingTokenError
from pipelines.auth.fetch import KeysUnavailableError
from pipelines.auth.permissions import Permission, Principal
from pipelines.lazy import load

if TYPE_CHECKING:
    from pipelines.auth.config import AuthSettings, check_auth_settings, get_auth_settings
    from pipelines.auth.validator import TokenValidator, authenticate, get_validator, reset_auth

_LAZY = {
    **dict.fromkeys(("AuthSettings", "check_auth_settings", "get_auth_settings"), "pipelines.auth.config"),
    **dict.fromkeys(("TokenValidator", "authenticate", "get_validator", "reset_auth"), "pipelines.auth.validator"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(load(module), name)

__all__ = [
    "AuthSettings",
    "KeysUnavailableError",
    "MissingTokenError",
    "Permission",
    "Principal",
    "TokenValidator",
    "authenticate",
    "check_auth_settings",
    "get_auth_settings",
    "get_validator",
    "reset_auth",
]
