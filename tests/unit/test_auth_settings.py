"""Authentication settings: comma lists, required values named, unsafe values refused."""

from __future__ import annotations

import pytest

from pipelines.auth import authenticate, check_auth_settings, get_auth_settings, reset_auth
from pipelines.auth.devissuer import DEV_AUDIENCE, DEV_TENANT_ID
from pipelines.errors import ConfigurationError
from tests.unit.auth_support import (
    API_CLIENT_ID,
    APP_ID_URI,
    OTHER_TENANT,
    TENANT,
    fresh_auth_fixture,  # noqa: F401 - fixtures
)

BASE = {"PIPELINES_AUTH_TENANT_IDS": TENANT, "PIPELINES_AUTH_AUDIENCES": APP_ID_URI}


def configure(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_auth()


def configuration_error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    configure(monkeypatch, **env)
    with pytest.raises(ConfigurationError) as caught:
        check_auth_settings()
    return caught.value.message


def test_comma_separated_lists_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN lists as app settings write them: commas, stray spaces, an empty item
    configure(
        monkeypatch,
        PIPELINES_AUTH_TENANT_IDS=f" {TENANT.upper()} , {OTHER_TENANT},",
        PIPELINES_AUTH_AUDIENCES=f"{APP_ID_URI}, {API_CLIENT_ID}",
        PIPELINES_AUTH_ALGORITHMS="RS256,PS256",
    )

    # WHEN
    settings = check_auth_settings()

    # THEN
    assert settings.tenant_ids == [TENANT, OTHER_TENANT]
    assert settings.audiences == [APP_ID_URI, API_CLIENT_ID]
    assert settings.algorithms == ["RS256", "PS256"]


def test_json_arrays_are_read_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN / WHEN
    configure(monkeypatch, **{**BASE, "PIPELINES_AUTH_AUDIENCES": f'["{APP_ID_URI}", "{API_CLIENT_ID}"]'})

    # THEN
    assert get_auth_settings().audiences == [APP_ID_URI, API_CLIENT_ID]


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN only what is required
    configure(monkeypatch, **BASE)

    # WHEN
    settings = get_auth_settings()

    # THEN RS256 only, two minutes of skew, migration off with its documented roles
    assert settings.algorithms == ["RS256"]
    assert settings.clock_skew_seconds == 120
    assert settings.migration_mode is False
    assert settings.migration_roles == ["Pipelines.Submit", "Pipelines.Read"]
    assert settings.jwks_url is None
    assert "{tenant}" in settings.openid_config_url


def test_settings_are_read_once_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN settings read once
    configure(monkeypatch, **BASE)
    first = get_auth_settings()

    # WHEN the environment changes
    monkeypatch.setenv("PIPELINES_AUTH_CLOCK_SKEW_SECONDS", "5")

    # THEN nothing changes until the reset
    assert get_auth_settings() is first
    reset_auth()
    assert get_auth_settings().clock_skew_seconds == 5


@pytest.mark.parametrize("missing", ["PIPELINES_AUTH_TENANT_IDS", "PIPELINES_AUTH_AUDIENCES"])
def test_missing_required_setting_is_named(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    # GIVEN one required setting absent
    env = {name: value for name, value in BASE.items() if name != missing}

    # WHEN / THEN
    assert missing in configuration_error(monkeypatch, **env)


def test_missing_settings_fail_the_first_authenticate(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN nothing configured
    reset_auth()

    # WHEN / THEN the first request raises the ConfigurationError (a 500), naming both
    with pytest.raises(ConfigurationError) as caught:
        authenticate({"Authorization": "Bearer x.y.z"})
    assert "PIPELINES_AUTH_TENANT_IDS" in caught.value.message
    assert "PIPELINES_AUTH_AUDIENCES" in caught.value.message


@pytest.mark.parametrize("algorithm", ["HS256", "none", "HS512"])
def test_symmetric_or_no_algorithm_cannot_be_allowed(monkeypatch: pytest.MonkeyPatch, algorithm: str) -> None:
    # GIVEN / WHEN / THEN
    message = configuration_error(monkeypatch, **BASE, PIPELINES_AUTH_ALGORITHMS=f"RS256,{algorithm}")
    assert "PIPELINES_AUTH_ALGORITHMS" in message and algorithm in message


def test_tenant_ids_must_be_guids(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a domain name where `tid` (always a GUID) is compared
    message = configuration_error(
        monkeypatch, **{**BASE, "PIPELINES_AUTH_TENANT_IDS": "contoso.onmicrosoft.com"}
    )

    # THEN
    assert "PIPELINES_AUTH_TENANT_IDS" in message and "GUID" in message


@pytest.mark.parametrize(
    "audience", ["https://management.azure.com", "https://management.azure.com/", "https://management.core.windows.net/"]
)
def test_management_audience_is_refused_as_a_normal_audience(
    monkeypatch: pytest.MonkeyPatch, audience: str
) -> None:
    # GIVEN a management audience among the normal ones (it would bypass the client allow-list)
    env = {**BASE, "PIPELINES_AUTH_AUDIENCES": f"{APP_ID_URI},{audience}"}
    message = configuration_error(monkeypatch, **env)

    # THEN migration mode is pointed to
    assert "PIPELINES_AUTH_MIGRATION_MODE" in message


def test_migration_mode_needs_an_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN / WHEN / THEN
    message = configuration_error(monkeypatch, **BASE, PIPELINES_AUTH_MIGRATION_MODE="true")
    assert "PIPELINES_AUTH_MIGRATION_CLIENT_IDS" in message


def test_migration_roles_must_be_known(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN / WHEN / THEN
    message = configuration_error(monkeypatch, **BASE, PIPELINES_AUTH_MIGRATION_ROLES="Pipelines.Everything")
    assert "PIPELINES_AUTH_MIGRATION_ROLES" in message and "Pipelines.Everything" in message


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://login.example/keys", True),
        ("http://127.0.0.1:7071/.devissuer/keys", True),
        ("http://localhost:7071/.devissuer/keys", True),
        ("http://keys.example/keys", False),
        ("ftp://keys.example/keys", False),
    ],
)
def test_keys_are_trusted_over_https_or_loopback_http_only(
    monkeypatch: pytest.MonkeyPatch, url: str, ok: bool
) -> None:
    # GIVEN a JWKS URL
    configure(monkeypatch, **BASE, PIPELINES_AUTH_JWKS_URL=url)

    # WHEN / THEN
    if ok:
        assert check_auth_settings().jwks_url == url
    else:
        with pytest.raises(ConfigurationError, match="PIPELINES_AUTH_JWKS_URL"):
            check_auth_settings()


def test_openid_template_needs_a_tenant_placeholder(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN / WHEN / THEN
    message = configuration_error(
        monkeypatch, **BASE, PIPELINES_AUTH_OPENID_CONFIG_URL="https://login.example/config"
    )
    assert "PIPELINES_AUTH_OPENID_CONFIG_URL" in message and "{tenant}" in message


def test_dev_issuer_fills_in_what_is_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN local development without explicit tenant or audience
    configure(monkeypatch, PIPELINES_DEV_ISSUER="true")

    # WHEN
    settings = check_auth_settings()

    # THEN the development tenant and audience are trusted
    assert settings.tenant_ids == [DEV_TENANT_ID]
    assert settings.audiences == [DEV_AUDIENCE]


@pytest.mark.parametrize(
    "env",
    [
        {"PIPELINES_DEV_ISSUER": "true"},
        {"PIPELINES_AUTH_TENANT_IDS": DEV_TENANT_ID, "PIPELINES_AUTH_AUDIENCES": DEV_AUDIENCE},
    ],
    ids=["dev-issuer-flag", "dev-tenant-listed"],
)
def test_dev_issuer_configuration_is_refused_in_azure(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    # GIVEN development settings on an Azure instance (Flex Consumption: no WEBSITE_INSTANCE_ID)
    message = configuration_error(monkeypatch, **env, WEBSITE_SKU="FlexConsumption")

    # THEN
    assert "runs in Azure (WEBSITE_SKU is FlexConsumption)" in message


def test_migration_audiences_are_resource_manager_audiences_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an old client's other ARM audience, and then a non-ARM one
    configure(monkeypatch, **BASE, PIPELINES_AUTH_MIGRATION_AUDIENCES="https://management.core.windows.net/")
    assert check_auth_settings().migration_audiences == ["https://management.core.windows.net/"]

    # WHEN / THEN anything else is refused
    message = configuration_error(monkeypatch, PIPELINES_AUTH_MIGRATION_AUDIENCES="api://anything")
    assert "PIPELINES_AUTH_MIGRATION_AUDIENCES" in message
