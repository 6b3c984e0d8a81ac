"""`AzDevOpsCallBackInfo` read into the job to tell (pipelines/runs/devops.py)."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.runs.devops import DevOpsTask, read_callback

SENT = {"JobId": "j-1", "HubName": "build", "TaskInstanceId": "t-1", "PlanId": "p-1", "ProjectId": "pr-1",
        "PlanUri": "https://dev.azure.com/org/", "AuthToken": "secret"}


def test_the_task_s_keys_in_any_case_make_the_job_and_its_token() -> None:
    read = read_callback({key.lower(): value for key, value in SENT.items()})
    assert read == (DevOpsTask("https://dev.azure.com/org/", "pr-1", "build", "p-1", "j-1", "t-1"), "secret")
    job = read[0]
    assert job.events_url == (
        "https://dev.azure.com/org/pr-1/_apis/distributedtask/hubs/build/plans/p-1/events?api-version=2.0-preview.1")
    assert "secret" not in job.text() and "secret" not in job.label
    assert DevOpsTask.from_text(job.text()) == job


def test_ids_are_quoted_into_the_path_and_a_plan_uri_without_its_slash_is_joined() -> None:
    job, _ = read_callback({**SENT, "PlanUri": "https://tfs.example.com/DefaultCollection", "ProjectId": "a b/c"})
    assert job.events_url.startswith("https://tfs.example.com/DefaultCollection/a%20b%2Fc/_apis/")


@pytest.mark.parametrize("changed", [
    {"AuthToken": ""}, {"AuthToken": None}, {"JobId": 5}, {"PlanId": " "}, {"HubName": "x" * 3000},
    {"PlanUri": "http://dev.azure.com/org/"},  # not https
    {"PlanUri": "https://example.invalid/"}, {"PlanUri": "https://ci.test/"},  # reserved, never resolves
    {"PlanUri": "https://dev.azure.com/org/?a=1"}, {"PlanUri": "https://u:p@dev.azure.com/"},
    {"PlanUri": "http://127.0.0.1:8080/org/"},  # loopback http only where development allows it
])
def test_information_that_cannot_be_used_reads_as_none(changed: dict[str, Any]) -> None:
    assert read_callback({**SENT, **changed}) is None


def test_a_missing_key_or_a_body_that_is_no_object_reads_as_none() -> None:
    assert read_callback({k: v for k, v in SENT.items() if k != "TaskInstanceId"}) is None
    assert read_callback(["not", "an", "object"]) is None
    assert read_callback({**SENT, "PlanUri": "http://127.0.0.1:8080/org/"}, allow_local_http=True) is not None


def test_a_row_value_this_code_did_not_write_reads_as_no_job() -> None:
    assert DevOpsTask.from_text("{not json") is None
    assert DevOpsTask.from_text('{"job": 1}') is None
    assert DevOpsTask.from_text(None) is None
