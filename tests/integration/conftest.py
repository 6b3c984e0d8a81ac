"""Fixtures of the integration tests: storage of each test's own on the session's real Azurite
(`azurite`, tests/conftest.py: free ports, never mocked, never skipped), the app on a real socket.

A file that needs other settings for its host overrides `host_env`, e.g. a short
step lease for tests that wait for one to expire.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipelines.client import Workspace
from pipelines.devhost import azurite as azurite_mod
from pipelines.settings import reset_settings
from pipelines.store.account import reset_account
from tests.conftest import unique_prefix
from tests.service import Service, token

if TYPE_CHECKING:
    from pipelines.devhost.host import DevHost


@pytest.fixture
def storage_env(azurite: azurite_mod.Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Point the settings at Azurite with names of this test's own."""
    prefix = unique_prefix()
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PIPELINES_NAME_PREFIX": prefix,
        "PIPELINES_STEPS_QUEUE": f"{prefix}-steps",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_account()
    yield env
    reset_settings()
    reset_account()


@pytest.fixture
def account(storage_env: dict[str, str]):
    from pipelines.store.account import get_account

    return get_account()


@pytest.fixture
def host_env() -> dict[str, str]:
    """Settings the `host` fixture adds for a file; none by default."""
    return {}


@pytest.fixture
def host(
    storage_env: dict[str, str], host_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DevHost]:
    """`function_app.app` served by the development host on a free port; `host.base_url` to call it.
    Steps work in the test's own folder."""
    from tests.hosting import running_host  # imported here: it needs uvicorn, most tests don't

    monkeypatch.setenv("PIPELINES_WORK_DIR", str(tmp_path / "work"))
    for name, value in host_env.items():
        monkeypatch.setenv(name, value)
    with running_host(dev_issuer=True) as started:
        yield started


@pytest.fixture
def service(host: DevHost) -> Service:
    """HTTP calls to the host with real tokens of every role, in workspace ws1."""
    return Service(host.base_url)


@pytest.fixture
def workspace(host: DevHost) -> Workspace:
    """The Python client on the host, in workspace ws1, with a token of every role."""
    return Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
