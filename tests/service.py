"""A test's view of the running service: HTTP with real tokens, and contract checks.

Every call goes through a real socket to the development host; tokens are
minted by the development issuer and checked by the same validator as in Azure.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pipelines.auth import devissuer

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "data" / "vectors"
ALL_ROLES = ("Pipelines.Read", "Pipelines.Submit", "Pipelines.Publish", "Pipelines.Admin")

WS_PATH = (
    "/pipelines/v1.0/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"
    "/providers/Microsoft.MachineLearningServices/workspaces/{workspace}"
)

HS_PATH = WS_PATH.replace("/pipelines/v1.0/", "/history/v1.0/")

PIPELINE_KEYS = {
    "Id", "Name", "Description", "Version", "EntityStatus", "Url", "TotalRunSteps", "GraphId",
    "ContinueRunOnStepFailure", "ParameterAssignments", "DataSetDefinitionValueAssignments", "Etag",
    "CreatedDate", "LastModifiedDate", "Properties",
}
ENDPOINT_KEYS = {
    "Id", "Name", "Description", "DefaultVersion", "PipelineVersionList", "EntityStatus", "Url",
    "SwaggerUrl", "Etag", "CreatedDate", "LastModifiedDate", "Properties", "tags",
}
RUN_KEYS = {
    "Id", "Description", "Status", "GraphId", "IsSubmitted", "HasErrors", "HasWarnings",
    "ParameterAssignments", "DataSetDefinitionValueAssignments", "RunHistoryExperimentName",
    "PipelineId", "RunSource", "RunType", "TotalRunSteps", "ScheduleId", "tags", "Properties",
    "EntityStatus", "Etag", "CreatedDate", "LastModifiedDate",
}
TASK_KEYS = {"StatusCode", "StatusDetail", "CreationTime", "ScheduleTime", "StartTime", "EndTime", "RunId", "ReuseInfo"}


def token(roles: Sequence[str] = ALL_ROLES) -> str:
    return devissuer.mint(list(roles))


@dataclass
class Service:
    base_url: str
    workspace: str = "ws1"
    roles: Sequence[str] = ALL_ROLES

    @property
    def ws(self) -> str:
        return self.base_url + WS_PATH.format(workspace=self.workspace)

    @property
    def hs(self) -> str:
        """The run-history family's workspace prefix (`/history/v1.0/...`)."""
        return self.base_url + HS_PATH.format(workspace=self.workspace)

    def headers(self, extra: dict[str, str] | None = None, roles: Sequence[str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(roles or self.roles)}", **(extra or {})}

    def call(self, method: str, path: str, *, roles: Sequence[str] | None = None,
             headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("http") else self.ws + path
        return httpx.request(method, url, headers=self.headers(headers, roles), timeout=60, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("PUT", path, **kwargs)

    def wait_run(self, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll the run until it ends; returns the final PipelineRunEntity."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(f"/PipelineRuns/{run_id}").json()
            if run["Status"]["StatusCode"] in (2, 3, 4):
                return run
            if time.monotonic() > deadline:
                steps = self.post(f"/PipelineRuns/{run_id}/Graph/AllNodes/Status").json()
                raise AssertionError(f"run {run_id} did not end in {timeout}s: {run['Status']} {steps}")
            time.sleep(0.2)

    def steps(self, run_id: str) -> dict[str, Any]:
        return self.post(f"/PipelineRuns/{run_id}/Graph/AllNodes/Status").json()

    def log(self, run_id: str, node_id: str, kind: str = "STDOUT") -> str:
        response = self.post(f"/PipelineRuns/{run_id}/Graph/Shareable/{kind}", json=[node_id])
        assert response.status_code == 200, response.text
        return response.text


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The contract's error JSON (docs/contract.md §4), with the given status and code; on the
    run-history and artifact routes, with its twin in the keys SDK v1's clients read."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    path = response.request.url.path
    if path.startswith(("/history/", "/artifact/")):
        assert set(body) == {"Error", "Correlation", "error", "correlation"}, body
        error, twin = body["Error"], body["error"]
        assert (twin["code"], twin["message"], twin["target"]) == (error["Code"], error["Message"], error["Target"])
        assert [(d["code"], d["message"], d["target"]) for d in twin["details"]] == [
            (d["Code"], d["Message"], d["Target"]) for d in error["Details"]]
        assert body["correlation"] == {"request": body["Correlation"]["RequestId"]}
    else:
        assert set(body) == {"Error", "Correlation"}, body
    assert set(body["Error"]) == {"Code", "Message", "Target", "Details"}, body
    assert isinstance(body["Error"]["Message"], str) and body["Error"]["Message"]
    assert body["Correlation"]["RequestId"]
    if code is not None:
        assert body["Error"]["Code"] == code, body
    return body


def assert_keys(entity: dict[str, Any], keys: set[str]) -> None:
    missing = keys - set(entity)
    assert not missing, f"missing contract keys {sorted(missing)} in {sorted(entity)}"
