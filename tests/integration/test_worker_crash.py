"""A worker killed with SIGKILL in the middle of a step: the run still finishes.

Two development hosts run as real processes against the test's Azurite. The
first is killed while its step runs; the step's child process dies with it
(the launcher watches its parent). A second host's sweeper finds the step's
lease expired and queues it again; the run finishes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pipelines.client import Workspace, publish
from pipelines.devhost.azurite import free_port
from tests import pipelines_for_tests as make
from tests.service import ROOT, Service, token


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
    raise AssertionError("the host did not start: " + log.read_text())


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_worker_does_not_strand_the_run(storage_env, azurite, tmp_path: Path) -> None:
    env = {**os.environ, **storage_env, "PIPELINES_DEV_ISSUER": "true", "PIPELINES_STEP_LEASE_SECONDS": "3",
           "PIPELINES_WORK_DIR": str(tmp_path / "work")}
    marker, pid_file = tmp_path / "marker", tmp_path / "pid"
    first, base = start_host(env, azurite, tmp_path / "first.log")
    second = None
    try:
        workspace = Workspace(base_url=base, name="ws1", token_provider=lambda: token())
        pipeline = make.single(tmp_path / "code", f"""
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
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
