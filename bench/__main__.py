"""`python -m bench [--json]`: figures of the local host on Azurite (issues 4 and 5).

1. Endpoint lookup with 10 and 10,000 published pipelines (over HTTP and bare).
2. Submit latency, POST PipelineSubmit of a 1-step pipeline, at 1 and 16 clients.
3. The storage floor of that submit (the same storage calls, bare SDK), and the ratio.
4. Step hand-off and run throughput for a linear pipeline of trivial steps, with
   the worker's own timings of where a step's time goes.
5. Run history: `runs/{id}/details` and `runs:query` with 10 and 10,000 runs in
   the experiment (issue 9).
6. Cold start: `import function_app` in fresh interpreters (issue 14).
7. Step reuse: a fully reused 5-step run, submit to Finished, no process started (issue 15).
8. Compute targets: 8 concurrent 5-step runs on 1, 2 and 4 standalone workers (issue 16).
9. One storage call's cost to its client: azure-core's requests session vs the app's (issue 14).

Everything runs on this machine: one Azurite (in memory), the development host
in a child process (phase A without its queue worker, phase B with it, each
with its own name prefix), the load generator here. Progress goes to stderr;
the figures to stdout. Exit 0 when every phase completed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import breakdown, calls, coldstart, handoff, history, lookup, memory, reuse, submit, targets, timeline
from bench.fixtures import Api, linear, one_step
from bench.report import Section, render_json, render_table
from bench.stack import (
    HostConfig,
    HostProcess,
    polling_seconds,
    project_host_json,
    storage_env,
    use_in_this_process,
    with_polling_interval,
)
from pipelines.client import PipelineEndpoint
from pipelines.devhost import azurite as azurite_mod

WORKSPACE = "bench"
HISTORY_WORKSPACE = "bench-history"
ENDPOINT = "bench-endpoint"


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    parser.add_argument("--sizes", type=_ints, default=(10, 10_000), help="catalogue sizes for figure 1")
    parser.add_argument("--lookup-samples", type=int, default=200, help="lookups per size and kind")
    parser.add_argument("--history-sizes", type=_ints, default=(10, 10_000), help="runs in the experiment, figure 5")
    parser.add_argument("--history-samples", type=int, default=100, help="reads per size and kind, figure 5")
    parser.add_argument("--submits", type=int, default=200, help="timed submits per concurrency setting")
    parser.add_argument("--concurrency", type=_ints, default=(1, 16), help="client counts for figures 2-3")
    parser.add_argument("--steps", type=int, default=5, help="length of the linear pipeline of figure 4")
    parser.add_argument("--runs", type=int, default=12, help="runs one at a time for the hand-off figure")
    parser.add_argument(
        "--concurrent-runs", type=int, default=8, help="runs at once for the throughput figure (0: none)"
    )
    parser.add_argument("--slow-runs", type=int, default=3, help="runs one at a time with 2-3 s steps (0: none)")
    parser.add_argument("--slow-step-seconds", type=float, default=2.0, help="shortest sleep of a slow step")
    parser.add_argument(
        "--tcp-nodelay",
        action="store_true",
        help="preview the development host with TCP_NODELAY on its connections (see bench/previews.py)",
    )
    parser.add_argument(
        "--chain-steps",
        action="store_true",
        help="preview a worker that runs a finished step's successor itself (see bench/previews.py)",
    )
    parser.add_argument(
        "--fresh-interpreter",
        action="store_true",
        help="figure 4 with steps that ask for a fresh interpreter (fresh_interpreter=True), not a warm fork",
    )
    parser.add_argument(
        "--polling",
        type=float,
        action="append",
        metavar="SECONDS",
        help="run figure 4 with this extensions.queues.maxPollingInterval (repeatable; default: host.json's)",
    )
    parser.add_argument("--cold-starts", type=int, default=5, help="fresh interpreters importing the app, figure 6")
    parser.add_argument("--storage-calls", type=int, default=300,
                        help="calls of each kind per session and round, figure 9")
    parser.add_argument("--reuse-runs", type=int, default=50, help="fully reused runs one at a time, figure 7")
    parser.add_argument("--target-workers", type=_ints, default=(1, 2, 4), help="standalone worker counts, figure 8")
    parser.add_argument("--target-step-seconds", type=float, default=0.5, help="each step's sleep, figure 8")
    parser.add_argument(
        "--skip", default="",
        help="comma list of phases to skip: catalogue (1-3, 5), worker (4), coldstart (6), reuse (7), targets (8), "
        "calls (9)",
    )
    return parser.parse_args(argv)


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def catalogue_phase(args: argparse.Namespace, connection: str, tmp: Path) -> list[Section]:
    """Figures 1-3, against a host serving HTTP only."""
    env = storage_env(connection, tmp)
    use_in_this_process(env)
    config = HostConfig(
        env, project_host_json(), worker=False, log_path=tmp / "host-http.log", tcp_nodelay=args.tcp_nodelay
    )
    with HostProcess(config) as host:
        api = Api(host.base_url, WORKSPACE)
        published = api.publish(one_step(tmp / "code-one-step"), "bench-one-step")
        PipelineEndpoint.publish(api.workspace, ENDPOINT, None, published)
        progress(f"figure 1: endpoint lookup at {', '.join(f'{s:,}' for s in args.sizes)} pipelines")
        sections = [lookup.measure(api, published.id, ENDPOINT, args.sizes, args.lookup_samples)]
        progress(f"figures 2-3: {args.submits} submits and floor calls at {args.concurrency} clients")
        sections.append(submit.measure(api, published.id, args.concurrency, args.submits))
        # A workspace of its own: the submits above left hundreds of runs waiting in "bench".
        reader = Api(host.base_url, HISTORY_WORKSPACE)
        pipeline = reader.publish(one_step(tmp / "code-history"), "bench-history")
        progress(f"figure 5: run history at {', '.join(f'{s:,}' for s in args.history_sizes)} runs")
        sections.append(history.measure(reader, pipeline.id, args.history_sizes, args.history_samples))
    return sections


def worker_phase(args: argparse.Namespace, connection: str, tmp: Path, polling: float | None) -> list[Section]:
    """Figure 4 and the worker's probes, against the whole app."""
    env = storage_env(connection, tmp)
    use_in_this_process(env)
    host_json = project_host_json()
    label = f"host.json maxPollingInterval {host_json['extensions']['queues']['maxPollingInterval']}"
    if polling is not None:
        host_json = with_polling_interval(host_json, polling)
        label = f"maxPollingInterval {host_json['extensions']['queues']['maxPollingInterval']}"
    if args.chain_steps:
        label += ", steps chained (preview)"
    if args.fresh_interpreter:
        label += ", fresh_interpreter=True"
    probe_path = tmp / f"probes-{env['PIPELINES_NAME_PREFIX']}.json"
    config = HostConfig(
        env, host_json, worker=True, log_path=tmp / "host-worker.log", probe_path=probe_path,
        tcp_nodelay=args.tcp_nodelay, chain_steps=args.chain_steps,
    )
    with HostProcess(config) as host:
        api = Api(host.base_url, WORKSPACE)
        published = api.publish(linear(tmp / "code-chain", args.steps, args.fresh_interpreter), "bench-chain")
        progress(f"figure 4 ({label}): {args.runs} runs one at a time")
        sequential, walls = handoff.execute_one_at_a_time(
            api, published.id, args.steps, args.runs, tmp / f"stamps-{env['PIPELINES_NAME_PREFIX']}",
            polling_seconds(host_json),
        )
    # The probes cover those runs alone; the runs under load go to a host of their own (the same app).
    probes: dict[str, Any] = json.loads(probe_path.read_text(encoding="utf-8"))
    progress(f"figure 4 ({label}): {args.concurrent_runs} runs at once, {args.slow_runs} with slow steps")
    loaded = HostConfig(env, host_json, worker=True, log_path=tmp / "host-load.log", tcp_nodelay=args.tcp_nodelay,
                        chain_steps=args.chain_steps)
    with HostProcess(loaded) as host:
        together, slow = handoff.execute_under_load(
            Api(host.base_url, WORKSPACE), published.id, args.steps, args.concurrent_runs, args.slow_runs,
            args.slow_step_seconds,
        )
    outcome = handoff.Outcome(sequential, together, walls, slow, args.slow_step_seconds)
    progress(f"figure 4c: the worker's memory with {memory.WIDTH} steps running")
    wide = HostConfig(env, memory.host_json_for(host_json), worker=True, log_path=tmp / "host-memory.log")
    with HostProcess(wide) as host:
        footprint = memory.measure(Api(host.base_url, WORKSPACE), host.pid, tmp)
    return [
        handoff.section(outcome, args.steps, label),
        breakdown.section(probes, f"4b. Where a step's time goes: worker probes ({label}, the runs one at a time)"),
        timeline.section([h for run in sequential for h in run.script_windows], probes.get("spans", [])),
        footprint,
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    skip = set(args.skip.split(",")) - {""}
    started = time.monotonic()
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="pipelines-bench-") as folder:
        tmp = Path(folder)
        progress("starting Azurite")
        # In memory, unlike the tests' (tests/conftest.py): on disk Azurite writes its whole table
        # store every 5 s and every request waits for that, which the 10,000 runs of the catalogue
        # phase make take 300-480 ms (a p95 of the hand-off of 80 ms instead of 60). The in-memory
        # store's own stall (its once-a-minute deletion of consumed queue messages) grows with the
        # messages consumed, and the bench consumes a few hundred.
        emulator = azurite_mod.start(log_path=str(tmp / "azurite.log"))
        try:
            if "catalogue" not in skip:
                sections += catalogue_phase(args, emulator.connection_string, tmp)
            if "worker" not in skip:
                for polling in args.polling or [None]:
                    sections += worker_phase(args, emulator.connection_string, tmp, polling)
            if "coldstart" not in skip:
                progress(f"figure 6: import function_app in {args.cold_starts} fresh interpreters")
                sections.append(coldstart.measure(args.cold_starts))
            if "reuse" not in skip:
                progress(f"figure 7: {args.reuse_runs} fully reused {args.steps}-step runs")
                sections.append(reuse.measure(emulator.connection_string, tmp, args.steps, args.reuse_runs,
                                              tmp / "host-reuse.log"))
            if "targets" not in skip:
                progress(f"figure 8: {args.concurrent_runs or 8} runs on {args.target_workers} standalone workers")
                target_env = storage_env(emulator.connection_string, tmp)
                use_in_this_process(target_env)
                sections.append(targets.measure(target_env, tmp, WORKSPACE, args.target_workers,
                                                args.concurrent_runs or 8, args.target_step_seconds))
            if "calls" not in skip:
                progress(f"figure 9: {args.storage_calls} storage calls of each kind per session and round")
                sections.append(calls.measure(emulator.connection_string, args.storage_calls))
        finally:
            emulator.stop()
    elapsed = time.monotonic() - started
    config = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "seconds": round(elapsed, 1),
        **{k: v for k, v in vars(args).items() if k != "json"},
    }
    if args.json:
        print(render_json(sections, config))
    else:
        header = [
            (
                f"python -m bench: {config['when']}, {config['cpus']} CPUs, Python {config['python']}, "
                f"{config['platform']}, took {elapsed:.0f}s"
            ),
            "local development host (child process) + Azurite in memory; latencies in ms"
            + ("; PREVIEW: host with TCP_NODELAY" if args.tcp_nodelay else "")
            + ("; PREVIEW: steps chained" if args.chain_steps else ""),
        ]
        print(render_table(sections, header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
