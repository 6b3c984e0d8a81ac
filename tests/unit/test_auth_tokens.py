"""Token validation: real RS256 tokens, keys served over HTTP, the production `authenticate`."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import pytest
from cryptography.hazmat.primitives import serialization

import pipelines.auth
from pipelines.auth import MissingTokenError, Principal, authenticate
from pipelines.errors import UnauthorizedError
from tests.unit.auth_support import (  # noqa: F401 - fixtures
    API_CLIENT_ID,
    APP_ID_URI,
    CALLER_APP_ID,
    CALLER_OBJECT_ID,
    OTHER_TENANT,
    TENANT,
    V1_ISSUER,
    V2_ISSUER,
    Keys,
    KeyServer,
    auth_env_fixture,
    b64url,
    bearer,
    claims,
    fresh_auth_fixture,
    key_server_fixture,
    keys_fixture,
    sign,
    unsigned,
    v1_claims,
)

pytestmark = pytest.mark.usefixtures("auth_env")


def refused(headers: dict[str, str]) -> UnauthorizedError:
    with pytest.raises(UnauthorizedError) as caught:
        authenticate(headers)
    return caught.value


def challenge(error: UnauthorizedError) -> str:
    return error.headers["WWW-Authenticate"]


# -- accepted -----------------------------------------------------------------------------------
def test_v2_application_token_becomes_its_principal(keys: Keys) -> None:
    # GIVEN a v2 token for the API's client id, with an app role
    token = sign(keys.current, claims(roles=["Pipelines.Submit"], app_displayname="nightly-job"))

    # WHEN it is authenticated
    principal = authenticate(bearer(token))

    # THEN every claim the app uses is read
    assert principal == Principal(
        object_id=CALLER_OBJECT_ID,
        app_id=CALLER_APP_ID,
        tenant_id=TENANT,
        roles=frozenset({"Pipelines.Submit"}),
        scopes=frozenset(),
        name="nightly-job",
    )


def test_v1_token_with_app_id_uri_audience_and_appid_claim(keys: Keys) -> None:
    # GIVEN a v1 token (sts.windows.net issuer, App ID URI audience, `appid`)
    token = sign(keys.current, v1_claims(upn="ada@contoso.example"))

    # WHEN it is authenticated
    principal = authenticate(bearer(token))

    # THEN it is accepted and the client id comes from `appid`
    assert principal.app_id == CALLER_APP_ID
    assert principal.tenant_id == TENANT
    assert principal.name == "ada@contoso.example"


def test_delegated_token_scopes_come_from_scp(keys: Keys) -> None:
    # GIVEN a delegated (user) token: space-separated scopes, no roles
    token = sign(
        keys.current,
        claims(roles=None, scp="Pipelines.Read Pipelines.Submit", name="Ada", preferred_username="ada@x"),
    )

    # WHEN it is authenticated
    principal = authenticate(bearer(token))

    # THEN the scopes are split and grant what the roles would
    assert principal.scopes == {"Pipelines.Read", "Pipelines.Submit"}
    assert principal.roles == frozenset()
    assert principal.name == "Ada"
    assert {p.value for p in principal.permissions} == {"Pipelines.Read", "Pipelines.Submit"}


def test_token_scheme_of_the_java_sample_is_accepted(keys: Keys) -> None:
    # GIVEN the scheme Microsoft's Java sample sends
    headers = bearer(sign(keys.current, claims()), scheme="Token")

    # WHEN / THEN
    assert authenticate(headers).app_id == CALLER_APP_ID


def test_header_name_and_scheme_are_case_insensitive(keys: Keys) -> None:
    # GIVEN a plain dict with a lower-case header name and scheme
    headers = {"authorization": "bearer " + sign(keys.current, claims())}

    # WHEN / THEN
    assert authenticate(headers).tenant_id == TENANT


def test_tenant_is_matched_case_insensitively(keys: Keys) -> None:
    # GIVEN a token whose tid and issuer spell the tenant GUID in upper case
    upper = TENANT.upper()
    token = sign(keys.current, claims(tid=upper, iss=f"https://login.microsoftonline.com/{upper}/v2.0"))

    # WHEN
    principal = authenticate(bearer(token))

    # THEN it is the allowed tenant, spelled canonically
    assert principal.tenant_id == TENANT


def test_issuer_must_be_of_the_tokens_own_tenant_spelling(keys: Keys) -> None:
    # GIVEN an upper-case tid with a lower-case issuer (Entra ID never mixes them)
    token = sign(keys.current, claims(tid=TENANT.upper()))

    # WHEN / THEN
    assert "issuer" in refused(bearer(token)).message


def test_clock_skew_tolerates_a_slightly_expired_token(keys: Keys) -> None:
    # GIVEN a token that expired a minute ago (default skew: 120 s)
    now = int(time.time())
    token = sign(keys.current, claims(iat=now - 3660, nbf=now - 3660, exp=now - 60))

    # WHEN / THEN
    assert authenticate(bearer(token)).tenant_id == TENANT


# -- lifetime -------------------------------------------------------------------------------------
def test_expired_token_is_refused(keys: Keys) -> None:
    # GIVEN a token that expired beyond the skew
    now = int(time.time())
    token = sign(keys.current, claims(iat=now - 7200, nbf=now - 7200, exp=now - 300))

    # WHEN
    error = refused(bearer(token))

    # THEN the caller learns it must get a new token
    assert error.status == 401 and error.code == "Unauthorized"
    assert "expired" in error.message
    assert challenge(error).startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("spelled", ["string", "boolean", "array"])
def test_a_date_claim_that_is_not_a_json_number_is_refused(keys: Keys, claim: str, spelled: str) -> None:
    # GIVEN a correctly signed token whose date claim is valid digits in a string (or not a number at all)
    now = int(time.time())
    dates = {"iat": now - 60, "nbf": now - 60, "exp": now + 3600}
    value = {"string": str(dates[claim]), "boolean": True, "array": [dates[claim]]}[spelled]
    token = sign(keys.current, claims(**{**dates, claim: value}))

    # WHEN
    error = refused(bearer(token))

    # THEN it is a 401 naming the claim and the rule (RFC 7519: a NumericDate is a JSON number)
    assert error.status == 401 and error.code == "Unauthorized"
    assert f"{claim} claim must be a NumericDate" in error.message
    assert challenge(error).startswith('Bearer error="invalid_token"')


def test_a_fractional_date_is_a_number_and_is_accepted(keys: Keys) -> None:
    # GIVEN NumericDates with fractions, as RFC 7519 allows
    now = time.time()
    token = sign(keys.current, claims(iat=now - 60.5, nbf=now - 60.5, exp=now + 3600.25))

    # WHEN / THEN
    assert authenticate(bearer(token)).tenant_id == TENANT


def test_skew_is_configurable(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no tolerance at all
    monkeypatch.setenv("PIPELINES_AUTH_CLOCK_SKEW_SECONDS", "0")
    pipelines.auth.reset_auth()
    now = int(time.time())

    # WHEN a token that expired a minute ago arrives
    error = refused(bearer(sign(keys.current, claims(iat=now - 3660, nbf=now - 3660, exp=now - 60))))

    # THEN it is refused
    assert "expired" in error.message


def test_token_not_yet_valid_is_refused(keys: Keys) -> None:
    # GIVEN a token valid only in ten minutes
    now = int(time.time())
    token = sign(keys.current, claims(iat=now, nbf=now + 600, exp=now + 3600))

    # WHEN / THEN
    assert "not valid yet" in refused(bearer(token)).message


def test_token_issued_in_the_future_is_refused(keys: Keys) -> None:
    # GIVEN a token whose iat is beyond the skew in the future (nbf is fine)
    now = int(time.time())
    token = sign(keys.current, claims(iat=now + 600, nbf=now, exp=now + 3600))

    # WHEN / THEN
    assert "issue time (iat) is in the future" in refused(bearer(token)).message


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud"])
def test_token_without_a_required_claim_is_refused(keys: Keys, claim: str) -> None:
    # GIVEN a token lacking one required claim
    token = sign(keys.current, claims(**{claim: None}))

    # WHEN / THEN
    assert f"no '{claim}' claim" in refused(bearer(token)).message


# -- who the token is for, and from ----------------------------------------------------------------
def test_wrong_audience_is_refused_naming_the_expected_ones(keys: Keys) -> None:
    # GIVEN a token for another API
    token = sign(keys.current, claims(aud="api://someone-else"))

    # WHEN
    error = refused(bearer(token))

    # THEN the message names what to ask for (audiences are not secret)
    assert "audience" in error.message
    assert APP_ID_URI in error.message and API_CLIENT_ID in error.message


@pytest.mark.parametrize(
    "issuer",
    [
        "https://evil.example/",
        f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0",  # another tenant's issuer
        f"https://sts.windows.net/{TENANT}",  # v1 form without its trailing slash
    ],
)
def test_wrong_issuer_is_refused(keys: Keys, issuer: str) -> None:
    # GIVEN a token of the allowed tenant claiming another issuer
    token = sign(keys.current, claims(iss=issuer))

    # WHEN
    error = refused(bearer(token))

    # THEN both accepted forms are named
    assert "issuer" in error.message
    assert V1_ISSUER in error.message and V2_ISSUER in error.message


def test_tenant_not_allowed_is_refused_before_any_key_is_fetched(
    keys: Keys, key_server: KeyServer
) -> None:
    # GIVEN a well-formed token of another tenant (its own issuer, its own tid)
    token = sign(
        keys.current,
        claims(tid=OTHER_TENANT, iss=f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"),
    )

    # WHEN
    error = refused(bearer(token))

    # THEN it is refused for its tenant, and nothing was fetched for it
    assert f"tenant '{OTHER_TENANT}' are not accepted" in error.message
    assert sum(key_server.hits.values()) == 0


def test_token_without_tenant_is_refused(keys: Keys) -> None:
    # GIVEN / WHEN / THEN
    assert "no tenant (tid)" in refused(bearer(sign(keys.current, claims(tid=None)))).message


# -- signatures and algorithms ------------------------------------------------------------------
def test_tampered_payload_is_refused(keys: Keys) -> None:
    # GIVEN a valid token whose payload is swapped for one granting Admin
    head, _, signature = sign(keys.current, claims()).split(".")
    forged_payload = b64url(json.dumps(claims(roles=["Pipelines.Admin"])).encode())
    token = f"{head}.{forged_payload}.{signature}"

    # WHEN / THEN
    assert "signature does not verify" in refused(bearer(token)).message


def test_token_signed_by_an_unpublished_key_with_a_known_kid_is_refused(keys: Keys) -> None:
    # GIVEN a stranger's key claiming the published key's id
    token = sign(keys.stranger, claims(), kid=keys.current.kid)

    # WHEN / THEN
    assert "signature does not verify" in refused(bearer(token)).message


def test_alg_none_is_refused(keys: Keys, key_server: KeyServer) -> None:
    # GIVEN an unsigned token
    token = unsigned(claims(), {"alg": "none", "typ": "JWT", "kid": keys.current.kid})

    # WHEN
    error = refused(bearer(token))

    # THEN it is refused on its algorithm, before any key is fetched
    assert "'none' are not accepted" in error.message
    assert sum(key_server.hits.values()) == 0


def test_hs256_signed_with_the_public_key_as_secret_is_refused(keys: Keys, key_server: KeyServer) -> None:
    # GIVEN the algorithm-confusion attack: HMAC keyed with the (public) RSA key
    public_pem = keys.current.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": keys.current.kid}
    unsigned_token = unsigned(claims(roles=["Pipelines.Admin"]), header)
    signing_input = unsigned_token.rsplit(".", 1)[0].encode()
    mac = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    token = f"{signing_input.decode()}.{b64url(mac)}"

    # WHEN
    error = refused(bearer(token))

    # THEN it is refused on its algorithm, before verifying anything
    assert "'HS256' are not accepted" in error.message
    assert sum(key_server.hits.values()) == 0


def test_token_without_kid_is_refused(keys: Keys) -> None:
    # GIVEN a token with no key id in its header
    token = unsigned(claims(), {"alg": "RS256", "typ": "JWT"}, b"x")

    # WHEN / THEN
    assert "no signing key (kid)" in refused(bearer(token)).message


@pytest.mark.parametrize(
    "garbage", ["not-a-jwt", "a.b.c", "e30.e30", "....", "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln"]
)
def test_malformed_token_is_refused(garbage: str) -> None:
    # GIVEN / WHEN
    error = refused(bearer(garbage))

    # THEN
    assert "malformed" in error.message
    assert 'error="invalid_token"' in challenge(error)


# -- the Authorization header ---------------------------------------------------------------------
def test_missing_authorization_header_gets_a_bare_bearer_challenge() -> None:
    # GIVEN / WHEN a request without credentials
    with pytest.raises(MissingTokenError) as caught:
        authenticate({"Content-Type": "application/json"})

    # THEN RFC 6750 §3.1: `WWW-Authenticate: Bearer` without an error code
    error = caught.value
    assert error.status == 401
    assert challenge(error) == "Bearer"
    assert "Authorization: Bearer <access token>" in error.message


def test_other_scheme_is_treated_as_no_credentials() -> None:
    # GIVEN Basic credentials
    # WHEN / THEN
    with pytest.raises(MissingTokenError) as caught:
        authenticate({"Authorization": "Basic dXNlcjpwYXNz"})
    assert "dXNlcjpwYXNz" not in caught.value.message


def test_token_without_scheme_is_not_echoed(keys: Keys) -> None:
    # GIVEN a client that forgot the scheme
    token = sign(keys.current, claims())

    # WHEN
    with pytest.raises(MissingTokenError) as caught:
        authenticate({"Authorization": token})

    # THEN the answer does not repeat the token
    assert token not in caught.value.message and token not in challenge(caught.value)


@pytest.mark.parametrize("value", ["Bearer", "Bearer    ", "Bearer a b", "Bearer a,Bearer b"])
def test_malformed_authorization_header_is_an_invalid_request(value: str) -> None:
    # GIVEN / WHEN
    error = refused({"Authorization": value})

    # THEN
    assert challenge(error).startswith('Bearer error="invalid_request"')


def test_oversized_token_is_refused_unparsed() -> None:
    # GIVEN / WHEN / THEN
    assert "over 16384 characters" in refused(bearer("a" * 20_000)).message


# -- logging ---------------------------------------------------------------------------------------
def test_tokens_never_reach_the_logs(keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN everything captured, and tokens that fail in different places
    caplog.set_level(logging.DEBUG)
    now = int(time.time())
    tokens = [
        sign(keys.current, claims(exp=now - 3600, iat=now - 7200, nbf=now - 7200)),  # expired
        sign(keys.current, claims(aud="api://else")),  # wrong audience
        sign(keys.stranger, claims()),  # unknown kid
        sign(keys.stranger, claims(), kid=keys.current.kid),  # bad signature
        sign(keys.current, claims(tid=OTHER_TENANT)),  # tenant
    ]

    # WHEN each is refused
    for token in tokens:
        refused(bearer(token))

    # THEN the refusals are logged with their reasons, and no token (nor signature) appears
    assert "token refused" in caplog.text
    for token in tokens:
        signature = token.rsplit(".", 1)[1]
        assert token not in caplog.text
        assert signature not in caplog.text
        for record in caplog.records:
            assert signature not in repr(record.args)


# -- public surface --------------------------------------------------------------------------------
def test_public_surface_is_exported() -> None:
    # GIVEN / WHEN / THEN: every name in __all__ exists, and authenticate is the entry point
    for name in pipelines.auth.__all__:
        assert hasattr(pipelines.auth, name), name
    assert "authenticate" in pipelines.auth.__all__
