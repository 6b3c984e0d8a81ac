"""Figure 7 (issue 15): a fully reused 5-step run, from submit to Finished.

A linear pipeline of trivial steps runs once; then the same request is submitted again,
one at a time: every step's reuse key is in the index, so each run is written Finished
by the submit itself (no queue message, no worker, no process). The figure is the
client's submit latency, the run's Finished answer included; the run's own times say the
same (CreationTime = EndTime). Each step script appends a line to a stamps file: the
file keeps the first run's lines only, or the phase fails.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.fixtures import FINISHED, Api, linear, run_entity, submit
from bench.handoff import wait_ended
from bench.report import Row, Section
from bench.stack import HostConfig, HostProcess, project_host_json, storage_env, use_in_this_process
from bench.stats import Summary

WORKSPACE = "bench-reuse"


def measure(connection: str, tmp: Path, length: int, runs: int, log_path: Path) -> Section:
    env = storage_env(connection, tmp)
    use_in_this_process(env)
    config = HostConfig(env, project_host_json(), worker=True, log_path=log_path)
    stamps = tmp / f"reuse-stamps-{env['PIPELINES_NAME_PREFIX']}.txt"
    with HostProcess(config) as host:
        api = Api(host.base_url, WORKSPACE)
        published = api.publish(linear(tmp / "code-reuse", length), "bench-reuse")
        parameters = {"stamps": str(stamps)}
        with api.client() as client:
            first = submit(client, published.id, parameters, reuse=True)
            if wait_ended(client, [first], timeout=300)[first]["Status"]["StatusCode"] != FINISHED:
                raise RuntimeError(f"the first run {first} did not finish")
            executed = len(stamps.read_text(encoding="utf-8").splitlines())
            latencies, server = [], []
            for _ in range(runs):
                started = time.perf_counter()
                run_id = submit(client, published.id, parameters, reuse=True)
                latencies.append(time.perf_counter() - started)
                entity = run_entity(client, run_id)
                status = entity["Status"]
                if status["StatusCode"] != FINISHED or entity.get("ReusedStepCount") != length:
                    raise RuntimeError(f"run {run_id} was not created Finished with every step reused: {status}")
                server.append(status["CreationTime"] == status["EndTime"])
        started_again = len(stamps.read_text(encoding="utf-8").splitlines()) - executed
    if started_again:
        raise RuntimeError(f"{started_again} step processes started in runs that should have reused every step")
    section = Section(f"7. Step reuse (issue 15): a fully reused {length}-step linear run")
    section.add(Row(f"submit -> Finished, every step reused ({length} steps)", Summary.of_seconds(latencies),
                    note=f"{runs} runs one at a time; {sum(server)}/{runs} created Finished (CreationTime = EndTime)"))
    section.add(Row("step processes started by those runs", value=float(started_again), unit="processes"))
    section.notes += [
        "the first run executed every step; each later identical submit looks each step's key up (top-down:"
        " a step's key needs its parent's output digest) and writes the run Finished in the submit's own"
        " transaction: no queue message, no worker, no process"
    ]
    return section
