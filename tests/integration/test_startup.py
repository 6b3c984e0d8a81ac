"""A missing or malformed setting is named in the log at start-up, and the app stays up:
the host indexes every function, `/health` says the configuration is invalid, and
every other route answers 503 until the settings are fixed."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from pipelines.settings import reset_settings
from pipelines.store.account import reset_account
from tests.service import ROOT

PROBE = (
    "import function_app\n"
    "print(len(function_app.app.get_functions()))\n"
)


def _import_app(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AzureWebJobsStorage", "PIPELINES_"))}
    env = {"PIPELINES_STEPS_QUEUE": "steps", **env}
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )


def _indexed(result: subprocess.CompletedProcess[str]) -> int:
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


def test_no_storage_setting_is_named_and_every_function_still_loads() -> None:
    complete = _indexed(
        _import_app({"AzureWebJobsStorage": "UseDevelopmentStorage=true", "PIPELINES_DEV_ISSUER": "true"})
    )
    result = _import_app({"PIPELINES_DEV_ISSUER": "true"})
    assert _indexed(result) == complete > 20
    assert "AzureWebJobsStorage" in result.stderr


def test_a_malformed_limit_is_named() -> None:
    result = _import_app({
        "AzureWebJobsStorage": "UseDevelopmentStorage=true", "PIPELINES_DEV_ISSUER": "true",
        "PIPELINES_MAX_REQUEST_BYTES": "lots",
    })
    assert _indexed(result) > 20
    assert "PIPELINES_MAX_REQUEST_BYTES" in result.stderr


def test_missing_auth_settings_are_named() -> None:
    result = _import_app({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert _indexed(result) > 20
    assert "PIPELINES_AUTH_TENANT_IDS" in result.stderr


def test_migration_mode_without_client_ids_is_named_and_does_not_stop_indexing() -> None:
    result = _import_app({
        "AzureWebJobsStorage": "UseDevelopmentStorage=true", "PIPELINES_DEV_ISSUER": "true",
        "PIPELINES_AUTH_MIGRATION_MODE": "true",
    })
    assert _indexed(result) > 20
    assert "PIPELINES_AUTH_MIGRATION_CLIENT_IDS" in result.stderr


def test_no_steps_queue_setting_is_named() -> None:
    # the host resolves %PIPELINES_STEPS_QUEUE% itself and has no default for it
    result = _import_app({"AzureWebJobsStorage": "UseDevelopmentStorage=true", "PIPELINES_DEV_ISSUER": "true",
                          "PIPELINES_STEPS_QUEUE": ""})
    assert _indexed(result) > 20
    assert "PIPELINES_STEPS_QUEUE" in result.stderr


def test_complete_settings_import_cleanly() -> None:
    result = _import_app({"AzureWebJobsStorage": "UseDevelopmentStorage=true", "PIPELINES_DEV_ISSUER": "true"})
    assert _indexed(result) > 20
    assert "configuration:" not in result.stderr


def test_with_a_bad_setting_routes_answer_503_and_health_says_why(
    storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.startup import check_configuration
    from tests.hosting import running_host
    from tests.service import Service

    with running_host(dev_issuer=True) as host:
        # GIVEN a setting that is malformed (checked as the host's indexing checks it)
        monkeypatch.setenv("PIPELINES_MAX_REQUEST_BYTES", "lots")
        reset_settings()
        reset_account()
        assert any("PIPELINES_MAX_REQUEST_BYTES" in p for p in check_configuration())
        try:
            # WHEN a route, a route that starts runs (it names the steps queue) and the health
            # check are called
            answer = Service(host.base_url).get("/Pipelines")
            submit = Service(host.base_url).post("/PipelineRuns/PipelineSubmit/any", json={})
            health = httpx.get(host.base_url + "/health", timeout=30)
        finally:
            monkeypatch.delenv("PIPELINES_MAX_REQUEST_BYTES")
            reset_settings()
            check_configuration()
    # THEN the route is a 503 of the contract's shape, and health is Unhealthy naming no setting
    assert answer.status_code == 503 and answer.json()["Error"]["Code"] == "ServiceUnavailable"
    assert submit.status_code == 503 and submit.json()["Error"]["Code"] == "ServiceUnavailable"
    assert health.status_code == 503
    assert health.json()["Configuration"].startswith("invalid") and "PIPELINES" not in health.text
