"""The health route: anonymous, 200 with storage answering, 503 without."""

from __future__ import annotations

import httpx
import pytest

from pipelines.devhost.azurite import free_port
from pipelines.settings import EMULATOR_ACCOUNT, EMULATOR_KEY, reset_settings
from pipelines.store.account import reset_account


def test_health_answers_200_without_a_token(host) -> None:
    response = httpx.get(host.base_url + "/health", timeout=30)
    assert response.status_code == 200
    from pipelines.version import __version__

    assert response.json() == {"Status": "Healthy", "Configuration": "valid",
                               "Storage": {"table": "ok", "blob": "ok", "queue": "ok"}, "Version": __version__}


def test_health_answers_503_when_storage_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.hosting import running_host

    # GIVEN storage settings pointing at ports where nothing listens
    closed = [free_port() for _ in range(3)]
    base = "http://127.0.0.1"
    monkeypatch.setenv("AzureWebJobsStorage", (
        f"DefaultEndpointsProtocol=http;AccountName={EMULATOR_ACCOUNT};AccountKey={EMULATOR_KEY};"
        f"BlobEndpoint={base}:{closed[0]}/{EMULATOR_ACCOUNT};QueueEndpoint={base}:{closed[1]}/{EMULATOR_ACCOUNT};"
        f"TableEndpoint={base}:{closed[2]}/{EMULATOR_ACCOUNT};"
    ))
    monkeypatch.setenv("PIPELINES_STEPS_QUEUE", "steps")
    reset_settings()
    reset_account()
    with running_host(dev_issuer=True) as host:
        # WHEN the health route is asked
        response = httpx.get(host.base_url + "/health", timeout=60)
    # THEN it says so with 503, and nothing of the settings
    assert response.status_code == 503
    body = response.json()
    assert body["Status"] == "Unhealthy"
    assert EMULATOR_KEY not in response.text and str(closed[0]) not in response.text
