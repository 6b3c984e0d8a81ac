"""The standalone worker (`pipelines worker`) as real processes against the test's Azurite.

The local host serves the API only (no queue function: nothing of the app takes a step
off the queue), so every step runs on a standalone worker started here with the CLI. The
steps' lease is short (3 s) so that a take-over happens within the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceExistsError

from pipelines.authoring import Pipeline, PipelineData, PythonScriptStep
from pipelines.client import Workspace, publish
from tests import pipelines_for_tests as make
from tests.service import ROOT, Service, token
from tests.workers import LEASE, Worker, alive, wait_for_file


@pytest.fixture
def api(storage_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    from tests.hosting import http_only_app, running_host

    monkeypatch.setenv("PIPELINES_STEP_LEASE_SECONDS", LEASE)
    monkeypatch.setenv("PIPELINES_WORK_DIR", str(tmp_path / "host-work"))
    with running_host(http_only_app(), dev_issuer=True) as host:
        yield Service(host.base_url)


def submit(service: Service, pipeline: Pipeline, name: str) -> str:
    workspace = Workspace(base_url=service.base_url, name="ws1", token_provider=lambda: token())
    published = publish(workspace, pipeline, name)
    return str(service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"])


def attempts(service: Service, run_id: str) -> list[tuple[int, str, str | None, str | None]]:
    (status,) = service.steps(run_id).values()
    return [(a["Attempt"], a["Outcome"], a["Reason"], a["Worker"]) for a in status["Attempts"]]


def one_slow_step(folder: Path, marker: Path, pid_file: Path, first_sleep: float) -> Pipeline:
    """Attempt 1 sleeps `first_sleep` seconds, later attempts end at once; each marks start and end."""
    return make.single(folder, f"""
        from pipelines.runtime import Run
        attempt = Run.get_context().step["attempt"]
        mark({str(marker)!r}, f"start {{attempt}}")
        pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
        time.sleep({first_sleep} if attempt == 1 else 0)
        mark({str(marker)!r}, f"done {{attempt}}")
    """)


def fan_out(folder: Path, marker: Path) -> Pipeline:
    """a → (b, c) → d; b and c each sleep 1.5 s, marking when they start and end."""
    make.write(folder, "node.py", """
        p = argparse.ArgumentParser(); p.add_argument("--name"); p.add_argument("--marker")
        p.add_argument("--inp", action="append", default=[]); p.add_argument("--out")
        a = p.parse_args()
        mark(a.marker, f"{a.name} start {time.time()}")
        time.sleep(1.5 if a.name in ("b", "c") else 0)
        pathlib.Path(a.out, "value.txt").write_text(a.name)
        mark(a.marker, f"{a.name} end {time.time()}")
    """)
    outs = {n: PipelineData(f"out_{n}") for n in "abcd"}

    def step(name: str, inputs: str) -> PythonScriptStep:
        arguments: list[object] = ["--name", name, "--marker", str(marker), "--out", outs[name]]
        for upstream in inputs:
            arguments += ["--inp", outs[upstream]]
        return PythonScriptStep("node.py", name=name, arguments=arguments, inputs=[outs[u] for u in inputs],
                                outputs=[outs[name]], source_directory=folder)

    return Pipeline(steps=[step("a", ""), step("b", "a"), step("c", "a"), step("d", "bc")])


def test_a_pipeline_runs_on_the_standalone_worker_two_steps_at_once(
    api: Service, workers: list[Worker], storage_env: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    run_id = submit(api, fan_out(tmp_path / "code", marker), "fan-out")
    worker = Worker(tmp_path, "w1", "--concurrency", "2")
    workers.append(worker)
    final = api.wait_run(run_id, timeout=60)
    assert final["Status"]["StatusCode"] == 3, final
    # Every step ran once, on this worker process.
    for status in api.steps(run_id).values():
        assert [(a["Outcome"], a["Worker"]) for a in status["Attempts"]] == [("Finished", worker.id)]
    times = {tuple(line.split()[:2]): float(line.split()[2]) for line in marker.read_text().splitlines()}
    # b and c ran at the same time (concurrency 2)
    assert times["b", "start"] < times["c", "end"] and times["c", "start"] < times["b", "end"], times
    code, body = worker.health()
    assert code == 200
    assert body["status"] == "ok" and body["target"] == "app" and body["queue"] == storage_env["PIPELINES_STEPS_QUEUE"]
    assert body["running"] == 0 and body["taken"] >= 2
    assert worker.stop() == 0


def test_sigterm_lets_a_running_step_finish_within_the_grace(
    api: Service, workers: list[Worker], tmp_path: Path
) -> None:
    marker, pid_file = tmp_path / "marker", tmp_path / "pid"
    worker = Worker(tmp_path, "w1", "--grace", "30")
    workers.append(worker)
    run_id = submit(api, one_slow_step(tmp_path / "code", marker, pid_file, first_sleep=3), "graceful")
    wait_for_file(pid_file)
    os.killpg(worker.process.pid, signal.SIGTERM)
    # While it waits for its step, the probe says it is stopping.
    deadline = time.monotonic() + 5
    while (health := worker.health())[0] != 503:
        assert time.monotonic() < deadline, health
        time.sleep(0.1)
    assert health[1]["status"] == "stopping" and health[1]["running"] == 1
    assert worker.process.wait(timeout=30) == 0
    assert marker.read_text().split("\n")[:-1] == ["start 1", "done 1"]
    assert api.wait_run(run_id, timeout=10)["Status"]["StatusCode"] == 3
    assert attempts(api, run_id) == [(1, "Finished", None, worker.id)]


def test_sigterm_past_the_grace_abandons_the_step_and_another_worker_takes_it_over(
    api: Service, workers: list[Worker], tmp_path: Path
) -> None:
    """No sweeper runs here: the abandoned step's message, visible again, is what brings it back."""
    marker, pid_file = tmp_path / "marker", tmp_path / "pid"
    first = Worker(tmp_path, "w1", "--grace", "1")
    workers.append(first)
    run_id = submit(api, one_slow_step(tmp_path / "code", marker, pid_file, first_sleep=60), "abandoned")
    step_pid = int(wait_for_file(pid_file))
    second = Worker(tmp_path, "w2")
    workers.append(second)
    started = time.monotonic()
    assert first.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 15
    assert not alive(step_pid), "the abandoned step's script outlived its worker"
    final = api.wait_run(run_id, timeout=40)
    assert final["Status"]["StatusCode"] == 3, final
    assert marker.read_text().split("\n")[:-1] == ["start 1", "start 2", "done 2"]
    # Taken over by the claim of its message (not by the sweeper): the worker is presumed lost.
    assert attempts(api, run_id) == [(1, "Lost", "WorkerLost", first.id), (2, "Finished", None, second.id)]


