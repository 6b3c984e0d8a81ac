"""Reading the access token from the `Authorization` header (RFC 6750).

`Bearer` is the standard scheme; `Token` is what the Java sample in Microsoft's
Azure ML docs sends (docs/contract.md §5), so both are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipelines.errors import UnauthorizedError

SCHEMES = frozenset({"bearer", "token"})

# Entra ID access tokens are a few kilobytes; refuse absurd ones before parsing.
MAX_TOKEN_CHARS = 16_384

_HOW = "send 'Authorization: Bearer <access token>'"


class MissingTokenError(UnauthorizedError):
    """No usable credentials at all.

    RFC 6750 §3.1: a request without authentication information gets a bare
    `WWW-Authenticate: Bearer` challenge, without an error code.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = {"WWW-Authenticate": "Bearer"}


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, case-insensitively, for plain dicts as well as the host's mapping."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        for key, item in headers.items():
            if key.lower() == wanted:
                return item
    return value


def read_token(headers: Mapping[str, str]) -> str:
    value = (header(headers, "Authorization") or "").strip()
    if not value:
        raise MissingTokenError(f"the request has no Authorization header; {_HOW}")
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() not in SCHEMES:
        # The scheme is not echoed: a client that forgot it would have its token there.
        raise MissingTokenError(f"the Authorization header does not use the Bearer scheme; {_HOW}")
    credentials = credentials.strip()
    if not credentials or any(char.isspace() or char == "," for char in credentials):
        raise UnauthorizedError(
            f"the Authorization header is malformed; {_HOW}", error="invalid_request"
        )
    if len(credentials) > MAX_TOKEN_CHARS:
        raise UnauthorizedError(f"the token is over {MAX_TOKEN_CHARS} characters")
    return credentials
