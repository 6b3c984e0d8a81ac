"""A local token issuer for development: the real validator, a local signing key.

Nothing here weakens validation. The development host serves `jwks()` over HTTP
at `/.devissuer/keys` and points the validator at it with the variables of
`configure_dev_environment()`, so tokens minted here go through exactly the
checks an Entra ID token goes through in Azure (signature, issuer, tenant,
audience, lifetime, roles). Everything refuses to run inside Azure (see
`azure_environment()`).

The RSA key is created on first use in `.devkeys/` at the project root
(git-ignored and func-ignored; `PIPELINES_DEV_KEY_DIR` moves it), readable by its
owner only. Delete the folder to rotate the key.

PyJWT and cryptography are imported where a key or a token is made: the app's
settings check reads this module's names at start-up (`pipelines.auth.config`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.auth.fetch import check_key_url
from pipelines.auth.permissions import Permission
from pipelines.errors import ConfigurationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

log = logging.getLogger("pipelines.auth")

# A fixed, obviously fake tenant: it cannot collide with a real one, and the
# validator refuses to trust it inside Azure.
DEV_TENANT_ID = "00000000-0000-4000-8000-0000000de7e1"
DEV_ISSUER = f"https://login.microsoftonline.com/{DEV_TENANT_ID}/v2.0"
DEV_AUDIENCE = "api://pipelines-dev"
# The "client application" and "user" a minted token speaks for.
DEV_APP_ID = "00000000-0000-4000-8000-0000000c11e7"
DEV_OBJECT_ID = "00000000-0000-4000-8000-00000000da7a"
DEV_NAME = "Local developer"

# The path the development host serves `jwks()` on.
JWKS_PATH = "/.devissuer/keys"
ALGORITHM = "RS256"
KEY_FILE = "signing-key.pem"
KEY_BITS = 2048

# A developer owns their local app: by default a minted token may do everything.
# Pass fewer roles to try what a narrower caller sees (403s).
DEFAULT_ROLES: tuple[str, ...] = tuple(
    p.value for p in (Permission.READ, Permission.SUBMIT, Permission.PUBLISH, Permission.ADMIN)
)

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class DevIssuerSettings(BaseSettings):
    """Read on every call (cheap): the host sets these just before it starts."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    key_dir: Path | None = Field(default=None, validation_alias="PIPELINES_DEV_KEY_DIR")


def azure_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """Why this process runs in Azure Functions / App Service, or None when it does not.

    Mirrors the Functions host's own checks (EnvironmentExtensions.cs in
    Azure/azure-functions-host): `WEBSITE_INSTANCE_ID` is set on App Service plans
    (Dedicated, Premium, Windows Consumption) but *not* on Linux or Flex
    Consumption, which are recognised by their SKU and platform variables.
    `CONTAINER_NAME` alone is not enough: dev containers and CI runners set it.
    """
    env = os.environ if environ is None else environ
    if env.get("WEBSITE_INSTANCE_ID"):
        return "WEBSITE_INSTANCE_ID is set"
    for name in ("WEBSITE_SKU", "WEBSITE_SKU_NAME"):
        if env.get(name, "").lower() == "flexconsumption":
            return f"{name} is FlexConsumption"
    if env.get("LEGION_SERVICE_HOST"):
        return "LEGION_SERVICE_HOST is set"
    if env.get("CONTAINER_NAME") and env.get("WEBSITE_SITE_NAME"):
        return "CONTAINER_NAME and WEBSITE_SITE_NAME are set (Linux Consumption)"
    return None


def refuse_in_azure() -> None:
    reason = azure_environment()
    if reason:
        raise ConfigurationError(f"the development token issuer refuses to run in Azure ({reason})")


def key_dir() -> Path:
    return (DevIssuerSettings().key_dir or _PROJECT_ROOT / ".devkeys").expanduser()


# -- the key --------------------------------------------------------------------------------
_cache_lock = threading.Lock()
_cached: tuple[tuple[str, int, int], rsa.RSAPrivateKey] | None = None


