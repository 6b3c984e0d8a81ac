"""A missing or malformed setting fails at start-up, naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.service import ROOT


def _import_app(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AzureWebJobsStorage", "PIPELINES_"))}
    return subprocess.run(
        [sys.executable, "-c", "import function_app"], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=60,
    )


def test_no_storage_setting_fails_at_import_naming_it() -> None:
    result = _import_app({"PIPELINES_DEV_ISSUER": "true"})
    assert result.returncode != 0
    assert "AzureWebJobsStorage" in result.stderr


def test_a_malformed_limit_fails_naming_it() -> None:
    result = _import_app({
        "AzureWebJobsStorage": "UseDevelopmentStorage=true", "PIPELINES_DEV_ISSUER": "true",
        "PIPELINES_MAX_REQUEST_BYTES": "lots",
    })
    assert result.returncode != 0
    assert "PIPELINES_MAX_REQUEST_BYTES" in result.stderr


def test_missing_auth_settings_fail_naming_them() -> None:
    result = _import_app({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert result.returncode != 0
    assert "PIPELINES_AUTH_TENANT_IDS" in result.stderr


def test_complete_settings_import_cleanly() -> None:
    result = _import_app({"AzureWebJobsStorage": "UseDevelopmentStorage=true", "PIPELINES_DEV_ISSUER": "true"})
    assert result.returncode == 0, result.stderr
