"""Reading JSON documents (OpenID configuration, key sets) over HTTP.

The standard library is enough for two small GETs, so the deployed app needs no
HTTP client package for this. Redirects are not followed: Entra ID answers
directly, and a redirect is the one way a trusted HTTPS URL could lead the
validator to keys served from somewhere else.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from pipelines.errors import PipelinesError

# Entra ID's key set is a few kilobytes; anything much larger is not a key set.
MAX_DOCUMENT_BYTES = 1_048_576


class KeysUnavailableError(PipelinesError):
    """The signing keys could not be read: the caller is not at fault, retrying may help."""

    status = 503
    code = "ServiceUnavailable"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_key_url(url: str) -> str:
    """Keys are trusted only over HTTPS, or plain HTTP to this machine (the development issuer)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return url
    raise ValueError(f"{url!r} must be an https:// URL (plain http is accepted for localhost only)")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises the 3xx as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch_json(url: str, *, timeout: float) -> dict[str, Any]:
    """GET `url` and parse a JSON object; any failure is a KeysUnavailableError naming the URL."""
    try:
        document = json.loads(_get(url, timeout=timeout))
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:  # includes timeouts and refused connections
        reason = str(getattr(exc, "reason", exc)) or type(exc).__name__
    except ValueError as exc:  # an unsafe URL, or not JSON (JSONDecodeError, UnicodeDecodeError)
        reason = str(exc)
    else:
        if isinstance(document, dict):
            return document
        reason = "the answer is not a JSON object"
    raise KeysUnavailableError(
        f"the token signing keys could not be read from {url}: {reason}; try again later",
        headers={"Retry-After": "5"},
    )


def _get(url: str, *, timeout: float) -> bytes:
    check_key_url(url)
    # The scheme was just checked: https, or http to this machine only.
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "pipelines-auth"}
    )
    with _OPENER.open(request, timeout=timeout) as response:
        body: bytes = response.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"the answer is over {MAX_DOCUMENT_BYTES} bytes")
    return body
