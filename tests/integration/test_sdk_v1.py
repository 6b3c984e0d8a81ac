"""The real Azure ML SDK v1, azureml-core and azureml-pipeline-core 1.60.0 from PyPI, against the
local host: the calls migrating code makes (tests/sdkv1/driver.py), from the SDK's own venv
(`make sdkv1`; a missing venv fails, never skips)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipelines.client import PipelineEndpoint, Workspace, publish
from tests import pipelines_for_tests as make
from tests.service import ROOT, Service, token

SDK_PYTHON = ROOT / ".venv-sdkv1" / "bin" / "python"
DRIVER = ROOT / "tests" / "sdkv1" / "driver.py"


def test_sdk_v1_publishes_nothing_but_submits_follows_and_cancels_runs_as_against_azure_ml(
    service: Service, workspace: Workspace, tmp_path: Path
) -> None:
    if not SDK_PYTHON.is_file():
        pytest.fail("the SDK v1 venv is missing: `make sdkv1` makes it (make test does)", pytrace=False)
    # GIVEN a two-step pipeline behind an endpoint, another behind none, and one whose step waits
    scoring = publish(workspace, make.scoring(tmp_path / "scoring"), "Scoring", None, "1.0")
    endpoint = PipelineEndpoint.publish(workspace, "sdk-endpoint", None, scoring)
    spare = publish(workspace, make.scoring(tmp_path / "spare"), "Spare", None, "1.0")
    held = publish(workspace, make.held(tmp_path / "held", tmp_path / "never"), "Held", None, "1.0")
    setup = {"pipeline": scoring.id, "endpoint": "sdk-endpoint", "spare": spare.id, "held": held.id,
             "workspace": service.workspace, "subscription": "00000000-0000-0000-0000-000000000000",
             "resource_group": "rg"}
    (tmp_path / "setup.json").write_text(json.dumps(setup))
    (tmp_path / "token").write_text(token())
    # WHEN the SDK does what migrating code does
    done = subprocess.run([str(SDK_PYTHON), str(DRIVER), service.base_url, str(tmp_path / "token"),
                           str(tmp_path / "setup.json")], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
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
    # AND the endpoint is found by name, listed, and runs its default
    assert seen["endpoint"] == {"id": endpoint.id, "default_version": "0"}
    assert "sdk-endpoint" in seen["endpoints"] and seen["endpoint_pipelines"] == [scoring.id]
    assert seen["endpoint_final"] == "Finished"
    # AND a pipeline is disabled and enabled again, and a waiting run is canceled
    assert (seen["disabled"], seen["enabled"]) == ("Disabled", "Active")
    assert seen["canceled"] == "Canceled"
    assert service.get(f"/PipelineRuns/{seen['held']}").json()["Status"]["StatusCode"] == 4
