"""Figure 4: step hand-off and run throughput, for a linear pipeline of trivial steps.

Hand-off, as issue 14 measures it: each step's script stamps `time.time()` as its
first and as its last statement into a file of its run; a hand-off is a step's
first stamp minus its parent's last (4 per run of 5 steps), script to script,
so everything between two scripts counts (exit, upload, commit, claim, staging,
spawn, interpreter start). The service's own stamps (Graph/AllNodes/Status: a
step's EndTime to its successor's StartTime) are reported beside it; in a linear
stretch the same transaction ends one step and claims the next, so they read
about 0. Runs go one at a time for hand-off, then
`concurrent` at once for throughput, then `slow_runs` one at a time whose steps
sleep 2-3 s: trivial steps finish while the queue poller is still near its
shortest interval, longer steps find it backed off to maxPollingInterval, as
real steps do.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.fixtures import FINISHED, TERMINAL, Api, run_entity, step_order, step_statuses, submit
from bench.report import Row, Section
from bench.stats import Summary

POLL_SECONDS = 0.05


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass
class RunTimes:
    created: datetime
    ended: datetime
    steps: list[tuple[datetime, datetime]]  # (start, end) in chain order
    scripts: list[tuple[float, float]] = field(default_factory=list)  # (first, last) stamps, in chain order
    submitted: float | None = None  # the client's time.time() just before the submit POST

    @property
    def trigger(self) -> float:
        """Step 0's first statement minus the client's clock before the POST (issue 14)."""
        assert self.submitted is not None and self.scripts
        return self.scripts[0][0] - self.submitted

    @property
    def submit_to_last(self) -> float:
        """The last step's last statement minus the client's clock before the POST."""
        assert self.submitted is not None and self.scripts
        return self.scripts[-1][1] - self.submitted

    @property
    def script_handoffs(self) -> list[float]:
        """A script's first statement minus its parent's last (issue 14's hand-off)."""
        return [self.scripts[i + 1][0] - self.scripts[i][1] for i in range(len(self.scripts) - 1)]

    @property
    def script_windows(self) -> list[tuple[float, float]]:
        """(a script's last statement, its successor's first), each hand-off of the run."""
        return [(self.scripts[i][1], self.scripts[i + 1][0]) for i in range(len(self.scripts) - 1)]

    @property
    def handoffs(self) -> list[float]:
        return [(self.steps[i + 1][0] - self.steps[i][1]).total_seconds() for i in range(len(self.steps) - 1)]

    @property
    def durations(self) -> list[float]:
        return [(end - start).total_seconds() for start, end in self.steps]

    @property
    def first_wait(self) -> float:
        return (self.steps[0][0] - self.created).total_seconds()

    @property
    def wall(self) -> float:
        return (self.ended - self.created).total_seconds()


def wait_ended(client: httpx.Client, run_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Poll until every run is terminal; their final entities."""
    pending, done = list(run_ids), {}
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} runs did not end within {timeout:.0f}s")
        for run_id in list(pending):
            entity = run_entity(client, run_id)
            if entity["Status"]["StatusCode"] in TERMINAL:
                done[run_id] = entity
                pending.remove(run_id)
        if pending:
            time.sleep(POLL_SECONDS)
    return done


def read_stamps(path: Path, length: int) -> list[tuple[float, float]]:
    """(first, last) of each step's script, in chain order, from the lines the scripts appended."""
    found: dict[int, tuple[float, float]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        index, first, last = line.split()
        found[int(index)] = (float(first), float(last))
    if sorted(found) != list(range(length)):
        raise RuntimeError(f"{path}: stamps of steps {sorted(found)}, expected 0..{length - 1}")
    return [found[i] for i in range(length)]


def run_times(
    client: httpx.Client, run_id: str, entity: dict[str, Any], length: int, stamps: Path | None = None
) -> RunTimes:
    if entity["Status"]["StatusCode"] != FINISHED:
        raise RuntimeError(f"run {run_id} did not finish: {entity['Status']}")
    by_name = {s["Name"]: s for s in step_statuses(client, run_id).values()}
    steps = [(_time(by_name[n]["StartTime"]), _time(by_name[n]["EndTime"])) for n in step_order(length)]
    scripts = read_stamps(stamps, length) if stamps is not None else []
    return RunTimes(_time(entity["Status"]["CreationTime"]), _time(entity["Status"]["EndTime"]), steps, scripts)


@dataclass
class Outcome:
    sequential: list[RunTimes]
    throughput_runs: list[RunTimes]
    client_walls: list[float]
    slow_runs: list[RunTimes]
    slow_seconds: float

    @property
    def throughput_wall(self) -> float:
        if not self.throughput_runs:
            return float("nan")
        first = min(r.created for r in self.throughput_runs)
        last = max(r.ended for r in self.throughput_runs)
        return (last - first).total_seconds()


def _one_at_a_time(
    client: httpx.Client,
    pipeline_id: str,
    length: int,
    runs: int,
    parameters: dict[str, Any] | None = None,
    stamps: Path | None = None,
    pause: Callable[[], float] | None = None,
) -> tuple[list[RunTimes], list[float]]:
    """`runs` runs, each submitted when the one before has ended (after `pause()` seconds,
    if given); with `stamps` (a folder), each run's scripts stamp into a file of their own."""
    times, walls = [], []
    for _ in range(runs):
        path = None
        assigned = dict(parameters or {})
        if stamps is not None:
            stamps.mkdir(parents=True, exist_ok=True)
            path = stamps / f"run-{len(list(stamps.iterdir())):03d}.txt"
            assigned["stamps"] = str(path)
        if pause is not None:
            time.sleep(pause())
        submitted = time.time()
        started = time.perf_counter()
        # Runs that stamp are submitted as callers submit (step reuse on): each has its own
        # stamps file, so no step is reused, and each pays its look-up in the reuse index.
        run_id = submit(client, pipeline_id, assigned or None, reuse=stamps is not None)
        entity = wait_ended(client, [run_id], timeout=300)[run_id]
        walls.append(time.perf_counter() - started)
        times.append(run_times(client, run_id, entity, length, path))
        times[-1].submitted = submitted
    return times, walls


def execute_one_at_a_time(
    api: Api, pipeline_id: str, length: int, runs: int, stamps: Path, polling_seconds: float, seed: int = 14
) -> tuple[list[RunTimes], list[float]]:
    """A warm-up run, then `runs` one at a time, their scripts stamping into files under
    `stamps`; before each, a seeded random pause of U(0, maxPollingInterval), so each trigger
    falls anywhere in the queue poller's cycle."""
    rng = random.Random(seed)
    with api.client() as client:
        _one_at_a_time(client, pipeline_id, length, 1)  # warm-up: snapshot download and extraction, imports
        return _one_at_a_time(
            client, pipeline_id, length, runs, stamps=stamps, pause=lambda: rng.uniform(0, polling_seconds)
        )


def execute_under_load(
    api: Api, pipeline_id: str, length: int, concurrent: int, slow_runs: int, slow_seconds: float
) -> tuple[list[RunTimes], list[RunTimes]]:
    """`concurrent` runs at once, then `slow_runs` one at a time with slow steps."""
    with api.client() as client:
        batch = [submit(client, pipeline_id) for _ in range(concurrent)]
        ended = wait_ended(client, batch, timeout=300)
        together = [run_times(client, run_id, ended[run_id], length) for run_id in batch]
        slow, _ = _one_at_a_time(client, pipeline_id, length, slow_runs, {"sleep": slow_seconds})
    return together, slow


def section(outcome: Outcome, length: int, label: str) -> Section:
    seq = outcome.sequential
    result = Section(f"4. Step hand-off and throughput, {length}-step linear pipeline, trivial steps ({label})")
    result.add(
        Row("hand-off, script to script: last statement -> next first",
            Summary.of_seconds([h for r in seq for h in r.script_handoffs]),
            note=f"{len(seq)} runs one at a time (issue 14's figure)")
    )
    result.add(
        Row("hand-off, service stamps: EndTime -> successor StartTime",
            Summary.of_seconds([h for r in seq for h in r.handoffs]))
    )
    result.add(Row("step: StartTime -> EndTime", Summary.of_seconds([d for r in seq for d in r.durations])))
    result.add(Row("trigger -> first step: client before POST -> step 0's first statement",
                    Summary.of_seconds([r.trigger for r in seq]),
                    note="a seeded U(0, maxPollingInterval) pause before each trigger (issue 14's figure)"))
    result.add(Row(f"one {length}-step run: client before POST -> last step's last statement",
                   Summary.of_seconds([r.submit_to_last for r in seq]), note="issue 14's figure"))
    result.add(Row("submit -> first step StartTime (service stamps)", Summary.of_seconds([r.first_wait for r in seq])))
    result.add(Row(f"one {length}-step run, created -> ended", Summary.of_seconds([r.wall for r in seq])))
    result.add(Row(f"one {length}-step run, client submit -> seen ended", Summary.of_seconds(outcome.client_walls),
                   note=f"polling every {POLL_SECONDS * 1000:.0f} ms"))
    together = outcome.throughput_runs
    if together:
        wall = outcome.throughput_wall
        result.add(
            Row(
                f"throughput, {len(together)} concurrent {length}-step runs",
                value=len(together) / wall * 60,
                unit="runs/min",
                note=f"{wall:.1f}s first created -> last ended",
            )
        )
        result.add(
            Row(
                f"hand-off while {len(together)} runs share the worker (service stamps)",
                Summary.of_seconds([h for r in together for h in r.handoffs]),
            )
        )
    result.notes += [
        (
            "hand-off, script to script = time.time() of a step script's first statement minus that of its"
            " parent's last (both stamped by the scripts): exit, output upload, commit and claim, staging, spawn"
            " and interpreter start, all included. The service's stamps (EndTime -> StartTime) read about 0 in a"
            " linear stretch: the worker that finishes a step claims its successor in the same transaction."
            " Steps that reach other workers (fan-out) wait for the queue poller, as submit -> first step does"
        ),
        (
            "the runs one at a time are submitted with step reuse on, as callers submit (each has its own stamps"
            " parameter, so nothing is reused and every step pays its reuse-index look-up); the runs at once and"
            " the slow runs send RegenerateOutputs, since they repeat one request"
        ),
    ]
    if outcome.slow_runs:
        slow = outcome.slow_seconds
        result.add(
            Row(
                f"hand-off after {slow:g}-{slow + 1:g} s steps",
                Summary.of_seconds([h for r in outcome.slow_runs for h in r.handoffs]),
                note=f"{len(outcome.slow_runs)} runs one at a time",
            )
        )
    return result
