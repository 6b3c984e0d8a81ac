"""Shared fixtures: a real Azurite for the session, and isolated names per test.

Azurite starts on free ports (parallel runs don't collide). Storage is never
mocked: if Azurite cannot start, the tests that need it fail (they never skip).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipelines.devhost import azurite as azurite_mod
from pipelines.settings import reset_settings
from pipelines.store.account import reset_account

if TYPE_CHECKING:
    from pipelines.devhost.host import DevHost

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[azurite_mod.Azurite]:
    log = tmp_path_factory.mktemp("azurite") / "azurite.log"
    emulator = azurite_mod.start(log_path=str(log))
    try:
        yield emulator
    finally:
        emulator.stop()


def unique_prefix() -> str:
    return "t" + secrets.token_hex(5)


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


@pytest.fixture(autouse=True)
def _no_ambient_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a developer's own storage settings."""
    for name in list(os.environ):
        if name.startswith(("AzureWebJobsStorage", "PIPELINES_")):
            monkeypatch.delenv(name, raising=False)
    reset_settings()
    reset_account()


@pytest.fixture
def host(storage_env: dict[str, str]) -> Iterator[DevHost]:
    """`function_app.app` served by the development host on a free port; `host.base_url` to call it."""
    from tests.hosting import running_host  # imported here: it needs uvicorn, most tests don't

    with running_host(dev_issuer=True) as started:
        yield started
