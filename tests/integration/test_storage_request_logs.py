"""The storage SDKs' per-request log stays out of the app's logs unless asked for
(pipelines/store/account.py, quiet_request_logs).

The Functions Python worker sets the root logger to INFO and sends every record to the
host: azure.core's HttpLoggingPolicy would add two records (request, answer) to every
storage call the app makes. The root logger is set to INFO here as the worker sets it."""

from __future__ import annotations

import logging
import uuid

import pytest

from pipelines.settings import Settings
from pipelines.store.account import REQUEST_LOGGER, StorageAccount, quiet_request_logs


def _request_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == REQUEST_LOGGER]


def _touch_storage(account: StorageAccount) -> None:
    account.ensure()
    account.container("runs").write(f"request-logs/{uuid.uuid4().hex}", b"x", overwrite=True)
    list(account.table("Runs").query_entities("PartitionKey eq @pk", parameters={"pk": "none"}))


def test_storage_calls_leave_no_request_records_at_the_workers_log_level(storage_env, caplog) -> None:
    caplog.set_level(logging.INFO)
    _touch_storage(StorageAccount(Settings()))
    assert _request_records(caplog) == []


def test_the_setting_lets_the_request_records_through_without_secrets(storage_env, caplog, monkeypatch) -> None:
    monkeypatch.setenv("PIPELINES_STORAGE_REQUEST_LOGS", "true")
    caplog.set_level(logging.INFO)
    try:
        _touch_storage(StorageAccount(Settings()))
        records = _request_records(caplog)
        assert any("Request URL" in record.getMessage() for record in records)
        assert any("Response status" in record.getMessage() for record in records)
        text = "\n".join(record.getMessage() for record in records)
        assert "SharedKey" not in text  # the SDK redacts the Authorization header
    finally:
        quiet_request_logs(Settings(storage_request_logs=False))
    assert logging.getLogger(REQUEST_LOGGER).level == logging.WARNING
