"""The studio's built assets and the configuration its page reads (docs/studio.md).

`studio/` holds the sources; `npm run build:studio` (run by `make setup`) writes the
built page into `static/` beside this file, which is committed and shipped in the
Function package as it is: nothing is built or fetched in Azure. The blueprint
`pipelines.api.studio` answers these files without a token; every data call the
page makes goes to the API's own routes with the user's token.

Only files that the build wrote are answered (the table is read once, from this
folder), so no request path reaches anything else on disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}
# Built files under assets/ carry a hash of their content in their name: cached for good.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

# Where the page may sign in (MSAL.js) when no other authority host is configured.
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "local"
DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    cache_control: str


def assets() -> dict[str, Asset]:
    """Every built file by its path below `static/` (posix, no leading slash).

    Read once per build: a new build (a new index.html) is picked up by a running host."""
    try:
        stamp = (STATIC / "index.html").stat().st_mtime_ns
    except OSError:
        stamp = None
    return _read(stamp)


@lru_cache(maxsize=1)
def _read(stamp: int | None) -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    if not STATIC.is_dir():
        return found
    for file in sorted(STATIC.rglob("*")):
        if not file.is_file():
            continue
        relative = file.relative_to(STATIC).as_posix()
        content_type = CONTENT_TYPES.get(file.suffix.lower(), "application/octet-stream")
        cache = IMMUTABLE if relative.startswith("assets/") else REVALIDATE
        found[relative] = Asset(file.read_bytes(), content_type, cache)
    return found


def find(path: str) -> Asset | None:
    """The file a request path names; the page itself for the page's own paths.

    `""`, `runs/...` and every other path whose last segment has no dot are pages of
    the app (it routes in the browser), answered with index.html; a path with a dot
    is a file, and an unknown file is None (404).
    """
    path = path.strip("/")
    table = assets()
    if path in table:
        return table[path]
    last = path.rsplit("/", 1)[-1]
    if "." in last:
        return None
    return table.get("index.html")


def _setting(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or default


def _first(name: str) -> str | None:
    items = [part.strip() for part in (os.environ.get(name) or "").split(",") if part.strip()]
    return items[0] if items else None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def authority_host() -> str:
    return (_setting("PIPELINES_STUDIO_AUTHORITY_HOST") or DEFAULT_AUTHORITY_HOST).rstrip("/")


def config() -> dict[str, Any]:
    """What the page needs to sign in and to address a workspace. Nothing secret.

    - `signIn` "development": the local development issuer is on (never in Azure:
      the app refuses to start there with it); the page asks the development host
      for a token at `tokenUrl`, or takes one pasted from `python -m pipelines token`.
    - `signIn` "entra": MSAL.js, authorization code with PKCE, as the app
      registration `clientId` of `authority`, asking for `scopes`.
    - `signIn` "unconfigured": the page says which settings are missing.
    """
    workspace = {
        "subscriptionId": _setting("PIPELINES_STUDIO_SUBSCRIPTION_ID", DEFAULT_SUBSCRIPTION),
        "resourceGroup": _setting("PIPELINES_STUDIO_RESOURCE_GROUP", DEFAULT_RESOURCE_GROUP),
        "name": _setting("PIPELINES_STUDIO_WORKSPACE", DEFAULT_WORKSPACE),
    }
    answer: dict[str, Any] = {"workspace": workspace}
    if _truthy(os.environ.get("PIPELINES_DEV_ISSUER")):
        return {**answer, "signIn": "development", "tokenUrl": "/.devissuer/token"}
    client_id = _setting("PIPELINES_STUDIO_CLIENT_ID")
    tenant = _setting("PIPELINES_STUDIO_TENANT_ID") or _first("PIPELINES_AUTH_TENANT_IDS")
    audience = _first("PIPELINES_AUTH_AUDIENCES")
    scopes = [s for s in (_setting("PIPELINES_STUDIO_SCOPES") or "").replace(",", " ").split() if s]
    if not scopes and audience:
        scopes = [f"{audience.rstrip('/')}/.default"]
    missing = [
        name for name, value in (
            ("PIPELINES_STUDIO_CLIENT_ID", client_id),
            ("PIPELINES_STUDIO_TENANT_ID (or PIPELINES_AUTH_TENANT_IDS)", tenant),
            ("PIPELINES_STUDIO_SCOPES (or PIPELINES_AUTH_AUDIENCES)", scopes),
        ) if not value
    ]
    if missing:
        return {**answer, "signIn": "unconfigured", "missing": missing}
    return {
        **answer,
        "signIn": "entra",
        "clientId": client_id,
        "authority": f"{authority_host()}/{tenant}",
        "scopes": scopes,
    }


def content_security_policy() -> str:
    """Only the app itself, and the sign-in authority (MSAL.js talks to it and frames it)."""
    login = authority_host()
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        f"connect-src 'self' {login}",
        f"frame-src {login}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))
