"""Figure 8: throughput of a compute target's standalone workers (issue 16).

A target `t1` whose steps run in standalone worker processes (`pipelines worker --target t1`,
each `--concurrency 1`); the local host serves HTTP only. 8 runs of a 5-step linear pipeline on
t1 are submitted at once, with 1, 2 and 4 workers in turn; each step sleeps `--target-step-seconds`
(the work a worker waits on), so what scales is how many steps run at once, until Azurite or the
2 cores saturate. Throughput is runs a minute from the first submit to the last run ended; the
ratio is against 1 worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from bench.fixtures import Api, submit
from bench.handoff import wait_ended
from bench.report import Row, Section
from bench.stack import HostConfig, HostProcess, project_host_json
from pipelines.authoring import Pipeline, PipelineData, PythonScriptStep
from pipelines.devhost.azurite import ROOT

TARGET = "t1"
LENGTH = 5


def chain(folder: Path, seconds: float) -> Pipeline:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "work.py").write_text(textwrap.dedent(f"""
        import pathlib, sys, time
        time.sleep({seconds})
        pathlib.Path(sys.argv[sys.argv.index("--out") + 1], "done.txt").write_text("ok")
    """))
    outputs = [PipelineData(f"out{i}") for i in range(LENGTH)]
    steps = []
    for i, output in enumerate(outputs):
        arguments: list[Any] = ["--out", output]
        inputs = []
        if i:
            arguments += ["--inp", outputs[i - 1]]
            inputs.append(outputs[i - 1])
        steps.append(PythonScriptStep("work.py", name=f"s{i}", arguments=arguments, inputs=inputs,
                                      outputs=[output], source_directory=folder, compute_target=TARGET))
    return Pipeline(steps=steps)


def _workers(count: int, env: dict[str, str], tmp: Path) -> list[subprocess.Popen[bytes]]:
    started = []
    for index in range(count):
        log = open(tmp / f"worker-{count}-{index}.log", "ab")  # noqa: SIM115 - the child owns it
        started.append(subprocess.Popen(
            [sys.executable, "-m", "pipelines", "worker", "--target", TARGET, "--health-port", "0",
             "--concurrency", "1"],
            cwd=ROOT, env={**os.environ, **env, "PIPELINES_WORK_DIR": str(tmp / f"w{count}-{index}")},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))
        log.close()
    return started


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for process in workers:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in workers:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def measure(env: dict[str, str], tmp: Path, workspace: str, counts: tuple[int, ...], runs: int,
            seconds: float) -> Section:
    section = Section(f"8. Compute target throughput (issue 16): {runs} concurrent {LENGTH}-step runs on "
                      f"standalone workers, steps of {seconds:g} s")
    config = HostConfig(env, project_host_json(), worker=False, log_path=tmp / "host-targets.log")
    with HostProcess(config) as host:
        api = Api(host.base_url, workspace)
        with api.client() as client:
            client.put(f"/ComputeTargets/{TARGET}", json={"Description": "bench"}).raise_for_status()
        published = api.publish(chain(tmp / "code-targets", seconds), "bench-targets")
        base: float | None = None
        for count in counts:
            workers = _workers(count, env, tmp)
            try:
                with api.client() as client:
                    started = time.monotonic()
                    batch = [submit(client, published.id) for _ in range(runs)]
                    wait_ended(client, batch, timeout=600)
                    wall = time.monotonic() - started
            finally:
                _stop(workers)
            rate = runs / wall * 60
            base = base or rate
            section.add(Row(f"{count} worker{'s' if count > 1 else ''}", value=rate, unit="runs/min",
                            note=f"{wall:.1f}s; {rate / base:.2f} x 1 worker (linear: {count:.2f} x)"))
    section.notes.append("each worker takes one step at a time and runs a run's next step itself (the same "
                         "queue), so runs spread over workers; the host here serves HTTP only")
    return section
