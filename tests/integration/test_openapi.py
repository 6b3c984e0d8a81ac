"""The running app answers what openapi.json says: every status documented, every body fits its schema
(the document itself is checked by tests/unit/test_openapi.py)."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from pipelines.api import (
    answers,
    openapi,
)
from pipelines.client import Workspace, publish
from pipelines.client.publish import load_pipeline
from tests.service import ROOT, Service, token
from tests.unit.test_openapi import resolve


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi.document()


def same(model: type[BaseModel], body: Any) -> None:
    """The answer is exactly what its wire model writes."""
    assert model.model_validate(body).model_dump(mode="json") == body


# -- the running app answers what the document says -------------------------------------------------------
def operation_for(doc: dict[str, Any], method: str, url: str) -> dict[str, Any]:
    """The documented operation a request hit: literal segments beat parameters, as the host routes."""
    path = "/" + url.split("/", 3)[3].split("?", 1)[0]
    candidates = []
    for template, item in doc["paths"].items():
        # A parameter is one segment; the catch-all {path} is the rest of the URL.
        pattern = re.sub(r"\\\{(\w+)\\\}", lambda m: ".+" if m.group(1) == "path" else "[^/]+",
                         re.escape(template))
        if method.lower() in item and re.fullmatch(pattern, path):
            candidates.append((template.count("{"), item[method.lower()]))
    assert candidates, f"{method} {path} is not documented"
    return min(candidates, key=lambda c: c[0])[1]


def check(doc: dict[str, Any], response: httpx.Response) -> Any:
    """The answer's status is documented for its operation, and its body fits the documented schema."""
    operation = operation_for(doc, response.request.method, str(response.request.url))
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, f"{response.request.url}: {response.status_code} is not documented"
    if "$ref" in documented:
        documented = resolve(doc, documented["$ref"])
    (media, content), = documented["content"].items()
    assert response.headers["content-type"].startswith(media)
    body = response.json() if media == "application/json" else response.text
    Draft202012Validator({**content["schema"], "components": doc["components"]}).validate(body)
    for header in documented.get("headers", {}):
        if header not in ("x-ms-continuation", "x-ms-ignored-keys"):  # present only when there is something to say
            assert header in response.headers, f"{response.request.url}: no {header}"
    return body


