"""Cancel of a run whose step started a process tree: the step's script, two children and
two grandchildren, one child and its grandchild ignoring SIGTERM. Within a few seconds
every one of them is gone and the run is Canceled."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests.reliability import scripts
from tests.reliability.conftest import Cluster
from tests.reliability.harness import (
    CANCELED,
    FIGURES,
    Scale,
    publish,
    wait_runs,
)
from tests.reliability.marks import (
    check_attempts,
    execution_spread,
    executions,
    read_marks,
    wait_marks,
)
from tests.workers import alive

SCENARIO = "cancel a process tree"
# SIGTERM to the step's process group, SIGKILL 3 s later, seen within a 1 s poll.
GONE_WITHIN_SECONDS = 6.0


def test_cancel_stops_the_whole_process_tree(
    cluster: Cluster, reliability_scale: Scale, tmp_path: Path, timed: Callable[[str], None]
) -> None:
    timed(SCENARIO)
    marker = tmp_path / "marks.jsonl"
    api = cluster.api(0)
    pipeline_id = publish(api, scripts.process_tree(tmp_path / "code", marker), "tree")
    run_ids = [api.submit_ok(pipeline_id) for _ in range(reliability_scale.cancel_runs)]
    marks = wait_marks(marker, lambda found: {m.run for m in found} >= set(run_ids), timeout=60)
    trees: dict[str, dict[str, int]] = {m.run: dict(m.extra["tree"]) for m in marks}
    assert all(alive(pid) for tree in trees.values() for pid in tree.values()), trees

    canceled_at = time.monotonic()
    for run_id in run_ids:
        api.ok("POST", f"/PipelineRuns/{run_id}/Cancel")
    left = [(role, pid) for tree in trees.values() for role, pid in tree.items()]
    gone_at: dict[str, float] = {}  # role → seconds from the cancel until the last such process was gone
    open_runs, canceled_s = set(run_ids), None
    next_poll = 0.0
    while (left or open_runs) and time.monotonic() - canceled_at < GONE_WITHIN_SECONDS + 4:
        now = time.monotonic() - canceled_at
        still = [(role, pid) for role, pid in left if alive(pid)]
        for role, _ in set(left) - set(still):
            gone_at[role] = round(now, 1)
        left = still
        if open_runs and now >= next_poll:
            open_runs = {r for r in open_runs if api.run_status(r) not in (2, 3, 4)}
            canceled_s = None if open_runs else round(time.monotonic() - canceled_at, 1)
            next_poll = now + 0.2
        time.sleep(0.05)
    waited_s = round(time.monotonic() - canceled_at, 1)
    all_gone_s = max(gone_at.values(), default=0.0) if not left else None
    for _, pid in left:  # what the service left behind: the test's own processes
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    final, _ = wait_runs(api, run_ids, timeout=40)
    if canceled_s is None:  # later than the processes' deadline (after the test killed what was left)
        canceled_s = round(time.monotonic() - canceled_at, 1)

    executed = executions(read_marks(marker))
    FIGURES.record(
        SCENARIO, runs=len(run_ids), executions=execution_spread(len(m) for m in executed.values()),
        stranded=sum(1 for s in final.values() if s not in (2, 3, 4)), non_2xx=api.non_2xx(),
        processes=sum(len(t) for t in trees.values()), left_alive=sorted({role for role, _ in left}) or 0,
        all_gone_s=all_gone_s, gone_s=gone_at, run_canceled_s=canceled_s,
    )
    check = check_attempts(SCENARIO, executed, {run_id: api.steps(run_id) for run_id in run_ids})

    assert not left, f"still alive {waited_s}s after the cancel: {left}"
    assert all_gone_s is not None and all_gone_s <= GONE_WITHIN_SECONDS, gone_at
    assert all(status == CANCELED for status in final.values()), final
    assert canceled_s <= GONE_WITHIN_SECONDS + 2, canceled_s
    assert check.unrecorded in (None, 0), check.details
