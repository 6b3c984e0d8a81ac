"""Roles and scopes become permissions; migration mode maps old clients' tokens explicitly."""

from __future__ import annotations

import pytest

from pipelines.api.routes import ROUTES
from pipelines.auth import Permission, authenticate, reset_auth
from pipelines.errors import ForbiddenError, UnauthorizedError
from tests.unit.auth_support import (  # noqa: F401 - fixtures
    CALLER_APP_ID,
    LEGACY_CLIENT_ID,
    Keys,
    auth_env_fixture,
    bearer,
    claims,
    fresh_auth_fixture,
    key_server_fixture,
    keys_fixture,
    sign,
    v1_claims,
)

pytestmark = pytest.mark.usefixtures("auth_env")

R, S, P, A = Permission.READ, Permission.SUBMIT, Permission.PUBLISH, Permission.ADMIN

# Written out rather than derived from permissions.GRANTS, so a change there shows up here.
EXPECTED: dict[str, set[Permission]] = {
    "Pipelines.Read": {R},
    "Pipelines.Submit": {R, S},
    "Pipelines.Publish": {R, P},
    "Pipelines.Admin": {R, S, P, A},
}


@pytest.mark.parametrize("permission", [R, S, P, A], ids=lambda p: p.value)
@pytest.mark.parametrize("role", list(EXPECTED))
@pytest.mark.parametrize("claim", ["roles", "scp"])
def test_each_role_grants_exactly_its_permissions(
    keys: Keys, role: str, permission: Permission, claim: str
) -> None:
    # GIVEN a token carrying one role (application token) or one scope (delegated token)
    body = claims(roles=[role]) if claim == "roles" else claims(roles=None, scp=role)
    principal = authenticate(bearer(sign(keys.current, body)))

    # WHEN / THEN
    allowed = permission in EXPECTED[role]
    assert principal.allows(permission) is allowed
    if allowed:
        principal.require(permission)
    else:
        with pytest.raises(ForbiddenError) as caught:
            principal.require(permission)
        assert caught.value.status == 403 and permission.value in caught.value.message


def test_unknown_roles_grant_nothing(keys: Keys) -> None:
    # GIVEN a token with roles of another application
    principal = authenticate(bearer(sign(keys.current, claims(roles=["Task.Write", "pipelines.read"]))))

    # WHEN / THEN (role names are case-sensitive, as Entra ID emits them)
    assert principal.permissions == frozenset()


def test_read_role_against_the_route_matrix(keys: Keys) -> None:
    # GIVEN a reader
    reader = authenticate(bearer(sign(keys.current, claims(roles=["Pipelines.Read"]))))

    # WHEN / THEN it passes every route needing Read (or nothing) and no other
    for route in ROUTES.values():
        assert reader.allows(route.permission) is (route.permission in (R, Permission.ANONYMOUS)), route.name


# -- migration mode --------------------------------------------------------------------------------
def management_token(keys: Keys, *, audience: str = "https://management.azure.com/", **extra: object) -> str:
    body = v1_claims(aud=audience, appid=LEGACY_CLIENT_ID, roles=["Pipelines.Admin"], **extra)
    return sign(keys.current, body)


def migration_on(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    monkeypatch.setenv("PIPELINES_AUTH_MIGRATION_MODE", "true")
    monkeypatch.setenv("PIPELINES_AUTH_MIGRATION_CLIENT_IDS", LEGACY_CLIENT_ID)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_auth()


def test_management_token_is_refused_when_migration_mode_is_off(keys: Keys) -> None:
    # GIVEN the default: migration mode off
    # WHEN an old client's management token arrives
    with pytest.raises(UnauthorizedError) as caught:
        authenticate(bearer(management_token(keys)))

    # THEN the reason names migration mode and the audience to ask for instead
    assert "only in migration mode" in caught.value.message
    assert "api://pipelines-test" in caught.value.message


@pytest.mark.parametrize("audience", ["https://management.azure.com", "https://management.azure.com/"])
def test_allow_listed_client_gets_the_mapped_roles(
    keys: Keys, monkeypatch: pytest.MonkeyPatch, audience: str
) -> None:
    # GIVEN migration mode with the old client allow-listed
    migration_on(monkeypatch)

    # WHEN its management token (v1, `appid`) arrives
    principal = authenticate(bearer(management_token(keys, audience=audience)))

    # THEN it gets exactly the migration roles, not the roles in its token
    assert principal.app_id == LEGACY_CLIENT_ID
    assert principal.roles == {"Pipelines.Submit", "Pipelines.Read"}
    assert principal.allows(S) and not principal.allows(P) and not principal.allows(A)


def test_migration_roles_are_configurable(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a read-only mapping
    migration_on(monkeypatch, PIPELINES_AUTH_MIGRATION_ROLES="Pipelines.Read")

    # WHEN / THEN
    principal = authenticate(bearer(management_token(keys)))
    assert principal.roles == {"Pipelines.Read"} and not principal.allows(S)


def test_v2_management_token_names_its_client_in_azp(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN migration mode and a v2 token whose client is in `azp`
    migration_on(monkeypatch)
    token = sign(keys.current, claims(aud="https://management.azure.com", azp=LEGACY_CLIENT_ID))

    # WHEN / THEN
    assert authenticate(bearer(token)).allows(S)


def test_client_not_on_the_allow_list_is_refused(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN migration mode allowing another client
    migration_on(monkeypatch)
    token = sign(keys.current, v1_claims(aud="https://management.azure.com/", appid=CALLER_APP_ID))

    # WHEN
    with pytest.raises(UnauthorizedError) as caught:
        authenticate(bearer(token))

    # THEN the reason names the client
    assert "allow-listed client" in caught.value.message and CALLER_APP_ID in caught.value.message


def test_management_token_still_needs_a_valid_signature_and_issuer(
    keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN migration mode
    migration_on(monkeypatch)

    # WHEN / THEN a forged or foreign-issued management token is refused as any other
    forged = sign(
        keys.stranger,
        v1_claims(aud="https://management.azure.com/", appid=LEGACY_CLIENT_ID),
        kid=keys.current.kid,
    )
    with pytest.raises(UnauthorizedError, match="signature"):
        authenticate(bearer(forged))
    with pytest.raises(UnauthorizedError, match="issuer"):
        authenticate(bearer(management_token(keys, iss="https://evil.example/")))


def test_normal_tokens_keep_working_in_migration_mode(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN migration mode
    migration_on(monkeypatch)

    # WHEN / THEN a token for the API keeps its own roles
    principal = authenticate(bearer(sign(keys.current, claims(roles=["Pipelines.Publish"]))))
    assert principal.roles == {"Pipelines.Publish"}
