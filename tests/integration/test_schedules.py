"""Schedules: recurrences as pure logic, and firing against the local host and Azurite."""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, datetime, timedelta

import httpx

from pipelines.auth import devissuer
from pipelines.client import publish
from tests import pipelines_for_tests as make
from tests.service import ALL_ROLES, Service, assert_error


def test_a_due_schedule_starts_one_run_however_many_instances_fire_it(service, workspace, tmp_path) -> None:
    from pipelines.schedules.service import Schedules
    from pipelines.store import get_account

    # GIVEN a schedule every 5 minutes from a minute ago
    published = publish(workspace, make.parameters_echo(tmp_path / "code", {"pipeline_arg": 10}), "nightly")
    start = datetime.now(UTC) - timedelta(minutes=1)
    created = service.put("/Schedules/every-5", json={
        "PipelineId": published.id,
        "Recurrence": {"Frequency": "Minute", "Interval": 5, "StartTime": start.isoformat()},
        "Request": {"ExperimentName": "scheduled", "ParameterAssignments": {"pipeline_arg": "7"}},
    })
    assert created.status_code == 200, created.text
    assert created.json()["Recurrence"]["Frequency"] == "Minute" and created.json()["LastFiredTime"] is None
    # WHEN its next fire time comes, and three instances' timers fire at that moment
    moment = start + timedelta(minutes=5, seconds=1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: Schedules(get_account()).fire_due(moment), range(3)))
    # THEN one run started, from the schedule, and the schedule knows it fired
    [run] = service.get(f"/PipelineRuns/Pipeline/{published.id}").json()
    assert run["RunSource"] == "Schedule" and run["ScheduleId"] == "every-5"
    assert run["RunHistoryExperimentName"] == "scheduled" and run["ParameterAssignments"] == {"pipeline_arg": "7"}
    recorded = service.get("/Schedules/every-5").json()
    assert recorded["LastFiredTime"] is not None and recorded["LastRunId"] == run["Id"]
    assert recorded["SkippedCount"] == 0 and recorded["LastError"] is None
    assert service.wait_run(run["Id"])["Status"]["StatusCode"] == 3
    # and the same moment again fires nothing more
    assert Schedules(get_account()).fire_due(moment) == []
    assert len(service.get(f"/PipelineRuns/Pipeline/{published.id}").json()) == 1


def test_disabled_schedules_and_disabled_targets_start_nothing(service, workspace, tmp_path) -> None:
    from pipelines.client import PublishedPipeline
    from pipelines.schedules.service import Schedules
    from pipelines.store import get_account

    published = publish(workspace, make.single(tmp_path / "code", "print(1)\n"), "p")
    start = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    recurrence_body = {"Frequency": "Minute", "Interval": 5, "StartTime": start}
    service.put("/Schedules/off", json={"PipelineId": published.id, "Recurrence": recurrence_body,
                                        "EntityStatus": "Disabled"})
    service.put("/Schedules/on", json={"PipelineId": published.id, "Recurrence": recurrence_body})
    PublishedPipeline.get(workspace, published.id).disable()
    happened = Schedules(get_account()).fire_due(datetime.now(UTC) + timedelta(minutes=5))
    assert len(happened) == 1 and "skipped" in happened[0]  # "on" tried; the pipeline refused it
    assert service.get(f"/PipelineRuns/Pipeline/{published.id}").json() == []
    refused = service.get("/Schedules/on").json()
    assert refused["SkippedCount"] == 1 and refused["LastError"]["Code"] == "EntityDisabled"
    assert service.get("/Schedules/off").json()["SkippedCount"] == 0


def test_schedules_are_read_listed_deleted_and_checked(service, workspace, tmp_path) -> None:
    published = publish(workspace, make.single(tmp_path / "code", "print(1)\n"), "p")
    daily = {"Frequency": "Day", "Interval": 1}
    assert service.put("/Schedules/daily", json={"PipelineId": published.id, "Recurrence": daily}).status_code == 200
    assert [s["Name"] for s in service.get("/Schedules").json()] == ["daily"]
    assert Service(service.base_url, workspace="ws2").get("/Schedules").json() == []
    assert_error(service.put("/Schedules/x", json={"PipelineId": "nope", "Recurrence": daily}), 404, "NotFound")
    assert_error(service.put("/Schedules/x", json={"PipelineId": published.id}), 400)
    assert_error(
        service.put("/Schedules/x", json={"PipelineId": published.id, "Recurrence": {"Frequency": "Day"}}), 400
    )
    assert_error(service.put("/Schedules/x", json={"PipelineId": published.id, "Recurrence": daily,
                                                   "Request": {"ParameterAssignments": []}}), 400)
    assert_error(service.put("/Schedules/x", json={"PipelineId": published.id, "Recurrence": daily},
                             roles=["Pipelines.Read"]), 403, "Forbidden")
    assert service.call("DELETE", "/Schedules/daily").status_code == 200
    assert_error(service.get("/Schedules/daily"), 404, "NotFound")


