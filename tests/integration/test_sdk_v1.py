"""The real Azure ML SDK v1, azureml-core and azureml-pipeline-core 1.60.0 from PyPI, against the
local host: the calls migrating code makes (tests/sdkv1/driver.py), from the SDK's own venv
(`make sdkv1`; a missing venv fails, never skips)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from pipelines.client import PipelineEndpoint, Workspace, publish
from tests import pipelines_for_tests as make
from tests.service import ROOT, Service, assert_error, token

SDK_PYTHON = ROOT / ".venv-sdkv1" / "bin" / "python"
DRIVER = ROOT / "tests" / "sdkv1" / "driver.py"
SCHEDULES = ROOT / "tests" / "sdkv1" / "schedules.py"


def sdk(argv: list[str], cwd: Path) -> dict[str, Any]:
    """Run an SDK v1 script with the SDK's venv; what it printed last, as JSON."""
    if not SDK_PYTHON.is_file():
        pytest.fail("the SDK v1 venv is missing: `make sdkv1` makes it (make test does)", pytrace=False)
    done = subprocess.run([str(SDK_PYTHON), *argv], capture_output=True, text=True, timeout=600, cwd=cwd)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]
    return cast(dict[str, Any], json.loads(done.stdout.strip().splitlines()[-1]))


def setup_file(service: Service, tmp_path: Path, **names: str) -> list[str]:
    """The host, token and setup file arguments of a script."""
    setup = {**names, "workspace": service.workspace, "subscription": "00000000-0000-0000-0000-000000000000",
             "resource_group": "rg"}
    (tmp_path / "setup.json").write_text(json.dumps(setup))
    (tmp_path / "token").write_text(token())
    return [service.base_url, str(tmp_path / "token"), str(tmp_path / "setup.json")]


def test_sdk_v1_publishes_nothing_but_submits_follows_and_cancels_runs_as_against_azure_ml(
    service: Service, workspace: Workspace, tmp_path: Path
) -> None:
    # GIVEN a two-step pipeline behind an endpoint, another behind none, and one whose step waits
    scoring = publish(workspace, make.scoring(tmp_path / "scoring"), "Scoring", None, "1.0")
    endpoint = PipelineEndpoint.publish(workspace, "sdk-endpoint", None, scoring)
    spare = publish(workspace, make.scoring(tmp_path / "spare"), "Spare", None, "1.0")
    held = publish(workspace, make.held(tmp_path / "held", tmp_path / "never"), "Held", None, "1.0")
    where = setup_file(service, tmp_path, pipeline=scoring.id, endpoint="sdk-endpoint", spare=spare.id,
                       held=held.id)
    # WHEN the SDK does what migrating code does
    seen = sdk([str(DRIVER), *where], tmp_path)
    # THEN each of its objects is made, and reads what the service holds
    assert seen["published"] == {"id": scoring.id, "name": "Scoring", "status": "Active"}
    assert {scoring.id, spare.id, held.id} <= set(seen["listed"])
    run_id = seen["details"]["runId"]
    assert seen["final"] == "Finished" and seen["status"] == "Finished"
    assert seen["details"]["status"] == "Completed"  # run history's word for it
    assert seen["steps"] == ["score", "train"]
    assert seen["score"]["status"] == "Finished" and seen["score"]["outputs"] == ["predictions"]
    assert "scored 200 rows" in seen["score"]["stdout"] and seen["score"]["job_log"]
    assert seen["output"]["datastore"] == "workspaceartifactstore"
    assert seen["output"]["path"].endswith("/predictions") and run_id in seen["output"]["path"]
    # AND run history gives the run back as a PipelineRun, with its steps as StepRuns
    assert (run_id, "PipelineRun") in [tuple(pair) for pair in seen["experiment_runs"]]
    assert run_id in seen["run_list"] and seen["children"] == ["score", "train"]
    assert len(seen["found_step"]) == 1 and seen["found_step"][0].startswith(run_id + "_")
    assert seen["file_names"] == [] and "sdk-v1" in seen["experiments"]  # the logs are in the details
    # AND the run takes tags, a property and a name, and is found by its tag
    assert seen["marked"] == {"tags": {"approved": "true"}, "release": "42", "display_name": "nightly 42"}
    assert seen["tagged"] == [run_id]
    # AND the endpoint is found by name, listed, and runs its default
    assert seen["endpoint"] == {"id": endpoint.id, "default_version": "0"}
    assert "sdk-endpoint" in seen["endpoints"] and seen["endpoint_pipelines"] == [scoring.id]
    assert seen["endpoint_final"] == "Finished"
    # AND a pipeline is disabled and enabled again, and a waiting run is canceled
    assert (seen["disabled"], seen["enabled"]) == ("Disabled", "Active")
    assert seen["canceled"] == "Canceled"
    # AND an experiment is tagged, archived (listed as such only) and reactivated
    archived = seen["archived"]
    assert archived["time"] and archived["tags"] == {"owner": "forecast"}
    assert "sdk-v1-cancel" not in archived["active"] and "sdk-v1-cancel" in archived["archived"]
    assert "sdk-v1-cancel" in seen["reactivated"] and seen["untagged"] == {}
    assert service.get(f"/PipelineRuns/{seen['held']}").json()["Status"]["StatusCode"] == 4


