"""Storage away while runs are in flight: Azurite stopped and started again on the same
ports with the same --location ("restart"), or frozen with SIGSTOP and thawed with
SIGCONT ("pause"). No run is stranded, and the API calls made meanwhile (reads, step
statuses, submits) answer 2xx or 503, never another 5xx.

The scenario has an Azurite of its own (in a folder, so a restart keeps the data) and
two hosts on it. It stops Azurite with SIGTERM, which lets it save its data: a SIGKILL
loses what it took in the last ~5 s (its tables are saved every 5 s), an emulator
property the app cannot help (issue 13, finding 7).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.devhost import azurite as azurite_mod
from tests.reliability import scripts
from tests.reliability.conftest import Cluster
from tests.reliability.harness import (
    FIGURES,
    FINISHED,
    RUN_ENDED,
    Api,
    Scale,
    attempts_summary,
    publish,
    wait_runs,
)
from tests.reliability.marks import (
    check_attempts,
    execution_spread,
    executions,
    read_marks,
    started,
    wait_marks,
)

SCENARIO = "storage stopped/restarted"
# After storage is back: a lost worker's step waits for its lease (15 s) and a sweep (5 s);
# a lost message for 5 leases. Past this, a run counts as stranded.
STRANDED_AFTER_SECONDS = 150.0
# A recovery slower than this gets a note naming the last run and its steps' attempts.
SLOW_RECOVERY_SECONDS = 30.0


class Storage:
    """An Azurite that the test stops and starts again, or pauses, on the same ports and folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.emulator = azurite_mod.start(location=str(folder / "data"), log_path=str(folder / "azurite.log"))

    def restart_after(self, seconds: float) -> None:
        self.emulator.stop()  # SIGTERM: Azurite saves its data and exits
        time.sleep(seconds)
        self.emulator = azurite_mod.start(ports=self.emulator.ports, location=str(self.folder / "data"),
                                          log_path=str(self.folder / "azurite.log"))

    def pause_for(self, seconds: float) -> None:
        assert self.emulator.process is not None
        os.killpg(self.emulator.process.pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.killpg(self.emulator.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.emulator.process is not None and self.emulator.process.poll() is None:
            os.killpg(self.emulator.process.pid, signal.SIGCONT)
        self.emulator.stop()


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    own = Storage(tmp_path / "azurite")
    try:
        yield own
    finally:
        own.stop()


class Prober:
    """A client calling the API all along: a run, its step statuses, the pipelines, a submit."""

    def __init__(self, api: Api, pipeline_id: str, runs: list[str]) -> None:
        self.api = api
        self.pipeline_id = pipeline_id
        self.runs = runs
        self.accepted: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _loop(self) -> None:
        rng = random.Random(7)
        while not self._stop.wait(0.25):
            run_id = rng.choice(self.runs)
            self.api.call("GET", f"/PipelineRuns/{run_id}")
            self.api.call("POST", f"/PipelineRuns/{run_id}/Graph/AllNodes/Status")
            self.api.call("GET", "/Pipelines")
            response = self.api.submit(self.pipeline_id)
            if response is not None and response.status_code == 200:
                self.accepted.append(str(response.json()["Id"]))


def test_no_run_is_stranded_when_storage_goes_away(
    storage: Storage, reliability_scale: Scale, tmp_path: Path, timed: Callable[[str], None]
) -> None:
    timed(SCENARIO)
    marker = tmp_path / "marks.jsonl"
    cluster = Cluster(storage.emulator, tmp_path)
    try:
        cluster.start(2)
        api = cluster.api(0)
        pipeline_id = publish(api, scripts.chain(tmp_path / "code", marker, length=3, sleep=1.5), "outage")
        all_runs: list[str] = []
        recoveries: list[float] = []
        finals: dict[str, int] = {}
        probe_api = Api(cluster.hosts[1].base_url)
        for number, (mode, seconds) in enumerate(reliability_scale.outages, start=1):
            # GIVEN runs in flight: steps running, and steps queued or not yet ready
            runs = []
            for _ in range(reliability_scale.outage_runs):
                runs.append(api.submit_ok(pipeline_id))
                time.sleep(0.3)
            every = reliability_scale.outage_start == "every" or (
                reliability_scale.outage_start == "mixed" and (number + 1) // 2 % 2 == 0)  # any, any, every, every, ...
            wait_marks(marker, started(runs, every=every), timeout=60)
            # WHEN storage goes away for a while, with a client calling all along
            with Prober(probe_api, pipeline_id, runs) as prober:
                if mode == "restart":
                    storage.restart_after(seconds)
                else:
                    storage.pause_for(seconds)
                back_at = time.monotonic()
                time.sleep(2)  # and a little while after it is back
            # THEN every run ends, its own and those the client submitted meanwhile
            runs += prober.accepted
            waiting_from = time.monotonic()
            ended_after: dict[str, float] = {}
            final, _ = wait_runs(api, runs, timeout=STRANDED_AFTER_SECONDS, ended_after=ended_after)
            recoveries.append(round(time.monotonic() - back_at, 1))
            if recoveries[-1] > SLOW_RECOVERY_SECONDS:  # say which run took so long, and why
                last = max(ended_after, key=ended_after.__getitem__, default=runs[-1])
                after_back = round(waiting_from - back_at + ended_after.get(last, 0.0), 1)
                FIGURES.note(f"{SCENARIO}, outage {number} ({mode} {seconds:.0f}s): run {last} ended "
                             f"{after_back}s after storage was back; {attempts_summary(api.steps(last))}")
            finals.update(final)
            all_runs += runs
            FIGURES.record(
                SCENARIO, runs=len(all_runs), stranded=sum(1 for s in finals.values() if s not in RUN_ENDED),
                recovery_s=max(recoveries),
                non_2xx=probe_api.non_2xx(), failed_runs=sum(1 for s in finals.values() if s == 2),
                recoveries_s=list(recoveries),
                **{f"outage_{number}": f"{mode} {seconds:.0f}s from {'every' if every else 'any'} run started"},
            )

        executed = executions(read_marks(marker))
        statuses = {run_id: api.steps(run_id) for run_id in all_runs}
        FIGURES.record(SCENARIO, executions=execution_spread(len(m) for m in executed.values()))
        check = check_attempts(SCENARIO, executed, statuses)
    finally:
        cluster.stop()

    assert not probe_api.unexpected, probe_api.unexpected[:10]
    stranded = {run_id: status for run_id, status in finals.items() if status not in RUN_ENDED}
    assert not stranded, stranded
    assert all(status == FINISHED for status in finals.values()), {
        run_id: (status, statuses[run_id]) for run_id, status in finals.items() if status != FINISHED}
    assert check.unrecorded in (None, 0), check.details
