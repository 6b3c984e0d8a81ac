"""A host SIGKILLed mid-step and mid-commit while a second host runs: every run finishes,
and quickly, with the default lease.

Each round: host A, the only one running, takes every run's `work` step; host B starts;
one run's script is told to end and marks `end` as its last statement, and the test kills
A (SIGKILL of its process group) the moment it sees that script's process exit, so the
script has exited but its result is most likely not recorded (mid-commit; a step's whole
turnover takes about 10 ms, so the kill may also land after the commit, and `after` may then
start on A and die with it); the other runs' scripts are still running
(mid-step) and die with their host. B finishes every run, and is host A of the next
round. Recovery time: from the kill to the last of those runs finished. The lease is the
default one (no PIPELINES_STEP_LEASE_SECONDS).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.reliability import scripts
from tests.reliability.conftest import Cluster
from tests.reliability.harness import (
    FIGURES,
    FINISHED,
    RECOVERY_LIMIT_SECONDS,
    RUN_ENDED,
    Api,
    HostProcess,
    Scale,
    publish,
    start_host,
    wait_runs,
)
from tests.reliability.marks import (
    Mark,
    check_attempts,
    execution_spread,
    executions,
    read_marks,
    started,
    wait_marks,
)
from tests.workers import alive

SCENARIO = "host SIGKILL"


def test_runs_finish_after_their_host_is_killed(
    hosts: Callable[[], Cluster], reliability_scale: Scale, tmp_path: Path, timed: Callable[[str], None]
) -> None:
    timed(SCENARIO)
    marker = tmp_path / "marks.jsonl"
    cluster = hosts()
    survivor: HostProcess | None = None  # the host that finished the last round's runs
    pipeline_id = ""
    recoveries: list[float] = []
    finals: dict[str, int] = {}
    commit_runs: list[str] = []
    kill_lags_ms: list[int] = []  # from the script's last statement to the host's death
    victims: list[int] = []  # the killed hosts' pids
    for round_number in range(1, reliability_scale.kill_rounds + 1):
        release = tmp_path / f"release-{round_number}"
        if survivor is None:
            survivor = start_host(cluster.env, cluster.azurite, tmp_path / "host-0.log")
            cluster.hosts.append(survivor)  # stopped at the end if the test fails before the kill
        victim = survivor
        api = Api(victim.base_url)
        if not pipeline_id:
            pipeline_id = publish(api, scripts.killable(tmp_path / "code", marker), "kill")
        held = [api.submit_ok(pipeline_id, {"mode": "hold"}) for _ in range(reliability_scale.kill_held_runs)]
        committing = api.submit_ok(pipeline_id, {"mode": "commit", "release": str(release)})
        runs = [*held, committing]
        # GIVEN every `work` step running on host A, and host B up
        marks = wait_marks(marker, started(runs, every=True), timeout=60)
        assert all(victim.pid in m.ancestors for m in marks if m.run in runs), "a step ran elsewhere than on host A"
        survivor = start_host(cluster.env, cluster.azurite, tmp_path / f"host-{round_number}.log")
        cluster.hosts.append(survivor)

        # WHEN one script ends and its host dies the moment the script's process exits
        commit_pid = next(m.pid for m in marks if m.run == committing and m.phase == "start")
        release.write_text("go")
        wait_exited(commit_pid, timeout=30)
        killed_wall = time.time()
        victim.kill()
        killed_at = time.monotonic()
        victims.append(victim.pid)
        end = wait_ended(marker, committing, timeout=5)  # it did run its last statement
        kill_lags_ms.append(round((killed_wall - end.t) * 1000))

        # THEN the held scripts die with their host, and host B finishes every run
        script_pids = [m.pid for m in marks if m.run in held]
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in script_pids):
            assert time.monotonic() < deadline, "a step outlived its host"
            time.sleep(0.05)
        final, _ = wait_runs(Api(survivor.base_url), runs, timeout=240)
        recoveries.append(round(time.monotonic() - killed_at, 1))
        finals.update(final)
        commit_runs.append(committing)
        FIGURES.record(SCENARIO, recovery_s=max(recoveries), recoveries_s=list(recoveries),
                       kill_after_end_mark_ms=list(kill_lags_ms),
                       stranded=sum(1 for s in finals.values() if s not in RUN_ENDED))
        assert all(status in RUN_ENDED for status in final.values()), (round_number, final)

    assert survivor is not None
    watcher = Api(survivor.base_url)
    all_runs = list(finals)
    executed = executions(read_marks(marker))
    statuses = {run_id: watcher.steps(run_id) for run_id in all_runs}
    work_runs = {run_id: len(m) for (run_id, _), m in executed.items() if m[0].name == "work"}
    after_runs = {run_id: len(m) for (run_id, _), m in executed.items() if m[0].name == "after"}
    # The mid-commit kill landed in its window when the committed script ran again.
    in_window = sum(1 for run_id in commit_runs if work_runs.get(run_id, 0) > 1)
    # ... and whether its lost attempt says the script had exited (`ScriptExitTime`).
    exit_recorded = sum(
        1 for run_id in commit_runs for status in statuses[run_id].values() if status.get("Name") == "work"
        and any(a.get("Outcome") == "Lost" and a.get("ScriptExitTime") for a in status.get("Attempts") or [])
    )
    FIGURES.record(
        SCENARIO, runs=len(all_runs), executions=execution_spread(len(m) for m in executed.values()),
        mid_commit_kills_in_window=f"{in_window}/{len(commit_runs)}",
        lost_attempts_with_script_exit_time=f"{exit_recorded}/{len(commit_runs)}", non_2xx=watcher.non_2xx(),
    )
    check = check_attempts(SCENARIO, executed, statuses)

    assert all(status == FINISHED for status in finals.values()), finals
    assert set(after_runs) == set(all_runs), after_runs
    # `after` ran once, or more only when the kill came after `work`'s commit and caught `after`
    # on the killed host: every execution but the last ran there.
    for (run_id, _), found in executed.items():
        if found[0].name == "after" and len(found) > 1:
            assert run_id in commit_runs, (run_id, after_runs)
            assert all(set(m.ancestors) & set(victims) for m in found[:-1]), found
    assert all(n == 2 for run_id, n in work_runs.items() if run_id not in commit_runs), work_runs
    assert check.unrecorded in (None, 0), check.details
    assert max(recoveries) <= RECOVERY_LIMIT_SECONDS, recoveries


def wait_exited(pid: int, timeout: float) -> None:
    """Return the moment process `pid` has exited (a zombie counts), looking without a pause:
    the step's turnover after it is a few milliseconds."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        assert time.monotonic() < deadline, f"the script {pid} did not exit within {timeout}s"


def wait_ended(marker: Path, run_id: str, timeout: float) -> Mark:
    """The `end` mark of a run's first execution, seen as soon as it is written."""
    marks = wait_marks(marker, lambda found: any(m.run == run_id and m.phase == "end" for m in found),
                       timeout=timeout, interval=0.002)
    return next(m for m in marks if m.run == run_id and m.phase == "end")