def test_sdk_v1_schedules_are_created_read_listed_changed_and_give_their_runs(
    service: Service, workspace: Workspace, tmp_path: Path
) -> None:
    from pipelines.schedules.service import Schedules
    from pipelines.store import get_account

    # GIVEN a pipeline behind an endpoint
    scoring = publish(workspace, make.scoring(tmp_path / "scoring"), "Scoring", None, "1.0")
    endpoint = PipelineEndpoint.publish(workspace, "sdk-scheduled", None, scoring)
    where = setup_file(service, tmp_path, pipeline=scoring.id, endpoint_id=endpoint.id)
    # WHEN SDK v1 creates an hourly schedule of the pipeline and a nightly one of the endpoint, and changes them
    before = datetime.now(UTC)
    seen = sdk([str(SCHEDULES), "write", *where], tmp_path)
    after = datetime.now(UTC)
    # THEN each is made as the SDK asked, and read back by its id, its name
    assert seen["created"] == {
        "id": "sdk-hourly", "name": "sdk-hourly", "status": "Active", "description": "scores every hour",
        "pipeline_id": scoring.id, "pipeline_endpoint_id": None, "frequency": "Hour", "interval": 1,
        "start_time": "2026-01-01T00:00:00+00:00"}
    assert seen["got"] == seen["created"] and seen["last_before"] is None
    # AND the nightly one fires at 22:30 UTC (its `time_of_day`), from the next 22:30 on
    assert seen["nightly"]["pipeline_endpoint_id"] == endpoint.id and seen["nightly"]["frequency"] == "Day"
    nightly_start = datetime.fromisoformat(seen["nightly"]["start_time"])
    assert (nightly_start.hour, nightly_start.minute) == (22, 30)
    assert before <= nightly_start <= after + timedelta(days=1)
    # AND the same name again is a 409 that names the way to change it, and changes nothing
    assert "'sdk-hourly' exists" in seen["again"] and "Schedule.update" in seen["again"]
    again = service.post("/Schedules/Create", json={
        "Name": "sdk-hourly", "PipelineId": scoring.id, "Recurrence": {"Frequency": "Minute", "Interval": 1}})
    assert assert_error(again, 409, "UserError")["Error"]["Target"] == "Name"
    # AND update, disable and enable change what is stored, and lists filter as the SDK asks
    assert seen["updated"]["description"] == "scores every two hours" and seen["updated"]["interval"] == 2
    assert seen["disabled"] == "Disabled" and seen["enabled"] == "Active"
    assert seen["active"] == ["sdk-hourly"] and seen["all"] == ["sdk-hourly", "sdk-nightly"]
    assert seen["for_pipeline"] == ["sdk-hourly"] and seen["for_endpoint"] == ["sdk-nightly"]
    stored = service.get("/Schedules/sdk-hourly").json()
    assert stored["Request"]["ExperimentName"] == "sdk-v1-scheduled"  # kept through the SDK's update
    # WHEN the hourly schedule's next fire time comes (two hours at most away)
    Schedules(get_account()).fire_due(datetime.now(UTC).replace(minute=0, second=1) + timedelta(hours=2))
    started = service.get("/Schedules/sdk-hourly").json()["LastRunId"]
    assert started
    # THEN SDK v1 finds its run, as the last and among the schedule's runs
    ran = sdk([str(SCHEDULES), "runs", *where], tmp_path)
    assert ran["last"] == {"id": started, "experiment": "sdk-v1-scheduled", "status": "Finished"}
    assert ran["runs"] == [started]
