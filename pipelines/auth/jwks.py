"""Signing keys by key id (`kid`): cached, refreshed on demand at a bounded rate.

Entra ID publishes new keys well before it signs with them, so a cached key set
is normally enough; an unknown `kid` (an emergency rotation) triggers one
refetch. Refetches are rate-limited: a flood of tokens with made-up key ids
costs at most one request per `min_refresh_seconds` to the key endpoint, never
one per token. The set is also refreshed after `max_age_seconds`, so a key
that Entra ID withdraws stops being trusted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from jwt import PyJWK
from jwt.exceptions import InvalidAlgorithmError, PyJWTError

from pipelines.auth.fetch import KeysUnavailableError

log = logging.getLogger("pipelines.auth")

# The cache's clock. Monotonic, so a wall-clock jump cannot stall refreshes;
# tests replace it to step through refresh windows without sleeping.
monotonic: Callable[[], float] = time.monotonic

# With no keys at all every request fails, so a failed first fetch is retried
# sooner than `min_refresh_seconds`, yet not on every request.
EMPTY_RETRY_SECONDS = 5.0

# Only key types of asymmetric algorithms: a symmetric (`oct`) key in a published
# key set would be a shared secret everybody can read.
_KEY_TYPES = frozenset({"RSA", "EC"})


class UnknownKeyError(Exception):
    """The key id is not in the key set, even after the refetch the rate limit allowed."""


class JwksCache:
    """The keys of one key set; safe to share between threads."""

    def __init__(
        self,
        load: Callable[[], Mapping[str, Any]],
        *,
        source: str,
        min_refresh_seconds: float,
        max_age_seconds: float,
    ) -> None:
        self._load = load
        self._source = source
        self._min_refresh = min_refresh_seconds
        self._max_age = max_age_seconds
        self._lock = threading.Lock()
        self._keys: dict[str, dict[str, Any]] = {}
        self._built: dict[tuple[str, str], PyJWK] = {}
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._last_error: KeysUnavailableError | None = None

    def key(self, kid: str, algorithm: str) -> PyJWK:
        """The verification key `kid`, bound to `algorithm` (already allow-listed by the caller)."""
        # One fetch at a time: concurrent requests wait for it instead of each fetching.
        with self._lock:
            now = monotonic()
            fetched = False
            if self._loaded_at is None or now - self._loaded_at >= self._max_age:
                fetched = self._refresh(now, "first use" if self._loaded_at is None else "age")
            if kid not in self._keys and not fetched:
                self._refresh(now, "unknown key id")
            jwk = self._keys.get(kid)
            if jwk is None:
                raise UnknownKeyError(kid)
            built = self._built.get((kid, algorithm))
            if built is None:
                built = self._build(jwk, algorithm)
                self._built[(kid, algorithm)] = built
            return built

    @staticmethod
    def _build(jwk: Mapping[str, Any], algorithm: str) -> PyJWK:
        declared = jwk.get("alg")
        if declared and declared != algorithm:
            raise InvalidAlgorithmError("the key is published for another algorithm")
        # Entra ID's keys carry no `alg`: bind the key to the token's (allow-listed)
        # algorithm; PyJWT refuses a key of the wrong type for it (InvalidKeyError).
        return PyJWK(dict(jwk), algorithm)

    def _refresh(self, now: float, reason: str) -> bool:
        """Fetch the set if the rate limit allows; True when a fetch was attempted."""
        wait = self._min_refresh if self._keys else min(self._min_refresh, EMPTY_RETRY_SECONDS)
        if self._attempted_at is not None and now - self._attempted_at < wait:
            if not self._keys and self._last_error is not None:
                # A new exception each time: re-raising one object would grow its
                # traceback with every request during an outage.
                raise KeysUnavailableError(self._last_error.message, headers=self._last_error.headers)
            return False
        self._attempted_at = now
        log.info("fetching token signing keys from %s (%s)", self._source, reason)
        try:
            keys = self._parse(self._load())
        except KeysUnavailableError as exc:
            if not self._keys:
                self._last_error = exc
                raise
            # Keep using the keys we have: an outage of the key endpoint must not
            # turn every request into a failure.
            log.warning("keeping the cached signing keys: %s", exc.message)
            return True
        self._keys = keys
        self._built = {}
        self._loaded_at = now
        self._last_error = None
        return True

    def _parse(self, document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise KeysUnavailableError(f"the key set from {self._source} has no 'keys' list")
        keys: dict[str, dict[str, Any]] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid:
                continue
            if entry.get("use", "sig") != "sig" or entry.get("kty") not in _KEY_TYPES:
                continue
            try:
                PyJWK(dict(entry))  # proves the key material parses
            except (PyJWTError, ValueError, TypeError, KeyError):
                log.warning("ignoring the unusable key %r from %s", kid, self._source)
                continue
            keys[kid] = dict(entry)
        if not keys:
            raise KeysUnavailableError(f"the key set from {self._source} holds no usable signing key")
        return keys
