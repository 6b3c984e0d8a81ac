"""Entra ID access-token validation: the token becomes a `Principal` or a 401.

The order of the checks matters:

1. the header is read without trusting it, and the algorithm is checked
   against the allow-list *before* any key is touched (no `none`, no HMAC:
   an HMAC "secret" would be the public key);
2. the tenant (`tid`) must be allowed before any key is fetched, so a caller
   cannot make the app fetch keys of arbitrary tenants;
3. `exp`, `nbf` and `iat` must be JSON numbers (RFC 7519's NumericDate; PyJWT
   would accept digits in a string);
4. PyJWT verifies the signature first, then issuer (v1 or v2 form of the
   token's own tenant), audience, `exp`, `nbf` and `iat` with the clock skew.

Refusals are logged with their reason, never with the token.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import jwt
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidKeyError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWTError,
)

from pipelines.auth import devissuer
from pipelines.auth.bearer import read_token
from pipelines.auth.config import AuthSettings, get_auth_settings, reset_auth_settings
from pipelines.auth.fetch import KeysUnavailableError, check_key_url, fetch_json
from pipelines.auth.jwks import JwksCache, UnknownKeyError
from pipelines.auth.permissions import Principal
from pipelines.errors import UnauthorizedError

log = logging.getLogger("pipelines.auth")

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "tid"]
# RFC 7519 §2: a NumericDate is a JSON number. PyJWT would turn the string "1700000000" into one.
NUMERIC_DATES = ("exp", "nbf", "iat")


def issuers(tenant: str) -> tuple[str, str]:
    """The v1 and v2 issuer of a tenant (tokens of both endpoints are valid, docs/contract.md §5)."""
    return f"https://sts.windows.net/{tenant}/", f"https://login.microsoftonline.com/{tenant}/v2.0"


def _show(value: Any) -> str:
    """An untrusted value from the token, short enough for a message."""
    text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


def _refuse(message: str) -> UnauthorizedError:
    return UnauthorizedError(message, error="invalid_token")


class TokenValidator:
    """Validates tokens against one set of settings; holds the key caches."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._caches: dict[str, JwksCache] = {}
        self._lock = threading.Lock()

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        return self.validate(read_token(headers))

    def validate(self, token: str) -> Principal:
        try:
            return self._validate(token)
        except UnauthorizedError as refusal:
            log.info("token refused: %s", refusal.message)
            raise

    # -- the checks ---------------------------------------------------------------------------
    def _validate(self, token: str) -> Principal:
        settings = self.settings
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except PyJWTError:
            raise _refuse("the token is malformed: it is not a signed JWT") from None

        algorithm = header.get("alg")
        if algorithm not in settings.algorithms:
            raise _refuse(
                f"tokens signed with {_show(algorithm)} are not accepted; "
                f"accepted: {', '.join(settings.algorithms)}"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _refuse("the token header names no signing key (kid)")
        for name in NUMERIC_DATES:
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise _refuse(f"the token's {name} claim must be a NumericDate (a JSON number), not {_show(value)}")

        tid = claims.get("tid")
        if not isinstance(tid, str) or not tid:
            raise _refuse("the token has no tenant (tid) claim")
        tenant = tid.lower()
        if tenant not in settings.tenant_ids:
            raise _refuse(f"tokens of tenant {_show(tenant)} are not accepted")

        audience = claims.get("aud")
        management = isinstance(audience, str) and audience in settings.migration_audiences
        if management and not settings.migration_mode:
            raise _refuse(
                f"tokens for {audience} are accepted only in migration mode; request a token "
                f"for {' or '.join(settings.audiences)}"
            )
        audiences = settings.migration_audiences if management else settings.audiences

        key = self._key(tenant, kid, algorithm)
        # The issuer is checked against the token's own spelling of its tenant.
        payload = self._decode(token, key, algorithm, audiences, tid)
        if management:
            return self._migration_principal(payload, tenant)
        return principal_from_claims(payload, tenant)

    def _key(self, tenant: str, kid: str, algorithm: str) -> jwt.PyJWK:
        try:
            return self._cache_for(tenant).key(kid, algorithm)
        except UnknownKeyError:
            raise _refuse(
                f"the token is signed with an unknown key (kid {_show(kid)}): it is not among "
                "the tenant's published signing keys"
            ) from None
        except PyJWTError:
            raise _refuse("the token's signing key does not fit its algorithm") from None

    def _decode(
        self, token: str, key: jwt.PyJWK, algorithm: str, audiences: Sequence[str], tenant: str
    ) -> dict[str, Any]:
        v1, v2 = issuers(tenant)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=list(audiences),
                issuer=(v1, v2),
                leeway=self.settings.clock_skew_seconds,
                options={"require": REQUIRED_CLAIMS},
            )
        except InvalidSignatureError:
            message = "the token's signature does not verify"
        except ExpiredSignatureError:
            message = "the token has expired; get a new one"
        except ImmatureSignatureError as exc:
            if "iat" in str(exc):
                message = "the token's issue time (iat) is in the future; check the issuer's clock"
            else:
                message = "the token is not valid yet (nbf)"
        except InvalidAudienceError:
            message = f"the token's audience is not accepted; expected one of: {', '.join(audiences)}"
        except InvalidIssuerError:
            message = f"the token's issuer is not accepted; expected {v2} or {v1}"
        except MissingRequiredClaimError as exc:
            message = f"the token has no {exc.claim!r} claim"
        except InvalidIssuedAtError:
            message = "the token's issue time (iat) is not a number"
        except (InvalidAlgorithmError, InvalidKeyError):
            message = "the token's signing key does not fit its algorithm"
        except (DecodeError, PyJWTError):
            message = "the token is malformed"
        raise _refuse(message)

    def _migration_principal(self, payload: Mapping[str, Any], tenant: str) -> Principal:
        """An old client's management token: only allow-listed clients, only the configured roles."""
        principal = principal_from_claims(payload, tenant)
        client = (principal.app_id or "").lower()
        if client not in self.settings.migration_client_ids:
            raise _refuse(
                f"tokens for {payload.get('aud')} are accepted only from allow-listed client "
                f"applications; client {_show(principal.app_id)} is not listed"
            )
        log.info("accepted a management token of client %s (migration mode)", client)
        # The token's own roles and scopes are Azure Resource Manager's, meaningless
        # here: the caller gets exactly the configured roles.
        return Principal(
            object_id=principal.object_id,
            app_id=principal.app_id,
            tenant_id=principal.tenant_id,
            roles=frozenset(self.settings.migration_roles),
            scopes=frozenset(),
            name=principal.name,
        )

    # -- keys ---------------------------------------------------------------------------------
    def _cache_for(self, tenant: str) -> JwksCache:
        settings = self.settings
        load: Callable[[], Mapping[str, Any]]
        if settings.jwks_url:
            source = settings.jwks_url
            load = partial(fetch_json, settings.jwks_url, timeout=settings.http_timeout_seconds)
        elif settings.dev_issuer and tenant == devissuer.DEV_TENANT_ID:
            # `func start` has no development host serving the keys: read them in process.
            source, load = "the development issuer", devissuer.jwks
        else:
            source = settings.openid_config_url.replace("{tenant}", tenant)
            load = partial(self._discover, source)
        with self._lock:
            cache = self._caches.get(source)
            if cache is None:
                cache = JwksCache(
                    load,
                    source=source,
                    min_refresh_seconds=settings.jwks_min_refresh_seconds,
                    max_age_seconds=settings.jwks_max_age_seconds,
                )
                self._caches[source] = cache
            return cache

    def _discover(self, config_url: str) -> Mapping[str, Any]:
        timeout = self.settings.http_timeout_seconds
        jwks_uri = _key_url(fetch_json(config_url, timeout=timeout).get("jwks_uri"))
        if jwks_uri is None:
            raise KeysUnavailableError(
                f"the OpenID configuration at {config_url} has no usable jwks_uri",
                headers={"Retry-After": "5"},
            )
        return fetch_json(jwks_uri, timeout=timeout)