def test_sdk_v1_keys_are_read_and_what_a_schedule_here_cannot_do_is_a_400(service, workspace, tmp_path) -> None:
    published = publish(workspace, make.parameters_echo(tmp_path / "code", {"pipeline_arg": 10}), "p")
    hourly = {"Frequency": "Hour", "Interval": 1}

    def create(**body: object) -> httpx.Response:
        return service.post("/Schedules/Create", json={"Name": "sdk", "PipelineId": published.id, **body})

    # a datastore schedule (SDK v1's Schedule.create(datastore=...)) is refused, naming the way that works here
    polled = assert_error(create(ScheduleType="1", DataStoreTriggerInfo={"DataStoreName": "blobs"}), 400)
    assert polled["Error"]["Details"][0]["Target"] == "ScheduleType" and "EventTriggers" in polled["Error"]["Message"]
    assert_error(create(Recurrence=hourly, DataStoreTriggerInfo={"DataStoreName": "blobs"}), 400)
    # times of day go with a Day or Week recurrence, one of each
    for times in ({"Hours": [1]}, {"Minutes": [5]}):
        refused = assert_error(create(Recurrence={**hourly, "Schedule": times}), 400)
        assert refused["Error"]["Details"][0]["Target"].startswith("Recurrence.Schedule"), refused
    two = assert_error(create(Recurrence={"Frequency": "Day", "Interval": 1, "Schedule": {"Hours": [1, 13]}}), 400)
    assert two["Error"]["Details"][0]["Target"] == "Recurrence.Schedule"
    days = assert_error(create(Recurrence={"Frequency": "Day", "Interval": 1,
                                           "Schedule": {"Hours": [1], "WeekDays": ["Monday"]}}), 400)
    assert days["Error"]["Details"][0]["Target"] == "Recurrence.Schedule.WeekDays"
    for name in (None, "has space", 7):
        named = {"Name": name} if name is not None else {}
        nameless = assert_error(service.post("/Schedules/Create", json={
            **named, "PipelineId": published.id, "Recurrence": hourly}), 400)
        assert nameless["Error"]["Target"] == "Name", nameless
    assert_error(service.get("/Schedules?activeOnly=maybe"), 400)
    assert service.get("/Schedules").json() == []  # nothing was written by any of them
    # PipelineSubmissionInfo is Request under SDK v1's name, checked as it is
    bad = assert_error(create(Recurrence=hourly, PipelineSubmissionInfo={"ParameterAssignments": []}), 400)
    assert bad["Error"]["Details"][0]["Target"].startswith("PipelineSubmissionInfo"), bad
    made = create(Recurrence={"Frequency": "Week", "Interval": 1, "StartTime": "2026-01-31T09:00:00",
                              "Schedule": {"Hours": [6], "Minutes": [30], "WeekDays": ["2"]}},
                  PipelineSubmissionInfo={"ExperimentName": "from-sdk", "ParameterAssignments": {"pipeline_arg": "3"},
                                          "RunSource": "SDK", "ScheduleId": "another"})
    assert made.status_code == 200, made.text
    entity = made.json()
    assert entity["Id"] == "sdk" and entity["ScheduleType"] == "Recurrence"
    assert entity["ProvisioningStatus"] == "Completed"
    assert entity["Recurrence"]["StartTime"] == "2026-02-04T06:30:00+00:00"  # the first Wednesday 06:30 from then
    assert entity["Request"]["ExperimentName"] == "from-sdk" == entity["PipelineSubmissionInfo"]["ExperimentName"]
    # sent back as it is, the answer is read silently; with its SDK v1 copy changed, that copy is said unread
    assert "x-ms-ignored-keys" not in service.put("/Schedules/sdk", json=entity).headers
    edited = {**entity, "PipelineSubmissionInfo": {**entity["PipelineSubmissionInfo"], "ExperimentName": "x"}}
    assert service.put("/Schedules/sdk", json=edited).headers["x-ms-ignored-keys"] == "PipelineSubmissionInfo"
    assert service.get("/Schedules/sdk").json()["Request"]["ExperimentName"] == "from-sdk"
    # its runs: none yet, and an unknown schedule has none to give
    assert service.get("/PipelineRuns/Schedule/sdk").json() == []
    last = service.get("/PipelineRuns/Schedule/sdk/Last")
    assert last.status_code == 200 and last.json() is None
    assert_error(service.get("/PipelineRuns/Schedule/nope"), 404, "NotFound")
    assert_error(service.get("/PipelineRuns/Schedule/nope/Last"), 404, "NotFound")


