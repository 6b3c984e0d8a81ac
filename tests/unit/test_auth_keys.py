"""Signing keys: fetched over real HTTP, cached, refetched once on an unknown kid, rate-limited."""

from __future__ import annotations

import logging

import pytest

from pipelines.auth import KeysUnavailableError, authenticate, reset_auth
from pipelines.errors import UnauthorizedError
from tests.unit.auth_support import (  # noqa: F401 - fixtures
    MIN_REFRESH,
    OTHER_TENANT,
    TENANT,
    Clock,
    Keys,
    KeyServer,
    auth_env_fixture,
    bearer,
    claims,
    clock_fixture,
    fresh_auth_fixture,
    key_server_fixture,
    keys_fixture,
    sign,
)

pytestmark = pytest.mark.usefixtures("auth_env")


def keys_fetched(server: KeyServer) -> int:
    return server.hits["/keys"]


def test_keys_are_fetched_once_and_cached(keys: Keys, key_server: KeyServer, clock: Clock) -> None:
    # GIVEN / WHEN three requests, minutes apart
    for _ in range(3):
        authenticate(bearer(sign(keys.current, claims())))
        clock.advance(60)

    # THEN one fetch served them all
    assert keys_fetched(key_server) == 1


def test_unknown_kid_causes_exactly_one_refetch_then_refusal(
    keys: Keys, key_server: KeyServer, clock: Clock
) -> None:
    # GIVEN a warm cache, older than the refresh interval
    authenticate(bearer(sign(keys.current, claims())))
    clock.advance(MIN_REFRESH + 1)

    # WHEN a token signed by a key that is not published arrives
    with pytest.raises(UnauthorizedError) as caught:
        authenticate(bearer(sign(keys.stranger, claims())))

    # THEN the keys were refetched once, and the token refused for its key
    assert keys_fetched(key_server) == 2
    assert "unknown key (kid 'key-stranger')" in caught.value.message


def test_a_flood_of_unknown_kids_cannot_hammer_the_key_endpoint(
    keys: Keys, key_server: KeyServer, clock: Clock
) -> None:
    # GIVEN a refetch just spent on one unknown kid
    authenticate(bearer(sign(keys.current, claims())))
    clock.advance(MIN_REFRESH + 1)
    with pytest.raises(UnauthorizedError):
        authenticate(bearer(sign(keys.stranger, claims())))
    assert keys_fetched(key_server) == 2

    # WHEN many other unknown kids arrive within the rate-limit window
    for n in range(20):
        clock.advance(1)
        with pytest.raises(UnauthorizedError):
            authenticate(bearer(sign(keys.stranger, claims(), kid=f"made-up-{n}")))

    # THEN no further fetch happened; after the window, one more is allowed
    assert keys_fetched(key_server) == 2
    clock.advance(MIN_REFRESH)
    with pytest.raises(UnauthorizedError):
        authenticate(bearer(sign(keys.stranger, claims(), kid="made-up-late")))
    assert keys_fetched(key_server) == 3


def test_unknown_kid_on_a_cold_cache_costs_one_fetch_not_two(keys: Keys, key_server: KeyServer) -> None:
    # GIVEN / WHEN the very first token has an unknown kid
    with pytest.raises(UnauthorizedError):
        authenticate(bearer(sign(keys.stranger, claims())))

    # THEN the first fetch counts as the refetch
    assert keys_fetched(key_server) == 1


def test_rotated_key_is_accepted_after_one_refetch(keys: Keys, key_server: KeyServer, clock: Clock) -> None:
    # GIVEN a cache holding the current key only
    authenticate(bearer(sign(keys.current, claims())))
    clock.advance(MIN_REFRESH + 1)

    # WHEN Entra ID publishes a new key and signs with it
    key_server.publish(keys.current, keys.next)
    principal = authenticate(bearer(sign(keys.next, claims())))

    # THEN one refetch found it; both keys then work without fetching again
    assert principal.tenant_id == TENANT
    assert keys_fetched(key_server) == 2
    authenticate(bearer(sign(keys.current, claims())))
    authenticate(bearer(sign(keys.next, claims())))
    assert keys_fetched(key_server) == 2


