"""A worker killed with SIGKILL in the middle of a step: the run still finishes.

Two development hosts run as real processes against the test's Azurite. The
first is killed while its step runs; the step's child process dies with it
(the launcher watches its parent). A second host's sweeper finds the step's
lease expired and queues it again as attempt 2; the run finishes, and the
step's attempts say that it ran twice.

A kill after the script exited 0 but before its result was recorded (while
its outputs upload) runs an idempotent step again, and fails a step that
declared itself not idempotent, naming why: its exit was noted on the attempt
before the upload began.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pipelines.authoring import Pipeline, PipelineData, PythonScriptStep
from pipelines.client import Workspace, publish
from pipelines.devhost.azurite import free_port
from tests import pipelines_for_tests as make
from tests.service import ROOT, Service, token
from tests.workers import alive


def start_host(env: dict[str, str], azurite, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    ports = ",".join(str(p) for p in azurite.ports)
    argv = [sys.executable, "-m", "pipelines.devhost", "--port", str(port), "--use-running-azurite",
            "--azurite-ports", ports]
    with open(log, "ab") as sink:  # the child has its own copy of the file
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        assert process.poll() is None, log.read_text()
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the caller never gets it to stop
    process.wait(timeout=30)
    raise AssertionError("the host did not start: " + log.read_text())


def test_a_killed_worker_does_not_strand_the_run(storage_env, azurite, tmp_path: Path) -> None:
    env = {**os.environ, **storage_env, "PIPELINES_DEV_ISSUER": "true", "PIPELINES_STEP_LEASE_SECONDS": "3",
           "PIPELINES_WORK_DIR": str(tmp_path / "work")}
    marker, pid_file = tmp_path / "marker", tmp_path / "pid"
    first, base = start_host(env, azurite, tmp_path / "first.log")
    second = None
    try:
        workspace = Workspace(base_url=base, name="ws1", token_provider=lambda: token())
        pipeline = make.single(tmp_path / "code", f"""
            from pipelines.runtime import Run
            mark({str(marker)!r}, "start")
            pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
            time.sleep(4)
            mark({str(marker)!r}, "done")
        """)
        published = publish(workspace, pipeline, "crash")
        run_id = Service(base).post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
        deadline = time.monotonic() + 30
        while not pid_file.exists():
            assert time.monotonic() < deadline, "the step never started"
            time.sleep(0.1)
        step_pid = int(pid_file.read_text())
        # WHEN the worker dies without any chance to clean up
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        # THEN its step dies too, soon
        deadline = time.monotonic() + 5
        while alive(step_pid):
            assert time.monotonic() < deadline, "the step outlived its worker"
            time.sleep(0.1)
        assert marker.read_text().split() == ["start"]
        # AND another worker finishes the run once the lease has expired
        second, base2 = start_host(env, azurite, tmp_path / "second.log")
        final = Service(base2).wait_run(run_id, timeout=90)
        assert final["Status"]["StatusCode"] == 3, final
        assert marker.read_text().split() == ["start", "start", "done"]
        # AND the step says it ran twice: attempt 1 lost, attempt 2 finished (its context said 2)
        (status,) = Service(base2).steps(run_id).values()
        assert status["Attempt"] == 2
        assert [(a["Attempt"], a["Outcome"], a["Reason"]) for a in status["Attempts"]] == [
            (1, "Lost", "LeaseExpired"), (2, "Finished", None)]
        assert status["Attempts"][0]["ScriptExitTime"] is None  # it died while the script ran
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)


def uploading(folder: Path, marker: Path, *, idempotent: bool) -> Pipeline:
    """A step whose script ends quickly and leaves two thousand output files to upload:
    a window of a few seconds between its exit and its recorded result."""
    make.write(folder, "main.py", f"""
        p = argparse.ArgumentParser(); p.add_argument("--out"); a = p.parse_args()
        from pipelines.runtime import Run
        for i in range(2000):
            pathlib.Path(a.out, f"part-{{i:04}}.txt").write_text("x" * 512)
        mark({str(marker)!r}, f"exit {{Run.get_context().step['attempt']}}")
    """)
    out = PipelineData("parts")
    step = PythonScriptStep("main.py", name="main", arguments=["--out", out], outputs=[out], source_directory=folder,
                            idempotent=idempotent)
    return Pipeline(steps=[step])


def kill_after_the_script_exited(
    storage_env, azurite, tmp_path: Path, *, idempotent: bool, submit: dict[str, object]
) -> tuple[dict[str, object], dict[str, object], list[str]]:
    """Kill the host once attempt 1's script exit is recorded; a second host finishes.
    Returns the run's final state, the step's status and the marker's lines."""
    env = {**os.environ, **storage_env, "PIPELINES_DEV_ISSUER": "true", "PIPELINES_STEP_LEASE_SECONDS": "3",
           "PIPELINES_WORK_DIR": str(tmp_path / "work")}
    marker = tmp_path / "marker"
    first, base = start_host(env, azurite, tmp_path / "first.log")
    second = None
    try:
        workspace = Workspace(base_url=base, name="ws1", token_provider=lambda: token())
        published = publish(workspace, uploading(tmp_path / "code", marker, idempotent=idempotent), "uploading")
        service = Service(base)
        run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json=submit).json()["Id"]
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "the script's exit was never seen"
            (status,) = service.steps(run_id).values()
            attempts = status["Attempts"]
            # A step that is not idempotent has its exit noted on the attempt before the upload;
            # an idempotent one's exit goes with its result, so the script's own line says it.
            if idempotent and marker.exists() and marker.read_text().startswith("exit 1\n"):
                time.sleep(0.2)  # into the upload of two thousand files
                (status,) = service.steps(run_id).values()
                attempts = status["Attempts"]
                break
            if attempts and attempts[0]["ScriptExitTime"]:
                break
            time.sleep(0.05)
        # WHEN the worker dies while it uploads the outputs (the result is not recorded yet)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert attempts[0]["Outcome"] == "Running", "the upload ended before the kill: the window was missed"
        second, base2 = start_host(env, azurite, tmp_path / "second.log")
        final = Service(base2).wait_run(run_id, timeout=90)
        (status,) = Service(base2).steps(run_id).values()
        return final, status, marker.read_text().split("\n")[:-1]
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)


