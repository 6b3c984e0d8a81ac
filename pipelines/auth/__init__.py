"""Authentication and authorisation: Entra ID access tokens in, a `Principal` out.

`authenticate(headers)` is what the HTTP layer calls; the route table
(`pipelines.api.routes`) says which `Permission` each route needs, and
`Principal.require` enforces it. Settings: `pipelines.auth.config`; the local
token issuer for development: `pipelines.auth.devissuer`.

The validator's names are imported on first use (they bring PyJWT and
cryptography): the route table and the start-up check import this package while
the host indexes the app, and a token is checked only when a request comes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.auth.bearer import MissingTokenError
from pipelines.auth.config import AuthSettings, check_auth_settings, get_auth_settings
from pipelines.auth.fetch import KeysUnavailableError
from pipelines.auth.permissions import Permission, Principal
from pipelines.lazy import first_use

if TYPE_CHECKING:
    from pipelines.auth.validator import TokenValidator, authenticate, get_validator, reset_auth

_FROM_VALIDATOR = frozenset({"TokenValidator", "authenticate", "get_validator", "reset_auth"})


def __getattr__(name: str) -> Any:
    if name in _FROM_VALIDATOR:
        with first_use():
            from pipelines.auth import validator

        return getattr(validator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
