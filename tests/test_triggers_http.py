"""Event triggers: a Blob Storage event delivered by Event Grid starts a run.

Through the local host: triggers registered over HTTP, events posted to the
Event Grid webhook as Event Grid (and Core Tools) deliver them.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.authoring import (
    DataPath,
    DataPathComputeBinding,
    Pipeline,
    PipelineParameter,
    PythonScriptStep,
)
from pipelines.client import Datastore, Workspace, publish
from pipelines.store import get_account
from tests import pipelines_for_tests as make
from tests.service import Service, assert_error, token

WEBHOOK = "/runtime/webhooks/EventGrid?functionName=start_runs_from_events"


@pytest.fixture
def service(host) -> Service:
    return Service(host.base_url)


@pytest.fixture
def workspace(host) -> Workspace:
    return Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())


def blob_created(path: str, container: str = "workspaceblobstore", event_id: str | None = None) -> dict[str, Any]:
    """A BlobCreated event as Event Grid sends it; `path` is the blob's name in `container`."""
    return {
        "id": event_id or str(uuid.uuid4()),
        "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct",
        "subject": f"/blobServices/default/containers/{container}/blobs/{path}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2026-11-25T10:00:00Z",
        "dataVersion": "1",
        "data": {"url": f"https://acct.blob.core.windows.net/{container}/{path}", "contentLength": 12},
    }


def deliver(host, *events: dict[str, Any]) -> httpx.Response:
    return httpx.post(host.base_url + WEBHOOK, json=list(events), headers={"aeg-event-type": "Notification"}, timeout=60)


def reader(folder: Path) -> Pipeline:
    """One step that reads the datapath it is given and prints its parameter."""
    make.write(folder, "read.py", """
        p = argparse.ArgumentParser(); p.add_argument("--data"); p.add_argument("--source")
        a = p.parse_args()
        print("source", a.source)
        print("read", pathlib.Path(a.data).read_text().strip())
    """)
    data = PipelineParameter("incoming", default_value=DataPath("workspaceblobstore", "incoming/none.csv"))
    return Pipeline(steps=[PythonScriptStep(
        "read.py", name="read", source_directory=folder,
        arguments=["--data", (data, DataPathComputeBinding()), "--source", PipelineParameter("source", "manual")],
    )])


def runs_of(service: Service, pipeline_id: str) -> list[dict[str, Any]]:
    return service.get(f"/PipelineRuns/Pipeline/{pipeline_id}").json()


def test_a_blob_that_lands_starts_a_run_that_reads_it(service, workspace, host, tmp_path) -> None:
    # GIVEN a pipeline and a trigger on blobs landing under incoming/ as .csv
    published = publish(workspace, reader(tmp_path / "code"), "reader")
    # (files of workspaceblobstore live in the app's container, in a folder per workspace)
    container = get_account().settings.container_name("workspaceblobstore")
    trigger = {
        "PipelineId": published.id,
        "EventTypes": ["Microsoft.Storage.BlobCreated"],
        "SubjectBeginsWith": f"/blobServices/default/containers/{container}/blobs/ws1/incoming/",
        "SubjectEndsWith": ".csv",
        "Request": {
            "ExperimentName": "on-arrival",
            "ParameterAssignments": {"source": "{data.url}"},
            "DataPathAssignments": {
                "incoming": {"DataStoreName": "workspaceblobstore", "RelativePath": "{datastorePath}"}
            },
        },
    }
    created = service.put("/EventTriggers/on-csv", json=trigger)
    assert created.status_code == 200, created.text
    assert created.json()["Name"] == "on-csv" and created.json()["EntityStatus"] == 0
    local = tmp_path / "day.csv"
    local.write_text("v\n42\n")
    Datastore.get(workspace, "workspaceblobstore").upload_file(local, "incoming/day.csv", overwrite=True)
    [landed] = [b.name for b in get_account().container("workspaceblobstore").listing("ws1/")]
    assert landed == "ws1/incoming/day.csv"
    # WHEN Event Grid delivers the BlobCreated event of that blob, twice (at least once)
    event = blob_created(landed, container=container)
    assert deliver(host, event).status_code in (200, 202)
    assert deliver(host, event).status_code in (200, 202)
    # THEN exactly one run started, from the event, and it read that blob
    [run] = runs_of(service, published.id)
    assert run["RunSource"] == "EventGrid" and run["RunHistoryExperimentName"] == "on-arrival"
    assert run["ParameterAssignments"]["source"] == event["data"]["url"]
    assert run["DataPathAssignments"]["incoming"]["RelativePath"] == "incoming/day.csv"
    assert service.wait_run(run["Id"])["Status"]["StatusCode"] == 3
    [node] = service.steps(run["Id"])
    assert "read v\n42" in service.log(run["Id"], node)