def test_a_schedules_runs_say_it_started_them_whatever_its_request_says(service, workspace, tmp_path) -> None:
    from pipelines.schedules.service import Schedules
    from pipelines.store import get_account

    published = publish(workspace, make.parameters_echo(tmp_path / "code", {"pipeline_arg": 10}), "p")
    start = datetime.now(UTC) - timedelta(minutes=1)
    every_5 = {"Frequency": "Minute", "Interval": 5, "StartTime": start.isoformat()}
    service.put("/Schedules/claims", json={
        "PipelineId": published.id, "Recurrence": every_5,
        "Request": {"ExperimentName": "claims", "RunSource": "SDK", "ScheduleId": "another"}})
    Schedules(get_account()).fire_due(start + timedelta(minutes=5, seconds=1))
    Schedules(get_account()).fire_due(start + timedelta(minutes=10, seconds=1))
    runs = service.get(f"/PipelineRuns/Pipeline/{published.id}").json()
    assert [(r["RunSource"], r["ScheduleId"]) for r in runs] == [("Schedule", "claims")] * 2
    assert [r["Id"] for r in service.get("/PipelineRuns/Schedule/claims").json()] == [r["Id"] for r in runs]
    assert service.get("/PipelineRuns/Schedule/claims/Last").json()["Id"] == runs[0]["Id"]  # newest first
    paged = service.get("/PipelineRuns/Schedule/claims?top=1")
    assert [r["Id"] for r in paged.json()] == [runs[0]["Id"]] and paged.headers["x-ms-continuation"]
    # a run submitted as if the schedule had started it is not the schedule's
    submitted = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}",
                             json={"ExperimentName": "by-hand", "RunSource": "Schedule", "ScheduleId": "claims"})
    assert submitted.status_code == 200, submitted.text
    assert len(service.get("/PipelineRuns/Schedule/claims").json()) == 2
    # a schedule made again under the name has no runs of the one deleted
    again = service.get("/Schedules/claims").json()
    assert service.call("DELETE", "/Schedules/claims").status_code == 200
    assert service.put("/Schedules/claims", json=again).status_code == 200
    assert service.get("/PipelineRuns/Schedule/claims").json() == []
    assert service.get("/PipelineRuns/Schedule/claims/Last").json() is None


def test_a_schedule_and_a_trigger_say_who_created_them_and_who_wrote_them_last(service, workspace, tmp_path) -> None:
    published = publish(workspace, make.single(tmp_path / "code", "print(1)\n"), "p")
    alice = {"Authorization": "Bearer " + devissuer.mint(ALL_ROLES, object_id="0a11ce00-0000-4000-8000-000000000001",
                                                          name="Alice")}
    bob = {"Authorization": "Bearer " + devissuer.mint(ALL_ROLES, object_id="0b0b0000-0000-4000-8000-000000000002",
                                                        name="Bob")}
    bodies = {
        "/Schedules/nightly": {"PipelineId": published.id, "Recurrence": {"Frequency": "Day", "Interval": 1}},
        "/EventTriggers/arrivals": {"PipelineId": published.id, "EventTypes": ["Microsoft.Storage.BlobCreated"]},
    }
    for path, body in bodies.items():
        created = httpx.put(service.ws + path, json=body, headers=alice, timeout=60).json()
        assert created["CreatedBy"] == created["LastModifiedBy"] == {
            "UserObjectId": "0a11ce00-0000-4000-8000-000000000001", "UserTenantId": devissuer.DEV_TENANT_ID,
            "UserName": "Alice"}, path
        # Bob writes it again, sending back the answer as he read it (its author keys are ignored, not refused).
        rewritten = httpx.put(service.ws + path, json={**created, "Description": "by Bob"}, headers=bob, timeout=60)
        assert rewritten.status_code == 200 and "x-ms-ignored-keys" not in rewritten.headers, rewritten.text
        read = service.get(path).json()
        assert read["Description"] == "by Bob"
        assert read["CreatedBy"]["UserName"] == "Alice" and read["LastModifiedBy"] == {
            "UserObjectId": "0b0b0000-0000-4000-8000-000000000002", "UserTenantId": devissuer.DEV_TENANT_ID,
            "UserName": "Bob"}, path
        # A body cannot claim another author: the keys come from the token only.
        forged = {**read, "LastModifiedBy": {"UserObjectId": "x", "UserName": "Mallory"}}
        assert httpx.put(service.ws + path, json=forged, headers=alice, timeout=60).status_code == 200
        assert service.get(path).json()["LastModifiedBy"]["UserName"] == "Alice", path


