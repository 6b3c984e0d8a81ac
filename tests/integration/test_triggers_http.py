"""Event triggers: a Blob Storage event delivered by Event Grid starts a run.

Through the local host: triggers registered over HTTP, events posted to the
Event Grid webhook as Event Grid (and Core Tools) deliver them.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from pipelines.authoring import (
    DataPath,
    DataPathComputeBinding,
    Pipeline,
    PipelineParameter,
    PythonScriptStep,
)
from pipelines.client import Datastore, publish
from pipelines.store import get_account
from tests import pipelines_for_tests as make
from tests.service import Service, assert_error

WEBHOOK = "/runtime/webhooks/EventGrid?functionName=start_runs_from_events"


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
    return httpx.post(
        host.base_url + WEBHOOK, json=list(events), headers={"aeg-event-type": "Notification"}, timeout=60
    )


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
    assert run["ScheduleId"] == "on-csv"  # the trigger that started it
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


def test_a_cloudevents_delivery_starts_runs_as_an_event_grid_one_does(service, workspace, host, tmp_path) -> None:
    # GIVEN a trigger on BlobCreated events of .csv blobs, filled from the event's type and data
    published = publish(workspace, reader(tmp_path / "code"), "reader")
    service.put("/EventTriggers/cloud", json={
        "PipelineId": published.id, "EventTypes": ["Microsoft.Storage.BlobCreated"], "SubjectEndsWith": ".csv",
        "Request": {"ParameterAssignments": {"source": "{eventType} {data.url}"}},
    })
    grid = blob_created("incoming/d.csv")
    # WHEN the subscription delivers the CloudEvents 1.0 schema (one event, then a batch of it again)
    cloud = {
        "specversion": "1.0", "id": grid["id"], "source": grid["topic"], "subject": grid["subject"],
        "type": grid["eventType"], "time": grid["eventTime"], "datacontenttype": "application/json",
        "data": grid["data"],
    }
    for body in (cloud, [cloud]):
        answer = httpx.post(host.base_url + WEBHOOK, json=body, timeout=60,
                            headers={"aeg-event-type": "Notification", "Content-Type": "application/cloudevents+json"})
        assert answer.status_code == 202, answer.text
    # THEN one run started, filled from the CloudEvent's type and data
    [run] = runs_of(service, published.id)
    assert run["RunSource"] == "EventGrid"
    assert run["ParameterAssignments"]["source"] == f"Microsoft.Storage.BlobCreated {grid['data']['url']}"


def test_an_event_without_a_type_is_dropped_and_its_batch_still_starts_its_runs(
    service, workspace, host, tmp_path
) -> None:
    published = publish(workspace, reader(tmp_path / "code"), "reader")
    service.put("/EventTriggers/any", json={"PipelineId": published.id})
    no_type = {key: value for key, value in blob_created("incoming/e.csv").items() if key != "eventType"}
    no_id = dict(blob_created("incoming/f.csv"), id="")
    # WHEN a batch holds an event without a type, one without an id, and a valid one
    answer = deliver(host, no_type, no_id, blob_created("incoming/g.csv"))
    # THEN the delivery succeeds (a retry would change nothing) and the valid event started its run
    assert answer.status_code == 202, answer.text
    [run] = runs_of(service, published.id)
    assert run["RunSource"] == "EventGrid"


def test_a_trigger_whose_request_the_event_cannot_fill_is_skipped_not_retried(
    service, workspace, host, tmp_path
) -> None:
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
    assert_error(
        service.put("/EventTriggers/t2", json={"PipelineId": published.id, "Request": {"Description": "{nope}"}}), 400
    )
    assert_error(service.put("/EventTriggers/bad.name", json={"PipelineId": published.id}), 400)
    assert_error(service.put("/EventTriggers/t2", json={"PipelineId": published.id, "Request": {"Tags": "x"}}), 400)
    assert_error(
        service.put("/EventTriggers/t2", json={"PipelineId": published.id}, roles=["Pipelines.Read"]), 403, "Forbidden"
    )
    assert service.call("DELETE", "/EventTriggers/t1").status_code == 200
    assert_error(service.get("/EventTriggers/t1"), 404, "NotFound")


# -- no silent skips ----------------------------------------------------------------------------------------
def typed(folder: Path) -> Pipeline:
    """One step with a parameter of each scalar type and a datapath."""
    make.write(folder, "typed.py", """
        print("args", sys.argv[1:])
    """)
    data = PipelineParameter("incoming", default_value=DataPath("workspaceblobstore", "incoming/none.csv"))
    arguments: list[object] = ["--data", (data, DataPathComputeBinding())]
    for name, default in (("n", 1), ("rate", 0.5), ("flag", False), ("label", "x")):
        arguments += [f"--{name}", PipelineParameter(name, default_value=default)]
    return Pipeline(steps=[PythonScriptStep("typed.py", name="typed", source_directory=folder, arguments=arguments)])


def details(response: httpx.Response) -> dict[str, str]:
    body = assert_error(response, 400)
    return {d["Target"]: d["Message"] for d in body["Error"]["Details"]}


def test_a_request_is_checked_at_put_against_its_target_as_far_as_values_are_known(
    service, workspace, tmp_path
) -> None:
    published = publish(workspace, typed(tmp_path / "code"), "typed")

    def put(request: dict[str, Any], **extra: Any) -> httpx.Response:
        return service.put("/EventTriggers/checked", json={"PipelineId": published.id, "Request": request, **extra})

    # literal values are coerced as a submit coerces them, every bad key in one 400
    refused = put({"ParameterAssignments": {"n": "abc", "nope": 1, "rate": "fast"}})
    assert assert_error(refused, 400, "InvalidParameter")["Error"]["Message"] == "3 parameter assignments are invalid"
    assert set(details(refused)) == {"ParameterAssignments.n", "ParameterAssignments.nope", "ParameterAssignments.rate"}
    # an int, float or bool parameter takes a placeholder only as one whole {data.<key>}
    for value in ("{subject}", "1{data.size}", "{data.a}{data.b}"):
        assert set(details(put({"ParameterAssignments": {"n": value}}))) == {"ParameterAssignments.n"}, value
    assert set(details(put({"ParameterAssignments": {"flag": "{eventType}"}}))) == {"ParameterAssignments.flag"}
    whole = {"n": "{data.contentLength}", "rate": "{data.rate}", "flag": "{data.flag}", "label": "{subject}@{id}"}
    assert put({"ParameterAssignments": whole}).status_code == 200
    # data references: what is known now is looked up, placeholders stand for a path
    datapath = {"DataStoreName": "workspaceblobstore", "RelativePath": "in/{blobName}"}
    assert put({"DataPathAssignments": {"incoming": datapath}}).status_code == 200
    for bad, target in (
        ({"DataStoreName": "nostore", "RelativePath": "{blobName}"}, "DataPathAssignments.incoming"),
        ({"DataStoreName": "workspaceblobstore", "RelativePath": "../{blobName}"}, "DataPathAssignments.incoming"),
    ):
        assert set(details(put({"DataPathAssignments": {"incoming": bad}}))) == {target}
    assert set(details(put({"DataPathAssignments": {"n": datapath}}))) == {"DataPathAssignments.n"}
    # a placeholder that names the datastore leaves only the parameter's kind to check
    by_event = {"DataStoreName": "{blobContainer}", "RelativePath": "{blobPath}"}
    assert put({"DataPathAssignments": {"incoming": by_event}}).status_code == 200
    # texts with placeholders are checked as they can be filled
    assert put({"ExperimentName": "arrivals-{data.batch}"}).status_code == 200
    assert set(details(put({"ExperimentName": "not ok {id}"}))) == {"Request.ExperimentName"}
    # an unknown placeholder is named beside every other bad key, in one 400
    mixed = put({"Description": "{bogus}", "ParameterAssignments": {"n": "abc"},
                 "DataPathAssignments": {"incoming": {"DataStoreName": "nostore", "RelativePath": "x"}}})
    assert set(details(mixed)) == {"Request.Description", "ParameterAssignments.n", "DataPathAssignments.incoming"}


def test_near_misses_are_refused_and_other_unknown_keys_listed(service, workspace, tmp_path) -> None:
    published = publish(workspace, typed(tmp_path / "code"), "typed")
    # a near miss of a known key, at the top or in the request, is a 400 naming the key it meant
    refused = details(service.put("/EventTriggers/t", json={
        "PipelineId": published.id, "SubjectBeginWith": "/blobServices/",
        "Request": {"ParamAssignments": {"n": 2}},
    }))
    assert refused == {
        "SubjectBeginWith": "unknown key 'SubjectBeginWith': did you mean 'SubjectBeginsWith'?",
        "Request.ParamAssignments": "unknown key 'ParamAssignments': did you mean 'ParameterAssignments'?",
    }
    # other unknown keys are accepted, and listed; keys in any case are read
    accepted = service.put("/EventTriggers/t", json={
        "pipelineid": published.id, "Owner": "team a", "Request": {"parameterassignments": {"n": 2}, "Why": 1,
                                                                   "AzDevOpsCallBackInfo": {"JobId": "j"}},
    })
    assert accepted.status_code == 200, accepted.text
    # a DevOps job's callback means nothing in a request no job waits for: named, not kept
    assert accepted.headers["x-ms-ignored-keys"] == "Owner,Request.Why,Request.AzDevOpsCallBackInfo"
    assert accepted.json()["Request"] == {"ParameterAssignments": {"n": 2}}
    # an answer sent back as it is (what only an answer holds is ignored silently)
    again = service.put("/EventTriggers/t", json=accepted.json())
    assert again.status_code == 200, again.text
    assert "x-ms-ignored-keys" not in again.headers
    assert again.json()["Request"] == accepted.json()["Request"]


def test_a_skipped_event_is_recorded_on_the_trigger_and_a_later_run_too(service, workspace, host, tmp_path) -> None:
    # GIVEN a trigger whose request needs a value only some events carry
    published = publish(workspace, typed(tmp_path / "code"), "typed")
    created = service.put("/EventTriggers/needs-batch", json={
        "PipelineId": published.id,
        "Request": {"ParameterAssignments": {"label": "{data.batch}", "n": "{data.contentLength}"}},
    }).json()
    assert (created["SkippedCount"], created["LastError"], created["LastRunId"], created["LastFiredTime"]) == (
        0, None, None, None)
    # WHEN an event without it comes, twice (a redelivery)
    first = blob_created("incoming/a.csv")
    assert deliver(host, first).status_code in (200, 202)
    assert deliver(host, first).status_code in (200, 202)
    # THEN the trigger says why it started nothing, once, naming the key
    skipped = service.get("/EventTriggers/needs-batch").json()
    assert skipped["SkippedCount"] == 1 and skipped["LastRunId"] is None
    error = skipped["LastError"]
    assert error["Code"] == "PlaceholderNotFilled" and error["EventId"] == first["id"] and error["FireTime"] is None
    assert "data.batch" in error["Message"] and "Request.ParameterAssignments.label" in error["Message"]
    assert error["Time"] == skipped["LastFiredTime"]
    assert [t["SkippedCount"] for t in service.get("/EventTriggers").json()] == [1]  # the list says it too
    # WHEN an event with it comes
    good = blob_created("incoming/b.csv")
    good["data"]["batch"] = "b-7"
    assert deliver(host, good).status_code in (200, 202)
    # THEN the run is recorded, the int came from the event's number, and the error stays as history
    [run] = runs_of(service, published.id)
    assert run["ParameterAssignments"]["label"] == "b-7" and run["ParameterAssignments"]["n"] == "12"
    fired = service.get("/EventTriggers/needs-batch").json()
    assert fired["LastRunId"] == run["Id"] and fired["SkippedCount"] == 1 and fired["LastError"] == error
    assert fired["LastFiredTime"] > error["Time"]
    # WHEN the target is disabled, or a filled value is no valid text, the event is skipped and said so
    service.put("/EventTriggers/bad-name", json={"PipelineId": published.id,
                                                 "Request": {"ExperimentName": "runs-{blobName}"}})
    assert deliver(host, blob_created("incoming/c.csv")).status_code in (200, 202)
    named = service.get("/EventTriggers/bad-name").json()["LastError"]
    assert named["Code"] == "UserError" and "ExperimentName" in named["Message"]
    service.put(f"/Pipelines/{published.id}/status", json="Disabled")
    assert deliver(host, good | {"id": str(uuid.uuid4())}).status_code in (200, 202)
    assert service.get("/EventTriggers/needs-batch").json()["LastError"]["Code"] == "EntityDisabled"


def test_concurrent_skips_lose_no_count(service, workspace, tmp_path) -> None:
    import concurrent.futures

    from pipelines.client import PublishedPipeline
    from pipelines.triggers.model import Event
    from pipelines.triggers.service import Triggers

    published = publish(workspace, typed(tmp_path / "code"), "typed")
    assert service.put("/EventTriggers/busy", json={"PipelineId": published.id}).status_code == 200
    PublishedPipeline.get(workspace, published.id).disable()
    triggers = Triggers(get_account())  # one instance: its clients are made before the threads start
    events = [Event(str(uuid.uuid4()), "Microsoft.Storage.BlobCreated", "/x", None, None, {}) for _ in range(8)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        happened = list(pool.map(triggers.start_runs, events))
    assert all("skipped" in h[0] for h in happened)
    recorded = service.get("/EventTriggers/busy").json()
    assert recorded["SkippedCount"] == 8
    assert recorded["LastError"]["EventId"] in {e.id for e in events}


def test_a_trigger_whose_target_is_gone_can_be_disabled_and_not_enabled(service, workspace, tmp_path) -> None:
    from pipelines.client import EventTrigger, PublishedPipeline

    published = publish(workspace, typed(tmp_path / "code"), "typed")
    EventTrigger.create(workspace, "t", pipeline_id=published.id, pipeline_parameters={"n": 3})
    PublishedPipeline.get(workspace, published.id).disable()
    # a disabled trigger fires nothing: what it targets is checked when it is enabled again
    EventTrigger.get(workspace, "t").disable()
    assert service.get("/EventTriggers/t").json()["EntityStatus"] == 2
    assert_error(service.put("/EventTriggers/t", json={**service.get("/EventTriggers/t").json(), "EntityStatus": 0}),
                 409, "EntityDisabled")
    PublishedPipeline.get(workspace, published.id).enable()
    EventTrigger.get(workspace, "t").enable()
    assert service.get("/EventTriggers/t").json()["EntityStatus"] == 0


def test_the_readme_example_is_accepted_and_starts_a_run(service, workspace, host) -> None:
    # GIVEN the example pipeline behind compare-endpoint, and the README's trigger as printed
    import json
    import re

    from pipelines.client import PipelineEndpoint, publish
    from pipelines.client.publish import load_pipeline
    from tests.service import ROOT

    published = publish(workspace, load_pipeline(ROOT / "examples" / "compare"), "My_Published_Pipeline", None, "1.0")
    PipelineEndpoint.publish(workspace, "compare-endpoint", None, published)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Runs from events"):]
    trigger = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))
    # (the README's workspace is `default`; this test's is `ws1`, in its own container)
    container = get_account().settings.container_name("workspaceblobstore")
    trigger["SubjectBeginsWith"] = f"/blobServices/default/containers/{container}/blobs/ws1/incoming/"
    # WHEN it is PUT and a matching blob event arrives
    created = service.put("/EventTriggers/readme", json=trigger)
    assert created.status_code == 200, created.text
    assert deliver(host, blob_created("ws1/incoming/day.csv", container=container)).status_code in (200, 202)
    # THEN a run started with the event's values, and nothing was skipped
    [run] = runs_of(service, published.id)
    assert run["ParameterAssignments"] == {"pipeline_arg": "12"} and run["tags"] == {"blob": "incoming/day.csv"}
    assert service.get("/EventTriggers/readme").json()["SkippedCount"] == 0