def _key_url(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return check_key_url(value)
    except ValueError:
        return None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def principal_from_claims(claims: Mapping[str, Any], tenant: str) -> Principal:
    """The caller of a verified token: application tokens carry `roles`, delegated ones `scp`."""
    roles = claims.get("roles")
    scopes = claims.get("scp")
    names = ("name", "preferred_username", "upn", "unique_name", "app_displayname")
    return Principal(
        object_id=_string(claims.get("oid")),
        # v2 tokens name the client in `azp`, v1 tokens in `appid`.
        app_id=_string(claims.get("azp")) or _string(claims.get("appid")),
        tenant_id=tenant,
        roles=frozenset(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else frozenset(),
        scopes=frozenset(scopes.split()) if isinstance(scopes, str) else frozenset(),
        name=next((n for n in (_string(claims.get(k)) for k in names) if n), None),
    )


# -- the process-wide validator ------------------------------------------------------------------
_validator: TokenValidator | None = None
_validator_lock = threading.Lock()


def get_validator() -> TokenValidator:
    """The validator of the current settings (read once; ConfigurationError when incomplete)."""
    global _validator
    with _validator_lock:
        if _validator is None:
            _validator = TokenValidator(get_auth_settings())
        return _validator


def authenticate(headers: Mapping[str, str]) -> Principal:
    """The caller of a request, from its `Authorization` header; UnauthorizedError otherwise."""
    return get_validator().authenticate(headers)


def reset_auth() -> None:
    """Forget settings and cached keys (tests, and the development host after it sets variables)."""
    global _validator
    with _validator_lock:
        reset_auth_settings()
        _validator = None
