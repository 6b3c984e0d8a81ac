"""The local development issuer: the same validator, keys served over HTTP, never in Azure."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.auth import authenticate, devissuer, reset_auth
from pipelines.errors import ConfigurationError, UnauthorizedError
from tests.unit.auth_support import (
    AZURE_ENVIRONMENTS,
    AZURE_MARKERS,
    ROOT,
    KeyServer,
    bearer,
    fresh_auth_fixture,  # noqa: F401 - fixtures
)

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


@pytest.fixture
def dev_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyServer]:
    """What the development host does: serve `jwks()` and apply `configure_dev_environment`."""
    with KeyServer() as server:
        server.documents[devissuer.JWKS_PATH] = devissuer.jwks  # served fresh on every request
        for name, value in devissuer.configure_dev_environment(server.base_url).items():
            monkeypatch.setenv(name, value)
        reset_auth()
        yield server


def key_file() -> Path:
    return devissuer.key_dir() / devissuer.KEY_FILE


# -- round trip -------------------------------------------------------------------------------------
def test_minted_token_validates_through_keys_served_over_http(dev_host: KeyServer) -> None:
    # GIVEN the development host's configuration
    # WHEN a minted token is authenticated
    principal = authenticate(bearer(devissuer.mint(["Pipelines.Submit"], ["Pipelines.Read"])))

    # THEN it is the development caller, and the keys came over HTTP
    assert principal.tenant_id == devissuer.DEV_TENANT_ID
    assert principal.app_id == devissuer.DEV_APP_ID
    assert principal.object_id == devissuer.DEV_OBJECT_ID
    assert principal.roles == {"Pipelines.Submit"} and principal.scopes == {"Pipelines.Read"}
    assert dev_host.hits[devissuer.JWKS_PATH] == 1


def test_configure_returns_exactly_the_validator_settings(dev_host: KeyServer) -> None:
    # GIVEN / WHEN
    env = devissuer.configure_dev_environment(dev_host.base_url + "/")

    # THEN
    assert env == {
        "PIPELINES_AUTH_TENANT_IDS": devissuer.DEV_TENANT_ID,
        "PIPELINES_AUTH_AUDIENCES": devissuer.DEV_AUDIENCE,
        "PIPELINES_AUTH_JWKS_URL": f"{dev_host.base_url}/.devissuer/keys",
    }


def test_configure_refuses_plain_http_to_another_machine() -> None:
    # GIVEN / WHEN / THEN
    with pytest.raises(ConfigurationError, match="localhost only"):
        devissuer.configure_dev_environment("http://192.0.2.10:7071")


def test_minted_tokens_get_the_same_checks_as_any_other(dev_host: KeyServer) -> None:
    # GIVEN tokens that are expired, or for another audience
    now = int(time.time())
    expired = devissuer.mint(extra_claims={"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600})
    elsewhere = devissuer.mint(audience="api://someone-else")

    # WHEN / THEN they are refused
    with pytest.raises(UnauthorizedError, match="expired"):
        authenticate(bearer(expired))
    with pytest.raises(UnauthorizedError, match="audience"):
        authenticate(bearer(elsewhere))


def test_default_roles_are_all_four(dev_host: KeyServer) -> None:
    # GIVEN / WHEN a token minted without roles
    principal = authenticate(bearer(devissuer.mint()))

    # THEN the local developer may do everything
    assert principal.roles == {"Pipelines.Read", "Pipelines.Submit", "Pipelines.Publish", "Pipelines.Admin"}


def test_mint_refuses_a_single_string_of_roles() -> None:
    # GIVEN / WHEN / THEN: a string would be one role per character
    with pytest.raises(TypeError):
        devissuer.mint("Pipelines.Read")


def test_func_start_without_a_dev_host_reads_the_keys_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN only PIPELINES_DEV_ISSUER (local.settings.json under `func start`)
    monkeypatch.setenv("PIPELINES_DEV_ISSUER", "true")
    reset_auth()

    # WHEN / THEN
    assert authenticate(bearer(devissuer.mint(["Pipelines.Read"]))).tenant_id == devissuer.DEV_TENANT_ID


# -- the key ----------------------------------------------------------------------------------------
def test_key_is_created_once_owner_only_and_stable() -> None:
    # GIVEN no key yet
    assert not key_file().exists()

    # WHEN the key set is asked for twice
    first = devissuer.jwks()
    second = devissuer.jwks()

    # THEN one key was created, readable by its owner only, with a stable kid
    assert stat.S_IMODE(key_file().stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file().parent.stat().st_mode) == 0o700
    assert first == second
    assert [p.name for p in key_file().parent.iterdir()] == [devissuer.KEY_FILE]


def test_key_set_holds_public_members_only() -> None:
    # GIVEN / WHEN
    (key,) = devissuer.jwks()["keys"]

    # THEN
    assert set(key) == {"kty", "n", "e", "kid", "use", "alg"}
    assert not PRIVATE_MEMBERS & set(key)
    assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")


def test_deleting_the_key_rotates_it() -> None:
    # GIVEN a key in use
    before = devissuer.jwks()["keys"][0]["kid"]

    # WHEN its file is deleted
    key_file().unlink()

    # THEN a new key (and kid) replaces it, even in this running process
    assert devissuer.jwks()["keys"][0]["kid"] != before


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    # GIVEN several processes creating the key at the same time
    env = {k: v for k, v in os.environ.items() if k not in AZURE_MARKERS}
    env["PIPELINES_DEV_KEY_DIR"] = str(tmp_path / "shared")
    code = "from pipelines.auth import devissuer; print(devissuer.jwks()['keys'][0]['kid'])"
    processes = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]

    # WHEN they finish
    kids = {process.communicate(timeout=60)[0].strip() for process in processes}

    # THEN they all use the same key
    assert len(kids) == 1 and "" not in kids


# -- never in Azure ---------------------------------------------------------------------------------
@pytest.mark.parametrize("azure", list(AZURE_ENVIRONMENTS.values()), ids=list(AZURE_ENVIRONMENTS))
def test_dev_issuer_refuses_to_run_in_azure(monkeypatch: pytest.MonkeyPatch, azure: dict[str, str]) -> None:
    # GIVEN an instance of one of Azure's hosting plans
    for name, value in azure.items():
        monkeypatch.setenv(name, value)

    # WHEN / THEN nothing of the issuer runs, and no key is created
    for action in (
        lambda: devissuer.configure_dev_environment("http://127.0.0.1:7071"),
        lambda: devissuer.mint(),
        devissuer.jwks,
    ):
        with pytest.raises(ConfigurationError, match="refuses to run in Azure"):
            action()
    assert not key_file().exists()


def test_a_container_alone_is_not_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a dev container or CI runner (CONTAINER_NAME, nothing of App Service)
    monkeypatch.setenv("CONTAINER_NAME", "devcontainer")

    # WHEN / THEN the issuer works
    assert devissuer.azure_environment() is None
    assert devissuer.mint()


@pytest.mark.parametrize("azure", list(AZURE_ENVIRONMENTS.values()), ids=list(AZURE_ENVIRONMENTS))
def test_validator_refuses_a_dev_configuration_in_azure(
    dev_host: KeyServer, monkeypatch: pytest.MonkeyPatch, azure: dict[str, str]
) -> None:
    # GIVEN the development settings copied into an Azure app
    token = devissuer.mint()
    for name, value in azure.items():
        monkeypatch.setenv(name, value)
    reset_auth()

    # WHEN / THEN the validator does not start
    with pytest.raises(ConfigurationError, match="runs in Azure"):
        authenticate(bearer(token))


# -- the token command ------------------------------------------------------------------------------
def run_cli(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PIPELINES_AUTH_") and name not in AZURE_MARKERS
    }
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )


def test_token_command_prints_one_line_that_validates(dev_host: KeyServer) -> None:
    # GIVEN the same key folder as the development host
    # WHEN
    result = run_cli("token", "--roles", "Pipelines.Submit,Pipelines.Read", "--lifetime", "600")

    # THEN stdout is exactly the token, usable in `$(...)`
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.split("\n")
    assert len(lines) == 2 and lines[1] == ""
    principal = authenticate(bearer(lines[0]))
    assert principal.roles == {"Pipelines.Submit", "Pipelines.Read"}


def test_token_command_can_mint_without_roles(dev_host: KeyServer) -> None:
    # GIVEN / WHEN
    result = run_cli("token", "--roles", "", "--scopes", "Pipelines.Read")

    # THEN
    principal = authenticate(bearer(result.stdout.strip()))
    assert principal.roles == frozenset() and principal.scopes == {"Pipelines.Read"}


def test_token_command_warns_about_unknown_roles_on_stderr(dev_host: KeyServer) -> None:
    # GIVEN / WHEN
    result = run_cli("token", "--roles", "Pipelines.Raed")

    # THEN the token is still printed alone on stdout
    assert "Pipelines.Raed" in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_token_command_refuses_in_azure() -> None:
    # GIVEN / WHEN
    result = run_cli("token", WEBSITE_SKU="FlexConsumption")

    # THEN nothing on stdout, the reason on stderr
    assert result.returncode == 1
    assert result.stdout == ""
    assert "refuses to run in Azure (WEBSITE_SKU is FlexConsumption)" in result.stderr


def test_token_command_documents_its_default_roles() -> None:
    # GIVEN / WHEN
    result = run_cli("token", "--help")

    # THEN
    assert result.returncode == 0
    assert "Pipelines.Admin" in result.stdout and "--lifetime" in result.stdout
