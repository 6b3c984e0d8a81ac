"""Sixteen clients submitting for a while, each with a token of its own, and reading back
runs it submitted: every accepted run finishes. 429 and 503 are allowed (and counted);
any other 5xx, or a call left without an answer, fails the scenario."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.reliability import scripts
from tests.reliability.conftest import Cluster
from tests.reliability.harness import (
    FIGURES,
    FINISHED,
    RUN_ENDED,
    Api,
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

SCENARIO = "16-client load"


def test_every_accepted_run_finishes_under_load(
    cluster: Cluster, reliability_scale: Scale, tmp_path: Path, timed: Callable[[str], None]
) -> None:
    timed(SCENARIO)
    marker = tmp_path / "marks.jsonl"
    pipeline_id = publish(cluster.api(0), scripts.quick(tmp_path / "code", marker), "load")
    # Half the clients talk to each host, as a load balancer would spread them.
    clients = [cluster.api(i % len(cluster.hosts)) for i in range(reliability_scale.load_clients)]
    accepted: list[list[str]] = [[] for _ in clients]
    deadline = time.monotonic() + reliability_scale.load_seconds

    def client(index: int) -> None:
        api, mine, rng = clients[index], accepted[index], random.Random(index)
        while time.monotonic() < deadline:
            response = api.submit(pipeline_id)
            if response is not None and response.status_code == 200:
                mine.append(str(response.json()["Id"]))
            if mine:  # as clients do: look at a run submitted earlier
                api.call("GET", f"/PipelineRuns/{rng.choice(mine)}")
            time.sleep(reliability_scale.load_pause_seconds * rng.uniform(0.5, 1.5))

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run_ids = [run_id for mine in accepted for run_id in mine]
    submitted_s = time.monotonic() - started
    watcher = Api(cluster.hosts[0].base_url)
    final, waited = wait_runs(watcher, run_ids, timeout=120 + 0.5 * len(run_ids))

    non_2xx: dict[str, int] = {}
    for api in clients:
        for code, count in api.non_2xx().items():
            non_2xx[code] = non_2xx.get(code, 0) + count
    requests = sum(sum(api.statuses.values()) + api.no_answer for api in clients)
    executed = executions(read_marks(marker))
    stranded = sum(1 for s in final.values() if s not in RUN_ENDED)
    FIGURES.record(
        SCENARIO, runs=len(run_ids), executions=execution_spread(len(m) for m in executed.values()),
        stranded=stranded, non_2xx=non_2xx, requests=requests,
        submits_per_s=round(len(run_ids) / submitted_s, 1), drained_after_s=round(waited, 1),
    )
    statuses = {run_id: watcher.steps(run_id) for run_id in run_ids}
    check = check_attempts(SCENARIO, executed, statuses)

    unexpected = [line for api in clients for line in api.unexpected]
    assert not unexpected, unexpected[:10]
    assert run_ids, "no submit was accepted"
    assert stranded == 0 and all(s == FINISHED for s in final.values()), {
        r: s for r, s in final.items() if s != FINISHED}
    assert len(executed) == len(run_ids) and {len(m) for m in executed.values()} == {1}
    assert check.unrecorded in (None, 0), check.details