def test_events_that_do_not_match_start_nothing(service, workspace, host, tmp_path) -> None:
    published = publish(workspace, reader(tmp_path / "code"), "reader")
    service.put("/EventTriggers/only-csv", json={
        "PipelineId": published.id, "EventTypes": ["Microsoft.Storage.BlobCreated"], "SubjectEndsWith": ".csv",
    })
    other_type = dict(blob_created("incoming/a.csv"), eventType="Microsoft.Storage.BlobDeleted")
    assert deliver(host, blob_created("incoming/a.json"), other_type).status_code in (200, 202)
    # a disabled trigger matches nothing
    service.put("/EventTriggers/off", json={"PipelineId": published.id, "EntityStatus": "Disabled"})
    assert deliver(host, blob_created("incoming/b.json")).status_code in (200, 202)
    assert runs_of(service, published.id) == []


def test_a_trigger_whose_request_the_event_cannot_fill_is_skipped_not_retried(service, workspace, host, tmp_path) -> None:
    published = publish(workspace, reader(tmp_path / "code"), "reader")
    service.put("/EventTriggers/needs-field", json={
        "PipelineId": published.id, "Request": {"ParameterAssignments": {"source": "{data.missing}"}},
    })
    response = deliver(host, blob_created("incoming/c.csv"))
    assert response.status_code in (200, 202)  # not a failure: a retry would not change it
    assert runs_of(service, published.id) == []


def test_triggers_are_read_listed_deleted_and_checked(service, workspace, tmp_path) -> None:
    published = publish(workspace, make.single(tmp_path / "code", "print('x')\n"), "p")
    assert service.put("/EventTriggers/t1", json={"PipelineId": published.id}).status_code == 200
    assert service.get("/EventTriggers/t1").json()["PipelineId"] == published.id
    assert [t["Name"] for t in service.get("/EventTriggers").json()] == ["t1"]
    assert Service(service.base_url, workspace="ws2").get("/EventTriggers").json() == []
    # refused: unknown target, two targets, unknown placeholder, bad name, bad request shape
    assert_error(service.put("/EventTriggers/t2", json={"PipelineId": "nope"}), 404, "NotFound")
    assert_error(service.put("/EventTriggers/t2", json={"PipelineId": published.id, "PipelineEndpointName": "e"}), 400)
    assert_error(service.put("/EventTriggers/t2", json={"PipelineId": published.id, "Request": {"Description": "{nope}"}}), 400)
    assert_error(service.put("/EventTriggers/bad.name", json={"PipelineId": published.id}), 400)
    assert_error(service.put("/EventTriggers/t2", json={"PipelineId": published.id, "Request": {"Tags": "x"}}), 400)
    assert_error(service.put("/EventTriggers/t2", json={"PipelineId": published.id}, roles=["Pipelines.Read"]), 403, "Forbidden")
    assert service.call("DELETE", "/EventTriggers/t1").status_code == 200
    assert_error(service.get("/EventTriggers/t1"), 404, "NotFound")
