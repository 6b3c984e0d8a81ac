"""The Azure DevOps job that submits a run and waits for it (`AzDevOpsCallBackInfo`) is told of its
end: one `TaskCompleted` job event posted to its plan with the job's token, as Azure DevOps'
agentless tasks wait for. Against the local host and Azurite, the plan served by this test on
127.0.0.1 (the development setting allows plain http there, as for webhooks)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableClient

from pipelines.client import publish
from tests import pipelines_for_tests as make
from tests.hosting import wait_for
from tests.integration.test_run_events import Receiver, receivers, serve, settled
from tests.service import Service

__all__ = ["receivers"]  # the fixture, used by name

TOKEN = "job-token-that-must-stay-secret"


@pytest.fixture
def host_env() -> dict[str, str]:
    return {"PIPELINES_WEBHOOKS_ALLOW_LOCAL_HTTP": "true", "PIPELINES_WEBHOOK_MAX_ATTEMPTS": "3",
            "PIPELINES_WEBHOOK_MAX_BACKOFF_SECONDS": "2"}


def callback(plan: Receiver, **changes: str) -> dict[str, str]:
    """What the "Invoke ML pipeline" task sends: the job's plan, ids and token."""
    base = plan.url.rsplit("/hooks/", 1)[0]
    return {"JobId": "job-1", "HubName": "build", "TaskInstanceId": "task-1", "PlanId": "plan-1",
            "ProjectId": "project-1", "PlanUri": f"{base}/org/", "AuthToken": TOKEN, **changes}


def tokens_kept(storage_env: dict[str, str]) -> list[dict[str, Any]]:
    table = TableClient.from_connection_string(storage_env["AzureWebJobsStorage"],
                                               storage_env["PIPELINES_NAME_PREFIX"] + "RunCallbacks")
    return list(table.list_entities())


@pytest.mark.parametrize(("script", "status", "result"), [("print('fine')", 3, "succeeded"),
                                                          ("raise SystemExit(4)", 2, "failed")])
def test_the_job_is_told_once_how_the_run_ended_and_its_token_is_then_dropped(
    service: Service, workspace: Any, receivers: list[Receiver], storage_env: dict[str, str], tmp_path: Path,
    script: str, status: int, result: str,
) -> None:
    # GIVEN a plan that takes job events, and a pipeline
    plan = serve(receivers)
    published = publish(workspace, make.single(tmp_path / "code", script), "devops")
    # WHEN the DevOps task submits a run, as it sends its body
    body = {"ExperimentName": "mlops-run", "RunSource": "PipelineRun", "AzDevOpsCallBackInfo": callback(plan)}
    answer = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json=body)
    assert answer.status_code == 200 and "x-ms-ignored-keys" not in answer.headers, answer.text
    run = answer.json()["Id"]
    # THEN while it runs, the token is kept apart from the run, never in an answer
    assert TOKEN not in answer.text and TOKEN not in service.get(f"/PipelineRuns/{run}").text
    assert service.wait_run(run)["Status"]["StatusCode"] == status
    wait_for(lambda: settled(service, run) and not tokens_kept(storage_env), timeout=30, interval=0.2)
    # AND the plan got one TaskCompleted event for the job, with the run's result, authenticated with the token
    with plan.lock:
        requests = list(plan.requests)
        paths = list(plan.paths)
    assert paths == ["/org/project-1/_apis/distributedtask/hubs/build/plans/plan-1/events?api-version=2.0-preview.1"]
    _, headers, sent = requests[0]
    assert json.loads(sent) == {"name": "TaskCompleted", "taskId": "task-1", "jobId": "job-1", "result": result}
    assert headers["authorization"] == "Basic " + base64.b64encode(f":{TOKEN}".encode()).decode()
    assert headers["content-type"] == "application/json"
    # AND the run's events route shows the job as a sink its end was delivered to, without the token
    events = service.get(f"/PipelineRuns/{run}/Events")
    assert TOKEN not in events.text
    ends = [e for e in events.json() if e["Type"].startswith("Pipelines.Run") and e["Type"] != "Pipelines.RunQueued"
            and e["Type"] != "Pipelines.RunStarted"]
    job = [d for d in ends[0]["Deliveries"] if d["Sink"].startswith("Azure DevOps job job-1 of plan plan-1")]
    assert [d["Status"] for d in job] == ["Delivered"], ends


def test_a_plan_that_keeps_failing_is_given_up_where_a_user_looks_and_the_token_dropped(
    service: Service, workspace: Any, receivers: list[Receiver], storage_env: dict[str, str], tmp_path: Path,
) -> None:
    plan = serve(receivers, fail_first=10**6)
    published = publish(workspace, make.single(tmp_path / "code", "print(1)"), "devops-down")
    run = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}",
                       json={"AzDevOpsCallBackInfo": callback(plan)}).json()["Id"]
    assert service.wait_run(run)["Status"]["StatusCode"] == 3
    wait_for(lambda: settled(service, run) and not tokens_kept(storage_env), timeout=40, interval=0.3)
    assert len(plan.requests) == 3  # PIPELINES_WEBHOOK_MAX_ATTEMPTS
    finished = next(e for e in service.get(f"/PipelineRuns/{run}/Events").json()
                    if e["Type"] == "Pipelines.RunFinished")
    job = next(d for d in finished["Deliveries"] if d["Sink"].startswith("Azure DevOps job"))
    assert job["Status"] == "Failed" and "HTTP 500" in job["Error"]


@pytest.mark.parametrize("changes", [
    {"AuthToken": ""},  # no token
    {"PlanUri": "https://example.invalid/"},  # a domain that never resolves (the vector's)
    {"PlanUri": "ftp://127.0.0.1/org/"},  # not http(s)
    {"JobId": 5},  # not a string
])
def test_callback_information_that_cannot_be_used_is_named_as_ignored_and_the_run_goes_on(
    service: Service, workspace: Any, receivers: list[Receiver], storage_env: dict[str, str], tmp_path: Path,
    changes: dict[str, Any],
) -> None:
    plan = serve(receivers)
    published = publish(workspace, make.single(tmp_path / "code", "print(1)"), "devops-bad")
    answer = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}",
                          json={"AzDevOpsCallBackInfo": callback(plan, **changes)})
    assert answer.status_code == 200, answer.text
    assert "AzDevOpsCallBackInfo" in answer.headers["x-ms-ignored-keys"]
    assert service.wait_run(answer.json()["Id"])["Status"]["StatusCode"] == 3
    assert plan.requests == [] and tokens_kept(storage_env) == []
