"""Fixtures of every test: no developer's storage settings leak in, and names of a test's own.

tests/unit needs nothing but Python; tests/integration/conftest.py adds a real Azurite,
storage settings of the test's own, and the Function app served by the local host.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from pipelines.settings import reset_settings
from pipelines.store.account import reset_account

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
