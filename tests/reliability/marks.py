"""Step scripts of the fault suite and the marker lines they leave, and the check that every
execution they show is an attempt the service recorded.

A step script appends one JSON line per phase (`start`, `end`, ...) to a marker file with
its run, node, attempt (from `Run.get_context()`), pid and its ancestors' pids, so a test counts
real executions independently of what the service records.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.reliability.harness import FIGURES

# -- step scripts and their marker lines ---------------------------------------------------------------

MARK = textwrap.dedent(
    """
    import argparse, json, os, pathlib, signal, subprocess, sys, time
    from pipelines.runtime import Run

    CONTEXT = Run.get_context()

    def ancestors():
        found, pid = [], os.getppid()
        while pid > 1 and len(found) < 16:
            found.append(pid)
            pid = int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        return found

    def mark(marker, phase, **extra):
        line = json.dumps({
            "run": CONTEXT.id, "node": CONTEXT.step["id"], "name": CONTEXT.step["name"],
            "attempt": CONTEXT.step["attempt"], "phase": phase, "pid": os.getpid(), "ancestors": ancestors(),
            "t": time.time(), **extra,
        })
        descriptor = os.open(marker, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, (line + "\\n").encode())  # one write: lines never interleave
        finally:
            os.close(descriptor)

    def executions_before(marker):
        try:
            lines = pathlib.Path(marker).read_text().splitlines()
        except FileNotFoundError:
            return 0
        mine = [json.loads(x) for x in lines if x.strip()]
        return sum(1 for m in mine if m["run"] == CONTEXT.id and m["node"] == CONTEXT.step["id"]
                   and m["phase"] == "start")
    """
)


def write_script(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(MARK + textwrap.dedent(body), encoding="utf-8")


@dataclass(frozen=True)
class Mark:
    run: str
    node: str
    name: str
    attempt: int
    phase: str
    pid: int
    ancestors: list[int]  # the script's parent, its parent, ...: the host process is one of them
    t: float
    extra: dict[str, Any]


def read_marks(marker: Path) -> list[Mark]:
    if not marker.exists():
        return []
    found = []
    text = marker.read_text(encoding="utf-8")
    for line in text[: text.rfind("\n") + 1].splitlines():  # a line still being written waits
        if not line.strip():
            continue
        value = json.loads(line)
        core = {k: value.pop(k) for k in ("run", "node", "name", "attempt", "phase", "pid", "ancestors", "t")}
        found.append(Mark(**core, extra=value))
    return found


def executions(marks: Iterable[Mark]) -> dict[tuple[str, str], list[Mark]]:
    """The `start` lines of each (run, node): one per real execution of its script."""
    found: dict[tuple[str, str], list[Mark]] = {}
    for mark in marks:
        if mark.phase == "start":
            found.setdefault((mark.run, mark.node), []).append(mark)
    return found


def execution_spread(counts: Iterable[int]) -> str:
    """'1' when every step ran once; else the histogram, e.g. '1×10 2×1'."""
    histogram = Counter(counts)
    if not histogram:
        return "0"
    if set(histogram) == {1}:
        return "1"
    return " ".join(f"{times}×{steps}" for times, steps in sorted(histogram.items()))


def started(runs: Iterable[str], *, every: bool) -> Callable[[list[Mark]], bool]:
    """A `wait_marks` condition: every one (or any one) of `runs` has a step that started."""
    wanted = set(runs)

    def condition(marks: list[Mark]) -> bool:
        seen = {m.run for m in marks if m.phase == "start"} & wanted
        return seen == wanted if every else bool(seen)

    return condition


def wait_marks(marker: Path, predicate: Callable[[list[Mark]], bool], timeout: float,
               interval: float = 0.05) -> list[Mark]:
    deadline = time.monotonic() + timeout
    while True:
        marks = read_marks(marker)
        if predicate(marks):
            return marks
        if time.monotonic() > deadline:
            raise AssertionError(f"marker condition not met within {timeout}s: {marks}")
        time.sleep(interval)


# -- attempts: every execution must be one ---------------------------------------------------------------


@dataclass
class AttemptCheck:
    unrecorded: int
    details: list[str]


def unrecorded_executions(
    executed: Mapping[tuple[str, str], list[Mark]], statuses: Mapping[str, Mapping[str, Any]]
) -> AttemptCheck:
    """Executions seen in the marker files that no entry of the step's `Attempts` accounts for.

    For each step: per attempt number, executions beyond the entries of that number, and in
    total, executions beyond the number of entries; the larger of the two counts.
    `statuses` maps run id → the answer of `.../Graph/AllNodes/Status` (node id → status).
    """
    missing = [f"{run_id}/{node}" for run_id, nodes in statuses.items() for node, status in nodes.items()
               if "Attempts" not in status]
    assert not missing, f"step statuses without Attempts: {missing[:5]}"
    unrecorded = 0
    details = []
    for (run_id, node), runs in executed.items():
        entries = statuses.get(run_id, {}).get(node, {}).get("Attempts") or []
        recorded = Counter(int(entry["Attempt"]) for entry in entries)
        seen = Counter(mark.attempt for mark in runs)
        by_number = sum(max(0, count - recorded[number]) for number, count in seen.items())
        here = max(by_number, len(runs) - len(entries))
        if here:
            unrecorded += here
            details.append(f"{run_id}/{node}: executions at attempts {sorted(seen.elements())}, "
                           f"Attempts {[(e.get('Attempt'), e.get('Outcome'), e.get('Reason')) for e in entries]}")
    return AttemptCheck(unrecorded, details)


def check_attempts(scenario: str, executed: Mapping[tuple[str, str], list[Mark]],
                   statuses: Mapping[str, Mapping[str, Any]]) -> AttemptCheck:
    """Record the unrecorded-executions figure of a scenario; the caller asserts it is 0."""
    check = unrecorded_executions(executed, statuses)
    # How the attempts that did not end the step's story ended: "Lost/LeaseExpired", "Failed/Retry", ...
    reasons = Counter(
        f"{entry.get('Outcome')}/{entry.get('Reason')}"
        for nodes in statuses.values() for status in nodes.values() for entry in status.get("Attempts") or []
        if entry.get("Reason") or entry.get("Outcome") == "Lost"
    )
    if reasons:
        FIGURES.record(scenario, superseded_attempts=dict(sorted(reasons.items())))
    FIGURES.record(scenario, unrecorded=check.unrecorded)
    return check