def test_an_idempotent_step_lost_after_its_script_exited_runs_again_as_attempt_2(
    storage_env, azurite, tmp_path: Path
) -> None:
    final, status, lines = kill_after_the_script_exited(storage_env, azurite, tmp_path, idempotent=True, submit={})
    assert final["Status"]["StatusCode"] == 3, final
    assert lines == ["exit 1", "exit 2"]
    first, second = status["Attempts"]
    assert (first["Attempt"], first["Outcome"], first["Reason"]) == (1, "Lost", "LeaseExpired")
    # Nothing of the lost attempt's exit reached storage: an idempotent step's exit is recorded
    # with its result, which was never committed.
    assert first["ScriptExitTime"] is None and first["ExitCode"] is None
    assert (second["Attempt"], second["Outcome"], second["ExitCode"]) == (2, "Finished", 0)
    assert second["ScriptExitTime"] is not None


def test_a_step_that_is_not_idempotent_is_failed_rather_than_run_twice(storage_env, azurite, tmp_path: Path) -> None:
    final, status, lines = kill_after_the_script_exited(storage_env, azurite, tmp_path, idempotent=False, submit={})
    assert final["Status"]["StatusCode"] == 2, final
    assert lines == ["exit 1"]  # it ran once
    assert "not idempotent" in status["StatusDetail"]
    assert [(a["Attempt"], a["Outcome"], a["ExitCode"]) for a in status["Attempts"]] == [(1, "Lost", 0)]


def test_a_run_that_allows_reruns_runs_a_step_that_is_not_idempotent_again(
    storage_env, azurite, tmp_path: Path
) -> None:
    final, status, lines = kill_after_the_script_exited(
        storage_env, azurite, tmp_path, idempotent=False, submit={"AllowStepReruns": "true"})
    assert final["Status"]["StatusCode"] == 3, final
    assert lines == ["exit 1", "exit 2"]
    assert [(a["Attempt"], a["Outcome"]) for a in status["Attempts"]] == [(1, "Lost"), (2, "Finished")]