def _create_key(path: Path) -> None:
    """Write a new key without ever exposing it, and without clobbering a concurrent writer's."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # mkstemp creates the file 0600; os.link then publishes it only if no other
    # process (the host and the token command may start together) got there first.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
        except OSError:
            # A file system without hard links: exclusive create is the next best.
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(pem)
        log.info("created a development signing key in %s", path.parent)
    finally:
        os.unlink(tmp)


def signing_key() -> rsa.RSAPrivateKey:
    """The development private key, created on first use (refuses in Azure)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    global _cached
    refuse_in_azure()
    path = key_dir() / KEY_FILE
    with _cache_lock:
        if not path.exists():
            _create_key(path)
        info = path.stat()
        if os.name == "posix" and stat.S_IMODE(info.st_mode) & 0o077:
            log.warning("tightening the permissions of %s to 0600", path)
            path.chmod(0o600)
        # Keyed on the file's identity so that deleting .devkeys/ rotates the key
        # for a running process too.
        identity = (str(path), info.st_mtime_ns, info.st_ino)
        if _cached is not None and _cached[0] == identity:
            return _cached[1]
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigurationError(f"{path} is not an RSA private key; delete it to get a new one")
        _cached = (identity, key)
        return key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 thumbprint: stable for a key, new when the key is replaced."""
    from jwt.algorithms import RSAAlgorithm

    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def jwks() -> dict[str, Any]:
    """The public key set, as Entra ID publishes it: public members only."""
    from jwt.algorithms import RSAAlgorithm

    public = signing_key().public_key()
    jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    return {
        "keys": [
            {
                "kty": jwk["kty"],
                "n": jwk["n"],
                "e": jwk["e"],
                "kid": key_id(public),
                "use": "sig",
                "alg": ALGORITHM,
            }
        ]
    }


# -- tokens ---------------------------------------------------------------------------------
def mint(
    roles: Sequence[str] = DEFAULT_ROLES,
    scopes: Sequence[str] = (),
    *,
    lifetime_seconds: int = 3600,
    object_id: str = DEV_OBJECT_ID,
    subject: str | None = None,
    app_id: str = DEV_APP_ID,
    audience: str | None = None,
    name: str = DEV_NAME,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """A signed RS256 access token shaped like an Entra ID v2 token of the development tenant.

    `roles` become the `roles` claim (application permissions), `scopes` the
    space-separated `scp` claim (delegated permissions). `extra_claims` are
    applied last and may override anything (e.g. `exp` for an expired token).
    """
    import jwt

    for label, value in (("roles", roles), ("scopes", scopes)):
        if isinstance(value, str):
            # mint("Pipelines.Read") would otherwise grant one role per character.
            raise TypeError(f"{label} must be a sequence of names, not a string")
    if lifetime_seconds <= 0:
        raise ValueError("lifetime_seconds must be positive")
    key = signing_key()
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": audience or DEV_AUDIENCE,
        "tid": DEV_TENANT_ID,
        "sub": subject or object_id,
        "oid": object_id,
        "azp": app_id,
        "name": name,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_seconds,
        "ver": "2.0",
        "uti": uuid.uuid4().hex,
    }
    if roles:
        claims["roles"] = list(roles)
    if scopes:
        claims["scp"] = " ".join(scopes)
    claims.update(extra_claims or {})
    return jwt.encode(
        claims, key, algorithm=ALGORITHM, headers={"kid": key_id(key.public_key()), "typ": "JWT"}
    )


# -- wiring ---------------------------------------------------------------------------------
def configure_dev_environment(base_url: str) -> dict[str, str]:
    """The variables that make the validator trust this issuer, with keys fetched from `base_url`.

    `base_url` is the development host's origin (e.g. `http://127.0.0.1:7071`);
    it serves `jwks()` at `JWKS_PATH`. Set these before the first request (the
    validator reads its settings once), or call `pipelines.auth.reset_auth()`.
    """
    refuse_in_azure()
    jwks_url = f"{base_url.rstrip('/')}{JWKS_PATH}"
    try:
        check_key_url(jwks_url)
    except ValueError as exc:
        raise ConfigurationError(f"the development issuer cannot use {base_url!r}: {exc}") from None
    signing_key()  # create the key now, not on the first request
    return {
        "PIPELINES_AUTH_TENANT_IDS": DEV_TENANT_ID,
        "PIPELINES_AUTH_AUDIENCES": DEV_AUDIENCE,
        "PIPELINES_AUTH_JWKS_URL": jwks_url,
    }
