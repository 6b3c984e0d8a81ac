"""Fixtures of every test: no developer's storage settings leak in, and names of a test's own.

tests/unit needs nothing but Python. `azurite` is the session's real Azurite, started on
free ports the first time a test asks for it (tests/integration and tests/reliability do);
tests/integration/conftest.py adds storage settings of the test's own and the Function app
served by the local host.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.devhost import azurite as azurite_mod
from pipelines.settings import reset_settings
from pipelines.store.account import reset_account

# Fixtures of modules shared by several test folders: `workers` (standalone worker processes);
# the fault suite's table of figures, printed where the session ends (`reliability.report`).
pytest_plugins = ["tests.workers", "tests.reliability.report"]

ROOT = Path(__file__).resolve().parents[1]


def unique_prefix() -> str:
    return "t" + secrets.token_hex(5)


@pytest.fixture(autouse=True)
def _no_ambient_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a developer's own storage settings."""
    for name in list(os.environ):
        if name.startswith(("AzureWebJobsStorage", "PIPELINES_")):
            monkeypatch.delenv(name, raising=False)
    reset_settings()
    reset_account()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[azurite_mod.Azurite]:
    """Azurite for the session, its data in a folder of the session's. Storage is never mocked:
    if it cannot start, the tests that need it fail (they never skip).

    Not in memory: Azurite's in-memory store deletes a queue's consumed messages once a minute
    without yielding, a cost that grows with the deleted and the remaining messages (a
    sort of the extent index per deletion); under the fault suite's load that held every
    request for up to 30 s, long enough for reads to answer 503 and leases to expire. On disk
    each deletion waits on the file system, and requests are served in between
    (docs/architecture.md, "Local development and tests")."""
    folder = tmp_path_factory.mktemp("azurite")
    emulator = azurite_mod.start(location=str(folder / "data"), log_path=str(folder / "azurite.log"))
    try:
        yield emulator
    finally:
        emulator.stop()