def test_withdrawn_key_stops_working_after_the_maximum_age(
    keys: Keys, key_server: KeyServer, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN keys cached for at most an hour
    monkeypatch.setenv("PIPELINES_AUTH_JWKS_MAX_AGE_SECONDS", "3600")
    reset_auth()
    authenticate(bearer(sign(keys.current, claims())))

    # WHEN the key is withdrawn and the hour passes
    key_server.publish(keys.next)
    clock.advance(3601)

    # THEN the set is refreshed and the old key refused
    with pytest.raises(UnauthorizedError) as caught:
        authenticate(bearer(sign(keys.current, claims())))
    assert "unknown key" in caught.value.message
    assert keys_fetched(key_server) == 2


def test_key_endpoint_outage_keeps_the_cached_keys(
    keys: Keys, key_server: KeyServer, clock: Clock, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN cached keys that are due for refresh, and a failing key endpoint
    monkeypatch.setenv("PIPELINES_AUTH_JWKS_MAX_AGE_SECONDS", "3600")
    reset_auth()
    authenticate(bearer(sign(keys.current, claims())))
    key_server.failing = True
    clock.advance(3601)

    # WHEN a request arrives
    with caplog.at_level(logging.WARNING, logger="pipelines.auth"):
        principal = authenticate(bearer(sign(keys.current, claims())))

    # THEN it is served from the cached keys, with a warning
    assert principal.tenant_id == TENANT
    assert "keeping the cached signing keys" in caplog.text


def test_no_keys_at_all_is_a_503_not_the_callers_fault(
    keys: Keys, key_server: KeyServer, clock: Clock
) -> None:
    # GIVEN a key endpoint that fails from the start
    key_server.failing = True

    # WHEN a request arrives
    with pytest.raises(KeysUnavailableError) as caught:
        authenticate(bearer(sign(keys.current, claims())))

    # THEN it is a 503 naming the URL, and retries are paced
    assert caught.value.status == 503
    assert "HTTP 500" in caught.value.message and "/keys" in caught.value.message
    with pytest.raises(KeysUnavailableError) as again:
        authenticate(bearer(sign(keys.current, claims())))
    assert keys_fetched(key_server) == 1
    assert again.value is not caught.value  # a fresh error: no traceback piling up

    # WHEN the endpoint recovers and a few seconds pass
    key_server.failing = False
    clock.advance(6)

    # THEN requests succeed again
    assert authenticate(bearer(sign(keys.current, claims()))).tenant_id == TENANT
    assert keys_fetched(key_server) == 2


def test_symmetric_and_encryption_keys_in_a_key_set_are_ignored(
    keys: Keys, key_server: KeyServer
) -> None:
    # GIVEN a key set holding an `oct` key and an encryption key under usable-looking kids
    key_server.documents["/keys"] = {
        "keys": [
            {"kty": "oct", "kid": "shared", "k": "c2VjcmV0"},
            {**keys.next.jwk(), "use": "enc"},
            keys.current.jwk(),
        ]
    }

    # WHEN / THEN the signing key works and the others are unknown
    authenticate(bearer(sign(keys.current, claims())))
    with pytest.raises(UnauthorizedError, match="unknown key"):
        authenticate(bearer(sign(keys.next, claims())))


def test_keys_are_discovered_from_each_tenants_openid_configuration(
    keys: Keys, key_server: KeyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no JWKS URL, and an OpenID configuration per tenant (as Entra ID serves it)
    monkeypatch.delenv("PIPELINES_AUTH_JWKS_URL")
    monkeypatch.setenv("PIPELINES_AUTH_TENANT_IDS", f"{TENANT},{OTHER_TENANT}")
    monkeypatch.setenv(
        "PIPELINES_AUTH_OPENID_CONFIG_URL", key_server.url("/{tenant}/v2.0/.well-known/openid-configuration")
    )
    for tenant, path in ((TENANT, "/keys"), (OTHER_TENANT, "/other-keys")):
        key_server.documents[f"/{tenant}/v2.0/.well-known/openid-configuration"] = {
            "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
            "jwks_uri": key_server.url(path),
        }
    key_server.publish(keys.next, path="/other-keys")
    reset_auth()

    # WHEN each tenant's token arrives
    first = authenticate(bearer(sign(keys.current, claims())))
    other_issuer = f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"
    second = authenticate(bearer(sign(keys.next, claims(tid=OTHER_TENANT, iss=other_issuer))))

    # THEN each was verified with its own tenant's keys
    assert (first.tenant_id, second.tenant_id) == (TENANT, OTHER_TENANT)
    assert key_server.hits["/keys"] == 1 and key_server.hits["/other-keys"] == 1

    # AND a tenant's token signed with the other tenant's key is refused
    with pytest.raises(UnauthorizedError, match="unknown key"):
        authenticate(bearer(sign(keys.next, claims())))


def test_discovered_jwks_uri_must_be_https(
    keys: Keys, key_server: KeyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an OpenID configuration pointing at plain HTTP on another host
    monkeypatch.delenv("PIPELINES_AUTH_JWKS_URL")
    monkeypatch.setenv("PIPELINES_AUTH_OPENID_CONFIG_URL", key_server.url("/{tenant}/config"))
    key_server.documents[f"/{TENANT}/config"] = {"jwks_uri": "http://keys.example/keys"}
    reset_auth()

    # WHEN / THEN the keys are not fetched from it
    with pytest.raises(KeysUnavailableError, match="no usable jwks_uri"):
        authenticate(bearer(sign(keys.current, claims())))


def test_redirects_from_the_key_endpoint_are_not_followed(
    keys: Keys, key_server: KeyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a JWKS URL that redirects elsewhere
    key_server.redirects["/moved"] = key_server.url("/keys")
    monkeypatch.setenv("PIPELINES_AUTH_JWKS_URL", key_server.url("/moved"))
    reset_auth()

    # WHEN / THEN the redirect is a failure, and its target is never asked
    with pytest.raises(KeysUnavailableError, match="HTTP 302"):
        authenticate(bearer(sign(keys.current, claims())))
    assert key_server.hits["/moved"] == 1 and key_server.hits["/keys"] == 0
