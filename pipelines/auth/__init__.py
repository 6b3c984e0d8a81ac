"""Authentication and authorisation: Entra ID access tokens in, a `Principal` out.

`authenticate(headers)` is what the HTTP layer calls; the route table
(`pipelines.api.routes`) says which `Permission` each route needs, and
`Principal.require` enforces it. Settings: `pipelines.auth.config`; the local
token issuer for development: `pipelines.auth.devissuer`.
"""

from __future__ import annotations

from pipelines.auth.bearer import MissingTokenError
from pipelines.auth.config import AuthSettings, check_auth_settings, get_auth_settings
from pipelines.auth.fetch import KeysUnavailableError
from pipelines.auth.permissions import Permission, Principal
from pipelines.auth.validator import TokenValidator, authenticate, get_validator, reset_auth

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