# -- no silent skips ----------------------------------------------------------------------------------------
def test_a_schedule_request_is_checked_at_put_as_a_submit_checks_it(service, workspace, tmp_path) -> None:
    published = publish(workspace, make.parameters_echo(tmp_path / "code", {"pipeline_arg": 10}), "p")
    daily = {"Frequency": "Day", "Interval": 1}

    def put(request: dict[str, object]) -> dict[str, object]:
        body = assert_error(service.put("/Schedules/checked", json={
            "PipelineId": published.id, "Recurrence": daily, "Request": request}), 400)
        return body["Error"]

    error = put({"ParameterAssignments": {"pipeline_arg": "abc", "nope": 1}})
    assert error["Code"] == "InvalidParameter"
    assert {d["Target"] for d in error["Details"]} == {"ParameterAssignments.pipeline_arg", "ParameterAssignments.nope"}
    near = put({"ParamAssignments": {"pipeline_arg": 1}})
    assert near["Target"] == "Request.ParamAssignments" and "'ParameterAssignments'" in near["Message"]
    # a placeholder means nothing in a schedule's request: it is checked as the text it is
    assert put({"ParameterAssignments": {"pipeline_arg": "{data.n}"}})["Code"] == "InvalidParameter"
    assert service.put("/Schedules/checked", json={
        "PipelineId": published.id, "Recurrence": daily, "Request": {"ParameterAssignments": {"pipeline_arg": "7"}},
    }).status_code == 200


def test_a_skipped_fire_time_is_recorded_once_and_a_later_run_too(service, workspace, tmp_path) -> None:
    import concurrent.futures

    from pipelines.client import PipelineEndpoint
    from pipelines.schedules.service import Schedules
    from pipelines.store import get_account

    # GIVEN an endpoint and a schedule that sets its parameter
    first = publish(workspace, make.parameters_echo(tmp_path / "one", {"pipeline_arg": 10}), "one")
    second = publish(workspace, make.parameters_echo(tmp_path / "two", {"other": 10}), "two")
    endpoint = PipelineEndpoint.publish(workspace, "front", None, first)
    start = datetime.now(UTC) - timedelta(minutes=1)
    created = service.put("/Schedules/every-5", json={
        "PipelineEndpointName": "front",
        "Recurrence": {"Frequency": "Minute", "Interval": 5, "StartTime": start.isoformat()},
        "Request": {"ParameterAssignments": {"pipeline_arg": 7}},
    }).json()
    assert (created["SkippedCount"], created["LastError"], created["LastRunId"]) == (0, None, None)
    # WHEN its endpoint's default changes to a pipeline without that parameter, and three instances fire it
    endpoint.add_default(second)
    due = start + timedelta(minutes=5)
    schedules = Schedules(get_account())  # one instance: its clients are made before the threads start
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: schedules.fire_due(due + timedelta(seconds=1)), range(3)))
    # THEN the schedule says why that fire time started nothing, once, naming the key
    skipped = service.get("/Schedules/every-5").json()
    assert skipped["SkippedCount"] == 1 and skipped["LastRunId"] is None
    error = skipped["LastError"]
    assert error["Code"] == "InvalidParameter" and error["EventId"] is None
    assert [d["Target"] for d in error["Details"]] == ["ParameterAssignments.pipeline_arg"]
    assert "'pipeline_arg' is not a parameter of this pipeline" in error["Message"]
    assert datetime.fromisoformat(error["FireTime"]) == due == datetime.fromisoformat(skipped["LastFiredTime"])
    # WHEN the default is set back and the next fire time comes
    endpoint.set_default_version("0")
    Schedules(get_account()).fire_due(due + timedelta(minutes=5, seconds=1))
    # THEN its run is recorded, and the error stays as history
    [run] = service.get(f"/PipelineRuns/Pipeline/{first.id}").json()
    fired = service.get("/Schedules/every-5").json()
    assert fired["LastRunId"] == run["Id"] and fired["SkippedCount"] == 1 and fired["LastError"] == error
    assert datetime.fromisoformat(fired["LastFiredTime"]) == due + timedelta(minutes=5)
    # AND a PUT keeps what its firings recorded
    kept = service.put("/Schedules/every-5", json={**fired, "Description": "changed"}).json()
    assert (kept["LastRunId"], kept["SkippedCount"], kept["LastError"]) == (run["Id"], 1, error)
    assert kept["Description"] == "changed" and kept["LastFiredTime"] == fired["LastFiredTime"]
