"""Compute targets over HTTP (issue 16): the catalogue's routes and roles, publish and submit
checks, and routing of a step to its target's queue.

Against the local host and Azurite. Nothing serves a target's queue here: the routing test reads
the queue on Azurite and consumes the message itself through the worker's own handler.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pipelines.authoring import Pipeline, PipelineData, PythonScriptStep
from pipelines.client import publish
from pipelines.client.workspace import ServiceError, Workspace
from pipelines.store import messages
from pipelines.store.account import get_account
from pipelines.worker.handler import handle_step_message
from tests import pipelines_for_tests as make
from tests.service import Service, assert_error

READ = ("Pipelines.Read",)
PUBLISH = ("Pipelines.Publish",)
ADMIN = ("Pipelines.Admin",)
TARGET_KEYS = {"Name", "Description", "Queue", "Image", "Packages", "MaxConcurrentSteps", "MaxStepTimeoutSeconds",
               "RunsOn", "BuiltIn", "CreatedDate", "LastModifiedDate"}


def one_step(folder: Path, *, target: str | None = None, requirements: list[str] | None = None,
             timeout: int | None = None) -> Pipeline:
    make.write(folder, "main.py", "print('ran')\n")
    return Pipeline(steps=[PythonScriptStep("main.py", name="main", source_directory=folder, compute_target=target,
                                            requirements=requirements or [], timeout_seconds=timeout)])


def refused(workspace: Workspace, pipeline: Pipeline, status: int) -> dict[str, Any]:
    try:
        publish(workspace, pipeline, "refused")
    except ServiceError as exc:
        assert exc.status == status, exc
        body: dict[str, Any] = exc.body
        return body
    raise AssertionError("the publish was accepted")


def test_targets_are_read_by_readers_written_by_admins_and_checked(service: Service, storage_env) -> None:
    steps_queue = storage_env["PIPELINES_STEPS_QUEUE"]
    # GIVEN a workspace without targets of its own: the app is listed, built in
    [app] = service.get("/ComputeTargets", roles=READ).json()
    assert set(app) == TARGET_KEYS
    assert (app["Name"], app["Queue"], app["BuiltIn"]) == ("app", steps_queue, True)
    assert "pydantic==2.14.4" in app["Packages"]
    # WHEN a reader or a publisher writes one THEN 403; an admin may
    body = {"Description": "GPU pool", "Image": "registry.example/gpu:1", "Packages": ["numpy==1.26.4", "torch"],
            "MaxConcurrentSteps": 2}
    assert_error(service.put("/ComputeTargets/gpu", json=body, roles=READ), 403, "Forbidden")
    assert_error(service.put("/ComputeTargets/gpu", json=body, roles=PUBLISH), 403, "Forbidden")
    written = service.put("/ComputeTargets/gpu", json=body, roles=ADMIN)
    assert written.status_code == 200, written.text
    gpu = written.json()
    assert gpu["Queue"] == f"{steps_queue}-gpu" and gpu["MaxConcurrentSteps"] == 2
    assert gpu["MaxStepTimeoutSeconds"] == 7200 and gpu["BuiltIn"] is False and gpu["CreatedDate"]
    # its queue exists on the account: the engine can send to it
    assert get_account().queue(gpu["Queue"]).get_queue_properties() is not None
    # replaced: the creation time is kept; an answer can be sent back as it is
    again = service.put("/ComputeTargets/gpu", json={**gpu, "Description": "GPUs"}, roles=ADMIN).json()
    assert again["CreatedDate"] == gpu["CreatedDate"] and again["Description"] == "GPUs"
    alias = service.put("/ComputeTargets/cpu-cluster", json={"runsOn": "app"}, roles=ADMIN).json()
    assert (alias["Queue"], alias["RunsOn"], alias["Packages"]) == (steps_queue, "app", [])
    listed = service.get("/ComputeTargets", roles=READ).json()
    assert [t["Name"] for t in listed] == ["app", "cpu-cluster", "gpu"]
    assert service.get("/ComputeTargets/gpu", roles=READ).json()["Description"] == "GPUs"
    assert_error(service.get("/ComputeTargets/tpu", roles=READ), 404, "NotFound")
    # WHEN bodies or names are malformed THEN 400s naming what is wrong
    bad: list[tuple[str, Any, str]] = [
        ("app", {}, "app"),
        ("GPU", {}, "name"),
        ("ends-", {}, "name"),
        ("x", {"MaxConcurrentSteps": 0}, "MaxConcurrentSteps"),
        ("x", {"MaxStepTimeoutSeconds": "7200"}, "MaxStepTimeoutSeconds"),
        ("x", {"Packages": ["numpy ==="]}, "Packages[0]"),
        ("x", {"Packages": "numpy"}, "Packages"),
        ("x", {"Queue": steps_queue}, "Queue"),
        ("x", {"Queue": "Bad_Queue"}, "Queue"),
        ("x", {"Colour": "blue"}, "Colour"),
        ("x", {"RunsOn": "gpu"}, "RunsOn"),
        ("x", {"RunsOn": "app", "Image": "x"}, "Image"),
        ("x", [], None),
    ]
    for name, payload, target in bad:
        error = assert_error(service.put(f"/ComputeTargets/{name}", json=payload, roles=ADMIN), 400)["Error"]
        assert error["Target"] == target, (name, payload, error)
    assert_error(service.call("DELETE", "/ComputeTargets/app", roles=ADMIN), 400)
    assert_error(service.call("DELETE", "/ComputeTargets/gpu", roles=READ), 403)
    deleted = service.call("DELETE", "/ComputeTargets/cpu-cluster", roles=ADMIN)
    assert deleted.json() == {"Name": "cpu-cluster", "Deleted": True}
    assert_error(service.call("DELETE", "/ComputeTargets/cpu-cluster", roles=ADMIN), 404)


def test_publish_and_submit_refuse_missing_targets_and_unmet_requirements(service, workspace, tmp_path) -> None:
    code = tmp_path / "code"
    # GIVEN no target "gpu" WHEN a step names it THEN publish is a 400 naming the step and the target
    error = refused(workspace, one_step(code, target="gpu"), 400)["Error"]
    assert "'main'" in error["Message"] and "'gpu'" in error["Message"], error
    assert error["Details"][0]["Code"] == "TargetNotFound"
    service.put("/ComputeTargets/gpu", json={"Packages": ["numpy==1.26.4", "scipy"], "MaxStepTimeoutSeconds": 600},
                roles=ADMIN)
    # WHEN a step asks for a timeout over its target's MaxStepTimeoutSeconds THEN 400 naming both
    error = refused(workspace, one_step(code, target="gpu", timeout=900), 400)["Error"]
    assert error["Details"][0]["Code"] == "TimeoutOverLimit" and error["Target"] == "steps[0].timeout_seconds", error
    assert "'main'" in error["Message"] and "'gpu'" in error["Message"] and "600" in error["Message"], error
    # WHEN a step requires what its target does not promise THEN 400
    for wanted in (["numpy>=2"], ["pandas"]):
        error = refused(workspace, one_step(code, target="gpu", requirements=wanted), 400)["Error"]
        assert error["Details"][0]["Code"] == "RequirementNotMet" and wanted[0] in error["Message"], error
    error = refused(workspace, one_step(code, requirements=["torch"]), 400)["Error"]  # the app promises no torch
    assert "'app'" in error["Message"], error
    # ... and what it promises is accepted
    on_gpu = publish(workspace, one_step(code, target="gpu", requirements=["numpy>=1.20,<2", "SciPy>=1"], timeout=600),
                     "on-gpu")  # a timeout at the limit is accepted
    publish(workspace, one_step(code, target="app", requirements=["pydantic>=2"]), "on-app")
    # WHEN the target is deleted while an enabled pipeline uses it THEN 409 naming the pipeline
    error = assert_error(service.call("DELETE", "/ComputeTargets/gpu", roles=ADMIN), 409)["Error"]
    assert on_gpu.id in error["Message"] and "on-gpu" in error["Message"], error
    assert [d["Target"] for d in error["Details"]] == [on_gpu.id]
    # once it is disabled, the target can go; a submit of it after re-enabling is a 400 naming step and target
    assert service.put(f"/Pipelines/{on_gpu.id}/status", json="Disabled").status_code == 200
    assert service.call("DELETE", "/ComputeTargets/gpu", roles=ADMIN).status_code == 200
    assert service.put(f"/Pipelines/{on_gpu.id}/status", json="Active").status_code == 200
    error = assert_error(service.post(f"/PipelineRuns/PipelineSubmit/{on_gpu.id}", json={}), 400)["Error"]
    assert "'main'" in error["Message"] and "'gpu'" in error["Message"], error


def _receive(queue_name: str, timeout: float = 30.0) -> tuple[Any, dict[str, Any]]:
    queue = get_account().queue(queue_name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in queue.receive_messages(max_messages=1, visibility_timeout=120):
            return message, messages.decode(message.content)
        time.sleep(0.2)
    raise AssertionError(f"no message reached {queue_name} in {timeout}s")


def test_a_step_on_another_target_goes_to_its_queue_and_its_worker_finishes_the_run(service, workspace,
                                                                                      tmp_path) -> None:
    # GIVEN a target t1 and a pipeline a (on the app) → b (on t1)
    t1 = service.put("/ComputeTargets/t1", json={"Description": "elsewhere"}, roles=ADMIN).json()
    code = tmp_path / "code"
    make.write(code, "step.py", """
        p = argparse.ArgumentParser(); p.add_argument("--name"); p.add_argument("--out")
        a = p.parse_args()
        print("step", a.name, "pid", os.getpid())
        if a.out:
            pathlib.Path(a.out, "v.txt").write_text(a.name)
    """)
    data = PipelineData("handed")
    first = PythonScriptStep("step.py", name="a", arguments=["--name", "a", "--out", data], outputs=[data],
                             source_directory=code)
    second = PythonScriptStep("step.py", name="b", arguments=["--name", "b"], inputs=[data], source_directory=code,
                              compute_target="t1")
    published = publish(workspace, Pipeline(steps=[first, second]), "two-targets")
    # WHEN it runs THEN a runs on the app, and b's message goes to t1's queue, where nothing takes it
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    message, payload = _receive(t1["Queue"])
    steps = {s["Name"]: s for s in service.steps(run_id).values()}
    assert (steps["a"]["StatusCode"], steps["b"]["StatusCode"]) == (4, 1), steps  # Finished, Queued
    assert payload["node"] == next(node for node, s in service.steps(run_id).items() if s["Name"] == "b")
    assert service.get(f"/PipelineRuns/{run_id}").json()["Status"]["StatusCode"] == 1  # still running
    # WHEN t1's worker (here: this test, through the worker's handler) takes the message THEN the run finishes
    outcome = handle_step_message(get_account(), payload, target_queue=t1["Queue"])
    get_account().queue(t1["Queue"]).delete_message(message)
    assert "finished" in outcome, outcome
    final = service.wait_run(run_id)
    assert final["Status"]["StatusCode"] == 3, final
    assert "step b" in service.log(run_id, payload["node"])


def test_the_client_and_the_command_line_manage_targets(host, workspace) -> None:
    from pipelines.client import ComputeTarget
    from tests.integration.test_cli import cli

    # GIVEN the client WHEN it writes a target THEN ws.compute_targets lists it after the app
    gpu = ComputeTarget.create_or_update(workspace, "gpu", image="registry.example/gpu:1", packages=["torch==2.3.0"],
                                         max_concurrent_steps=4)
    assert (gpu.name, gpu.image, gpu.packages) == ("gpu", "registry.example/gpu:1", ["torch==2.3.0"])
    assert list(workspace.compute_targets) == ["app", "gpu"] and workspace.compute_targets["app"].built_in
    # a step takes the SDK v1 compute object itself (its .name)
    assert PythonScriptStep("x.py", compute_target=gpu, source_directory=".").compute_target == "gpu"
    # WHEN the command line sets, shows, lists and deletes THEN it answers the service's JSON
    set_ = cli(host, "target", "set", "cpu-cluster", "--runs-on", "app")
    assert set_.returncode == 0, set_.stderr
    assert json.loads(set_.stdout)["RunsOn"] == "app"
    shown = json.loads(cli(host, "target", "show", "gpu").stdout)
    assert shown["MaxConcurrentSteps"] == 4
    assert [t["Name"] for t in json.loads(cli(host, "target", "list").stdout)] == ["app", "cpu-cluster", "gpu"]
    bad = cli(host, "target", "set", "gpu", "--max-concurrent-steps", "99")
    assert bad.returncode != 0 and "MaxConcurrentSteps" in bad.stderr
    assert cli(host, "target", "delete", "cpu-cluster").returncode == 0
    gpu.delete()
    assert list(workspace.compute_targets) == ["app"]
