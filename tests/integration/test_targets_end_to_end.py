"""Compute targets end to end (issue 16, "Done when"): the local host, with its own Function
worker serving the app's steps queue, and standalone worker processes (`pipelines worker
--target t1`) serving the queue of a second target `t1`, all on the test's Azurite.

Which process ran a step is told two ways: the attempt's `Worker` (`hostname:pid`; the host runs
in this test's process, so its worker id carries `os.getpid()`), and the step script's own record
of `PIPELINES_WORK_DIR`, which the host and each standalone worker set to a folder of their own.

Publishing a step whose target does not exist (a 400 naming the step and the target) is proved
through publish by tests/integration/test_compute_targets_http.py,
`test_publish_and_submit_refuse_missing_targets_and_unmet_requirements`; not repeated here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from pipelines.authoring import Pipeline, PipelineData, PythonScriptStep
from pipelines.client import Workspace, publish
from tests import pipelines_for_tests as make
from tests.service import Service
from tests.workers import LEASE, Worker, alive, wait_for_file

ADMIN = ("Pipelines.Admin",)
HOST_ID = f"{socket.gethostname()}:{os.getpid()}"  # the in-process host's Function worker


@pytest.fixture
def host_env() -> dict[str, str]:
    # The app's sweeper (run by the host's timer) judges leases by this: as short as the workers'.
    return {"PIPELINES_STEP_LEASE_SECONDS": LEASE}


@pytest.fixture
def t1(service: Service, storage_env: dict[str, str]) -> dict[str, Any]:
    response = service.put("/ComputeTargets/t1", json={"Description": "standalone workers"}, roles=ADMIN)
    assert response.status_code == 200, response.text
    target: dict[str, Any] = response.json()
    assert target["Queue"] == f"{storage_env['PIPELINES_STEPS_QUEUE']}-t1"
    return target


def start(workers: list[Worker], tmp_path: Path, name: str) -> Worker:
    worker = Worker(tmp_path, name, "--target", "t1")
    workers.append(worker)
    code, body = worker.health()
    assert code == 200 and body["target"] == "t1", body
    return worker


def submit(service: Service, workspace: Workspace, pipeline: Pipeline, name: str) -> str:
    published = publish(workspace, pipeline, name)
    response = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={})
    assert response.status_code == 200, response.text
    return str(response.json()["Id"])


def by_name(service: Service, run_id: str) -> dict[str, dict[str, Any]]:
    return {status["Name"]: status for status in service.steps(run_id).values()}


def attempts(status: dict[str, Any]) -> list[tuple[int, str, str | None, str | None]]:
    return [(a["Attempt"], a["Outcome"], a["Reason"], a["Worker"]) for a in status["Attempts"]]


def chain_script(folder: Path, records: Path) -> None:
    """node.py: reads every --inp's value.txt, writes its own (inputs + its name), and appends
    one JSON line saying who ran it (pid, parent pid, the worker's PIPELINES_WORK_DIR) to `records`."""
    make.write(folder, "node.py", f"""
        import json
        p = argparse.ArgumentParser(); p.add_argument("--name"); p.add_argument("--out")
        p.add_argument("--inp", action="append", default=[])
        a = p.parse_args()
        seen = sorted(w for f in a.inp for w in pathlib.Path(f, "value.txt").read_text().split())
        pathlib.Path(a.out, "value.txt").write_text(" ".join(seen + [a.name]))
        with open({str(records)!r}, "a") as sink:
            sink.write(json.dumps({{"name": a.name, "pid": os.getpid(), "ppid": os.getppid(), "seen": seen,
                                    "work_dir": os.environ.get("PIPELINES_WORK_DIR")}}) + "\\n")
    """)


def node(folder: Path, name: str, outs: dict[str, PipelineData], inputs: str, target: str | None) -> PythonScriptStep:
    arguments: list[object] = ["--name", name, "--out", outs[name]]
    for upstream in inputs:
        arguments += ["--inp", outs[upstream]]
    return PythonScriptStep("node.py", name=name, arguments=arguments, inputs=[outs[u] for u in inputs],
                            outputs=[outs[name]], source_directory=folder, compute_target=target)


def read_records(records: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for line in records.read_text().splitlines():
        record = json.loads(line)
        found.setdefault(record["name"], []).append(record)
    return found


def test_steps_alternating_between_the_app_and_t1_each_run_in_their_target_s_process(
    service: Service, workspace: Workspace, t1: dict[str, Any], workers: list[Worker], tmp_path: Path
) -> None:
    # GIVEN a → b@t1 → c → d@t1, each reading its parent's output, and one worker serving t1
    code, records = tmp_path / "code", tmp_path / "records.jsonl"
    chain_script(code, records)
    outs = {n: PipelineData(f"out_{n}") for n in "abcd"}
    pipeline = Pipeline(steps=[node(code, "a", outs, "", None), node(code, "b", outs, "a", "t1"),
                               node(code, "c", outs, "b", None), node(code, "d", outs, "c", "t1")])
    worker = start(workers, tmp_path, "w1")
    # WHEN it runs
    run_id = submit(service, workspace, pipeline, "alternating")
    final = service.wait_run(run_id, timeout=60)
    # THEN it finishes, each step once, in its target's process
    assert final["Status"]["StatusCode"] == 3, final
    steps = by_name(service, run_id)
    expected = {"a": HOST_ID, "b": worker.id, "c": HOST_ID, "d": worker.id}
    assert {name: attempts(s) for name, s in steps.items()} == {
        name: [(1, "Finished", None, who)] for name, who in expected.items()}
    assert worker.id != HOST_ID
    ran = read_records(records)
    assert {name: len(r) for name, r in ran.items()} == {"a": 1, "b": 1, "c": 1, "d": 1}, ran
    # the scripts themselves say where they ran: the host's work folder, or the worker's
    host_dir, worker_dir = str(tmp_path / "work"), str(tmp_path / "w1")
    assert {name: r[0]["work_dir"] for name, r in ran.items()} == {
        "a": host_dir, "b": worker_dir, "c": host_dir, "d": worker_dir}, ran
    # each read its parent's output, across the targets
    assert [ran[n][0]["seen"] for n in "abcd"] == [[], ["a"], ["a", "b"], ["a", "b", "c"]]
    assert worker.health()[1]["taken"] >= 2


def test_fan_in_across_targets_runs_the_joining_step_once_with_both_inputs(
    service: Service, workspace: Workspace, t1: dict[str, Any], workers: list[Worker], tmp_path: Path
) -> None:
    # GIVEN x (app) and y (t1) both feeding z (app)
    code, records = tmp_path / "code", tmp_path / "records.jsonl"
    chain_script(code, records)
    outs = {n: PipelineData(f"out_{n}") for n in "xyz"}
    pipeline = Pipeline(steps=[node(code, "x", outs, "", None), node(code, "y", outs, "", "t1"),
                               node(code, "z", outs, "xy", None)])
    worker = start(workers, tmp_path, "w1")
    # WHEN it runs
    run_id = submit(service, workspace, pipeline, "fan-in")
    final = service.wait_run(run_id, timeout=60)
    # THEN z ran exactly once, on the app, after both, and saw both inputs
    assert final["Status"]["StatusCode"] == 3, final
    steps = by_name(service, run_id)
    assert attempts(steps["x"]) == [(1, "Finished", None, HOST_ID)]
    assert attempts(steps["y"]) == [(1, "Finished", None, worker.id)]
    assert attempts(steps["z"]) == [(1, "Finished", None, HOST_ID)]
    ran = read_records(records)
    assert len(ran["z"]) == 1, ran
    assert ran["z"][0]["seen"] == ["x", "y"] and ran["z"][0]["work_dir"] == str(tmp_path / "work")
    assert ran["y"][0]["work_dir"] == str(tmp_path / "w1")
    # nothing runs z again later (a duplicate message, a late hand-off)
    time.sleep(2)
    assert len(read_records(records)["z"]) == 1


def test_cancel_stops_a_step_running_on_the_standalone_worker(
    service: Service, workspace: Workspace, t1: dict[str, Any], workers: list[Worker], tmp_path: Path
) -> None:
    # GIVEN a step on t1 sleeping 60 s, running on the worker
    pid_file = tmp_path / "pid"
    make.write(tmp_path / "code", "main.py", f"""
        pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
        time.sleep(60)
    """)
    pipeline = Pipeline(steps=[PythonScriptStep("main.py", name="sleeper", source_directory=tmp_path / "code",
                                                compute_target="t1")])
    worker = start(workers, tmp_path, "w1")
    run_id = submit(service, workspace, pipeline, "remote-sleeper")
    pid = int(wait_for_file(pid_file))
    assert alive(pid)
    assert worker.health()[1]["running"] == 1
    # WHEN the run is canceled through the API
    canceled_at = time.monotonic()
    assert service.call("DELETE", f"/PipelineRuns/{run_id}/Execution").status_code == 200
    final = service.wait_run(run_id, timeout=30)
    # THEN the run and the step are Canceled and the script's process is gone, as on the app (< 10 s)
    assert final["Status"]["StatusCode"] == 4, final
    deadline = canceled_at + 10
    while alive(pid):
        assert time.monotonic() < deadline, "the step's process outlived the cancel by 10 s"
        time.sleep(0.1)
    (step,) = service.steps(run_id).values()
    assert step["StatusCode"] == 5, step
    assert [(a["Attempt"], a["Worker"]) for a in step["Attempts"]] == [(1, worker.id)]
    # the worker stays up, free for the next step
    deadline = time.monotonic() + 10
    while (health := worker.health())[1].get("running") != 0:
        assert time.monotonic() < deadline, health
        time.sleep(0.1)
    assert health[0] == 200 and worker.process.poll() is None


def test_a_killed_t1_worker_s_step_is_swept_back_to_t1_and_finished_by_the_other_worker(
    service: Service, workspace: Workspace, t1: dict[str, Any], workers: list[Worker], tmp_path: Path
) -> None:
    # GIVEN two workers on t1 and a t1 step whose first attempt sleeps 60 s (later ones end at once)
    marker, pid_file = tmp_path / "marker", tmp_path / "pid"
    make.write(tmp_path / "code", "main.py", f"""
        from pipelines.runtime import Run
        attempt = Run.get_context().step["attempt"]
        mark({str(marker)!r}, f"start {{attempt}} {{os.environ.get('PIPELINES_WORK_DIR')}}")
        pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
        time.sleep(60 if attempt == 1 else 0)
        mark({str(marker)!r}, f"done {{attempt}}")
    """)
    pipeline = Pipeline(steps=[PythonScriptStep("main.py", name="slow", source_directory=tmp_path / "code",
                                                compute_target="t1")])
    pool = {w.id: w for w in (start(workers, tmp_path, "w1"), start(workers, tmp_path, "w2"))}
    run_id = submit(service, workspace, pipeline, "remote-killed")
    step_pid = int(wait_for_file(pid_file))
    # WHEN the worker holding the step (found by its attempt's Worker) is SIGKILLed
    (status,) = service.steps(run_id).values()
    [(_, outcome, _, holder_id)] = attempts(status)
    assert outcome == "Running", status
    assert holder_id in pool, (holder_id, list(pool))
    holder = pool.pop(holder_id)
    [other] = pool.values()
    holder.stop(signal.SIGKILL)
    # THEN the app's sweeper queues it again to t1's queue; the other t1 worker finishes it
    final = service.wait_run(run_id, timeout=45)
    assert final["Status"]["StatusCode"] == 3, final
    assert not alive(step_pid)
    (status,) = service.steps(run_id).values()
    assert attempts(status) == [(1, "Lost", "LeaseExpired", holder.id), (2, "Finished", None, other.id)]
    lines = marker.read_text().splitlines()
    assert lines == [f"start 1 {tmp_path / holder.log.stem}", f"start 2 {tmp_path / other.log.stem}", "done 2"]
    assert other.health()[1]["taken"] == 1