def test_a_killed_worker_s_step_is_taken_over_by_another_worker(
    api: Service, workers: list[Worker], tmp_path: Path
) -> None:
    """The killed worker's message stays invisible: the app's sweeper (run here) queues the step again."""
    from pipelines.store import get_worker_account
    from pipelines.worker.handler import sweep

    stop = threading.Event()

    def sweeper() -> None:
        while not stop.wait(0.5):
            sweep(get_worker_account())

    marker, pid_file = tmp_path / "marker", tmp_path / "pid"
    first = Worker(tmp_path, "w1")
    workers.append(first)
    run_id = submit(api, one_slow_step(tmp_path / "code", marker, pid_file, first_sleep=60), "killed")
    step_pid = int(wait_for_file(pid_file))
    second = Worker(tmp_path, "w2")
    workers.append(second)
    thread = threading.Thread(target=sweeper, daemon=True)
    thread.start()
    try:
        first.stop(signal.SIGKILL)
        final = api.wait_run(run_id, timeout=40)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert final["Status"]["StatusCode"] == 3, final
    assert not alive(step_pid)
    assert marker.read_text().split("\n")[:-1] == ["start 1", "start 2", "done 2"]
    assert attempts(api, run_id) == [(1, "Lost", "LeaseExpired", first.id), (2, "Finished", None, second.id)]


