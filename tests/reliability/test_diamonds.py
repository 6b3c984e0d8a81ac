"""Concurrent diamonds (a → b, c → d) in many runs at once, on two hosts: b and c end at
nearly the same moment in every run, so their workers race to make d ready; d runs once
per run, and sees both b's and c's outputs."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.reliability import scripts
from tests.reliability.conftest import Cluster
from tests.reliability.harness import (
    FIGURES,
    FINISHED,
    RUN_ENDED,
    Scale,
    publish,
    wait_runs,
)
from tests.reliability.marks import (
    check_attempts,
    execution_spread,
    executions,
    read_marks,
)

SCENARIO = "concurrent diamonds"


def test_the_join_step_runs_once_per_run(
    cluster: Cluster, reliability_scale: Scale, tmp_path: Path, timed: Callable[[str], None]
) -> None:
    timed(SCENARIO)
    marker = tmp_path / "marks.jsonl"
    api = cluster.api(0)
    pipeline_id = publish(api, scripts.diamond(tmp_path / "code", marker, sleep=0.2), "diamonds")
    with ThreadPoolExecutor(8) as pool:
        run_ids = list(pool.map(lambda _: api.submit_ok(pipeline_id), range(reliability_scale.diamonds)))
    final, waited = wait_runs(api, run_ids, timeout=60 + 3 * reliability_scale.diamonds)

    marks = read_marks(marker)
    executed = executions(marks)
    joins = {run_id: 0 for run_id in run_ids}
    seen_by_join = {}
    for mark in marks:
        if mark.name == "d" and mark.phase == "start":
            joins[mark.run] += 1
        if mark.name == "d" and mark.phase == "end":
            seen_by_join[mark.run] = mark.extra.get("seen")
    statuses = {run_id: api.steps(run_id) for run_id in run_ids}
    FIGURES.record(
        SCENARIO, runs=len(run_ids), executions=execution_spread(len(m) for m in executed.values()),
        stranded=sum(1 for s in final.values() if s not in RUN_ENDED), non_2xx=api.non_2xx(),
        join_executions=execution_spread(joins.values()), all_ended_s=round(waited, 1),
    )
    check = check_attempts(SCENARIO, executed, statuses)

    assert all(status == FINISHED for status in final.values()), final
    assert set(joins.values()) == {1}, {run_id: n for run_id, n in joins.items() if n != 1}
    assert all(seen == ["a", "a", "b", "c"] for seen in seen_by_join.values()), seen_by_join
    assert {len(m) for m in executed.values()} == {1} and len(executed) == 4 * len(run_ids)
    assert check.unrecorded in (None, 0), check.details
