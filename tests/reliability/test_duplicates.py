"""Duplicate deliveries: every step message of diamond runs is sent again, several times,
straight to the steps queue (base64 JSON, as the app sends it) at three moments: while
the step is queued or not yet ready, while it runs, and after its run ended. Every step
still executes exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from tests.reliability import scripts
from tests.reliability.conftest import Cluster
from tests.reliability.harness import (
    FIGURES,
    FINISHED,
    RUN_ENDED,
    Scale,
    publish,
    send_copies,
    steps_queue,
    wait_queue_empty,
    wait_runs,
)
from tests.reliability.marks import (
    check_attempts,
    execution_spread,
    executions,
    read_marks,
)

SCENARIO = "duplicate deliveries"


def test_duplicate_messages_run_no_step_twice(
    cluster: Cluster, reliability_scale: Scale, tmp_path: Path, timed: Callable[[str], None]
) -> None:
    timed(SCENARIO)
    copies = reliability_scale.duplicate_copies
    marker = tmp_path / "marks.jsonl"
    api = cluster.api(0)
    queue = steps_queue(cluster.env["AzureWebJobsStorage"], cluster.prefix)
    pipeline_id = publish(api, scripts.diamond(tmp_path / "code", marker, sleep=0.5), "duplicates")
    sent = {"queued": 0, "running": 0, "ended": 0}

    # While they run: every step that starts gets its message again at once (a live lease).
    stop = threading.Event()
    duplicated: set[tuple[str, str, int]] = set()

    def while_running() -> None:
        own_queue = steps_queue(cluster.env["AzureWebJobsStorage"], cluster.prefix)  # a client per thread
        while not stop.wait(0.05):
            for mark in read_marks(marker):
                if mark.phase == "start" and (mark.run, mark.node, mark.attempt) not in duplicated:
                    duplicated.add((mark.run, mark.node, mark.attempt))
                    sent["running"] += send_copies(own_queue, mark.run, mark.node, mark.attempt, copies)

    watcher = threading.Thread(target=while_running, daemon=True)
    watcher.start()
    try:
        run_ids = []
        for _ in range(reliability_scale.duplicate_runs):
            run_id = api.submit_ok(pipeline_id)
            run_ids.append(run_id)
            # Right after the submit: the root step is queued, the others not yet ready.
            for node, status in api.steps(run_id).items():
                sent["queued"] += send_copies(queue, run_id, node, int(status.get("Attempt") or 1), copies)
        final, _ = wait_runs(api, run_ids, timeout=120)
    finally:
        stop.set()
        watcher.join(timeout=10)
    # After the end: every message once more, then every delivery handled.
    statuses = {run_id: api.steps(run_id) for run_id in run_ids}
    for run_id, nodes in statuses.items():
        for node, status in nodes.items():
            sent["ended"] += send_copies(queue, run_id, node, int(status.get("Attempt") or 1), copies)
    wait_queue_empty(queue, timeout=60)

    executed = executions(read_marks(marker))
    counts = {key: len(marks) for key, marks in executed.items()}
    step_count = sum(len(nodes) for nodes in statuses.values())
    stranded = sum(1 for status in final.values() if status not in RUN_ENDED)
    FIGURES.record(SCENARIO, runs=len(run_ids), executions=execution_spread(counts.values()), stranded=stranded,
                   non_2xx=api.non_2xx(), duplicates_sent=sum(sent.values()),
                   **{f"sent_{k}": v for k, v in sent.items()})
    statuses = {run_id: api.steps(run_id) for run_id in run_ids}
    check = check_attempts(SCENARIO, executed, statuses)

    assert all(status == FINISHED for status in final.values()), final
    assert len(counts) == step_count, f"{step_count - len(counts)} steps never ran"
    assert set(counts.values()) == {1}, {key: n for key, n in counts.items() if n != 1}
    assert sent["running"] == step_count * copies, sent  # every step got its copies while it ran
    assert check.unrecorded in (None, 0), check.details