def test_a_message_that_always_fails_ends_in_the_poison_queue_which_fails_its_step(
    api: Service, workers: list[Worker], storage_env: dict[str, str], tmp_path: Path
) -> None:
    """The two halves of poisoning: a message failing every delivery is moved to `-poison`; a
    step's message found there fails the step (as the Function app's `fail_poisoned_step` does)."""
    from pipelines.store import get_worker_account, messages

    account = get_worker_account()
    queue_name = storage_env["PIPELINES_STEPS_QUEUE"]
    queue, poison = account.queue(queue_name), account.queue(f"{queue_name}-poison")
    run_id = submit(api, one_slow_step(tmp_path / "code", tmp_path / "marker", tmp_path / "pid", 0), "poisoned")
    # GIVEN the step's message moved to the poison queue before any worker ran it ...
    (message,) = list(next(queue.receive_messages(messages_per_page=32, visibility_timeout=60).by_page()))
    with contextlib.suppress(ResourceExistsError):
        poison.create_queue()
    poison.send_message(message.content)
    queue.delete_message(message)
    # ... and, on the steps queue, a message whose handling always fails (it is no step's)
    queue.send_message(messages.encode({"not": "a step"}))
    worker = Worker(tmp_path, "w1", "--max-dequeue-count", "2", "--visibility-timeout", "0")
    workers.append(worker)
    # THEN the step is failed with the poison reason, and never ran
    final = api.wait_run(run_id, timeout=30)
    assert final["Status"]["StatusCode"] == 2, final
    (status,) = api.steps(run_id).values()
    assert "poison queue" in json.dumps(status), status
    assert not (tmp_path / "marker").exists()
    # AND the failing message was tried twice (maxDequeueCount), then moved to the poison queue, where
    # it stays (its handler fails there too, and a poison queue has no poison queue)
    deadline = time.monotonic() + 20
    while (counts := (queue.get_queue_properties().approximate_message_count,
                      poison.get_queue_properties().approximate_message_count)) != (0, 1):
        assert time.monotonic() < deadline, (
            f"the failing message never reached the poison queue alone (steps, poison: {counts});"
            f" the worker's log ends:\n{worker.log.read_text()[-4000:]}")
        time.sleep(0.2)
    log = worker.log.read_text()
    assert f"queue {queue_name}: message" in log and "failed (delivery 2)" in log and "after 2 deliveries" in log
    assert worker.stop() == 0


def test_a_worker_given_its_workspace_serves_the_target_as_the_catalogue_declares_it(
    api: Service, workers: list[Worker], storage_env: dict[str, str], tmp_path: Path
) -> None:
    queue = f"{storage_env['PIPELINES_STEPS_QUEUE']}-own-pool"
    declared = {"Queue": queue, "MaxConcurrentSteps": 2, "MaxStepTimeoutSeconds": 120}
    assert api.put("/ComputeTargets/pool", json=declared, roles=("Pipelines.Admin",)).status_code == 200
    # WHEN a worker starts for the target with its workspace THEN it serves the target's own queue, 2 at once
    worker = Worker(tmp_path, "pool", "--target", "pool", "--workspace", "ws1")
    workers.append(worker)
    code, body = worker.health()
    assert code == 200 and (body["target"], body["queue"], body["concurrency"]) == ("pool", queue, 2), body
    assert worker.stop() == 0

    # WHEN it is asked for more steps at once than the target allows, or for a target that does not exist,
    # THEN it does not start, and says why
    def refused(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "pipelines", "worker", "--health-port", "0", *args], cwd=ROOT,
                              env=dict(os.environ), capture_output=True, text=True, timeout=60)
        assert done.returncode != 0, done
        return done.stderr

    assert "MaxConcurrentSteps (2)" in refused("--target", "pool", "--workspace", "ws1", "--concurrency", "3")
    assert "'nowhere' does not exist" in refused("--target", "nowhere", "--workspace", "ws1")


def test_as_a_job_s_execution_the_worker_exits_once_the_queue_is_drained(
    api: Service, workers: list[Worker], tmp_path: Path
) -> None:
    marker, pid_file = tmp_path / "marker", tmp_path / "pid"
    run_id = submit(api, one_slow_step(tmp_path / "code", marker, pid_file, first_sleep=0), "drained")
    worker = Worker(tmp_path, "job", "--exit-when-idle", "1")
    workers.append(worker)
    assert worker.process.wait(timeout=30) == 0
    assert api.wait_run(run_id, timeout=5)["Status"]["StatusCode"] == 3
    assert attempts(api, run_id) == [(1, "Finished", None, worker.id)]