def test_the_running_app_answers_as_documented(doc: dict[str, Any], host: Any) -> None:
    service = Service(host.base_url)
    workspace = Workspace(base_url=host.base_url, resource_group="rg", name="ws1",
                          token_provider=lambda: token())
    same(answers.Health, check(doc, httpx.get(host.base_url + "/health", timeout=60)))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("step.py", "print('hello')\n")
    snapshot = archive.getvalue()
    same(answers.SnapshotUploaded,
         check(doc, service.put(f"/Snapshots/{hashlib.sha256(snapshot).hexdigest()}", content=snapshot)))
    pipeline = publish(workspace, load_pipeline(ROOT / "examples" / "compare"), "p", "d", "1.0")
    check(doc, service.get(f"/Pipelines/{pipeline.id}"))
    check(doc, service.get("/Pipelines", headers={"BatchSize": "1"}))
    check(doc, service.put(f"/Pipelines/{pipeline.id}/status", json="Active"))
    same(answers.Error, check(doc, service.get("/Pipelines/nope")))  # 404: the Error schema
    check(doc, service.call("GET", "/Pipelines", roles=["Nobody"]))  # 403
    create = {"Name": "ep", "PipelineId": pipeline.id}
    endpoint = check(doc, service.post("/PipelineEndpoints/Create", json=create))
    check(doc, service.post("/PipelineEndpoints/Create", json=create))  # 409
    check(doc, service.get(f"/PipelineEndpoints/Id/{endpoint['Id']}"))
    check(doc, service.get("/PipelineEndpoints/Name", params={"name": "ep"}))
    check(doc, service.get("/PipelineEndpoints"))
    check(doc, service.get(f"/PipelineEndpoints/{endpoint['Id']}/pipelines"))
    check(doc, service.put(f"/PipelineEndpoints/{endpoint['Id']}", json={"Etag": "stale"}))  # 412
    check(doc, service.put(f"/PipelineEndpoints/{endpoint['Id']}", json={"Description": "x"}))
    run = check(doc, service.post("/PipelineRuns/PipelineEndpointSubmit/Name", params={"name": "ep"},
                                  json={"ParameterAssignments": {"pipeline_arg": 20}}))
    check(doc, service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint['Id']}/0", json={}))
    unknown = {"ParameterAssignments": {"x": 1}}
    check(doc, service.post(f"/PipelineRuns/PipelineSubmit/{pipeline.id}", json=unknown))  # 400
    check(doc, service.get(f"/PipelineRuns/{run['Id']}"))
    check(doc, service.get(f"/PipelineRuns/Pipeline/{pipeline.id}", params={"top": "1"}))
    service.wait_run(run["Id"])
    graph = f"/PipelineRuns/{run['Id']}/Graph"
    statuses = check(doc, service.post(f"{graph}/AllNodes/Status"))
    same(answers.StepStatuses, statuses)
    node = next(iter(statuses))
    check(doc, service.post(f"{graph}/Shareable/STDOUT", json=[node]))
    check(doc, service.get(f"{graph}/Shareable/stderr", params={"nodeId": node}))
    check(doc, service.post(f"{graph}/Node/Status", json=[node]))
    same(answers.StepStatusWord, check(doc, service.post(f"{graph}/Node/StatusCode", json=[node])))
    produced = check(doc, service.post(f"/PipelineRuns/{run['Id']}/Outputs", json=[node]))
    same(answers.NodeOutputs, produced)
    listing = check(doc, service.get(produced["output_data"]["DataLocation"]["Uri"]))
    same(answers.OutputFiles, listing)
    check(doc, service.get(listing["Files"][0]["Url"]))
    check(doc, service.get(listing["Files"][0]["Url"], headers={"Range": "bytes=0-3"}))  # 206
    check(doc, service.get(listing["Files"][0]["Url"], headers={"Range": "bytes=999999-"}))  # 416
    history_ = service.hs
    check(doc, service.get(f"{history_}/runs/{run['Id']}"))
    check(doc, service.get(f"{history_}/runs/{run['Id']}/details"))
    check(doc, service.get(f"{history_}/experiments/p/runs/{run['Id']}"))
    check(doc, service.get(f"{history_}/experiments/p/runs/{run['Id']}/details"))
    check(doc, service.get(f"{history_}/experiments/p/runs/{run['Id']}/children", params={"$top": "1"}))
    check(doc, service.get(f"{history_}/experiments/p/runs/{run['Id']}/metricsingest/wait"))
    check(doc, service.post(f"{history_}/experiments/p/runs:query", json={"filter": "ParentRunId eq null"}))
    check(doc, service.post(f"{history_}/experiments/p/runs:query", json={"filter": "Nope eq 1"}))  # 400
    experiment = check(doc, service.get(f"{history_}/experiments/p"))
    check(doc, service.get(f"{history_}/experiments"))
    check(doc, service.post(f"{history_}/experiments:query", json={"filter": "name eq p"}))
    check(doc, service.post(f"{history_}/experiments/fresh"))
    check(doc, service.get(f"{history_}/experimentids/{experiment['experimentId']}"))
    check(doc, service.get(f"{history_}/experimentids/{experiment['experimentId']}/runs/{run['Id']}"))
    artifacts = f"/artifact/v2.0/{history_.split('/history/v1.0/', 1)[1]}/artifacts/prefix/contentinfo"
    same(answers.ArtifactListing,
         check(doc, service.get(f"{service.base_url}{artifacts}/ExperimentRun/dcid.{run['Id']}/user_logs")))
    check(doc, service.call("DELETE", f"/PipelineRuns/{run['Id']}/Execution"))
    check(doc, service.get("/Datastores"))
    check(doc, service.get("/Datastores/workspaceblobstore"))
    check(doc, service.put("/Datastores/workspaceblobstore/files/in/a.csv", content=b"a,b\n1,2\n"))
    dataset = check(doc, service.post("/Datasets", json={
        "Name": "d", "DatasetType": "Tabular",
        "Paths": [{"DataStoreName": "workspaceblobstore", "RelativePath": "in/a.csv"}]}))
    check(doc, service.get(f"/Datasets/{dataset['Id']}"))
    check(doc, service.get("/Datasets/Name", params={"name": "d"}))
    check(doc, service.get("/Datasets"))
    trigger = {"PipelineEndpointName": "ep", "Request": {"Tags": {"a": "{subject}"}}}
    check(doc, service.put("/EventTriggers/t", json=trigger))
    check(doc, service.get("/EventTriggers/t"))
    check(doc, service.get("/EventTriggers"))
    same(answers.TriggerDeleted, check(doc, service.call("DELETE", "/EventTriggers/t")))
