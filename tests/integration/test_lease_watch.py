"""While a step runs, its worker renews the step's lease and looks for a cancel request; a
step whose lease was taken over is stopped and nothing of it is recorded.

One watcher thread serves a whole invocation (`pipelines.worker.watch.Watcher`), following
each step the invocation runs in turn. The steps are run by the production handler, in this
process, against the tests' Azurite, with a 3-second lease (renewed every second); the runs
are submitted to a host with no worker, so nothing else takes their steps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.authoring import Pipeline, PipelineData, PythonScriptStep
from pipelines.client import Workspace, publish
from pipelines.client.entities import PipelineRun
from pipelines.runs import engine
from pipelines.runs.model import StepMessage, TaskStatus
from pipelines.runs.repository import RunRepository
from pipelines.store import get_worker_account
from pipelines.vocabulary import now
from pipelines.worker import handler
from tests import pipelines_for_tests as make
from tests.hosting import http_only_app, running_host
from tests.service import token

LEASE_SECONDS = 3


@pytest.fixture(autouse=True)
def _short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINES_STEP_LEASE_SECONDS", str(LEASE_SECONDS))


@pytest.fixture(autouse=True)
def _storage(_short_lease: None, storage_env: dict[str, str]) -> None:
    """The tests' Azurite (settings read after the short lease is set)."""


def chain(folder: Path, sleep: float) -> Pipeline:
    """first → second: the first writes an output at once, the second reads it and sleeps."""
    make.write(folder, "first.py", """
        p = argparse.ArgumentParser(); p.add_argument("--out"); a = p.parse_args()
        pathlib.Path(a.out, "value.txt").write_text("ok")
    """)
    make.write(folder, "second.py", f"""
        p = argparse.ArgumentParser(); p.add_argument("--inp"); a = p.parse_args()
        pathlib.Path(a.inp, "value.txt").read_text()
        time.sleep({sleep})
    """)
    out = PipelineData("out")
    return Pipeline(steps=[
        PythonScriptStep("first.py", name="first", arguments=["--out", out], outputs=[out], source_directory=folder),
        PythonScriptStep("second.py", name="second", arguments=["--inp", out], inputs=[out],
                         source_directory=folder),
    ])


@pytest.fixture
def submitted(tmp_path: Path) -> Iterator[Callable[[float], PipelineRun]]:
    """Submit a run of `chain` (its second step sleeping that long) through a host without a worker."""
    with running_host(http_only_app(), dev_issuer=True) as host:
        workspace = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())

        def submit(sleep: float) -> PipelineRun:
            published = publish(workspace, chain(tmp_path / "code", sleep), "p", None, "1")
            return published.submit("x", {}, regenerate_outputs=True)

        yield submit


def node_of(repository: RunRepository, run_id: str, name: str) -> str:
    return next(node for node, step in repository.load("ws1", run_id).steps.items() if step.name == name)


@dataclass
class Invocation:
    """A run's first step's message handled by the production handler on a thread, which goes
    on to the second step; `seen`: the monotonic time the second step was seen running."""

    run: PipelineRun
    repository: RunRepository
    first: str
    second: str
    answers: list[str]
    thread: threading.Thread
    seen: float


def invoked(submit: Callable[[float], PipelineRun], sleep: float) -> Invocation:
    """Submit a run whose second step sleeps `sleep` seconds, handle its first step's message on
    a thread, and wait until the second step runs."""
    run = submit(sleep)
    repository = RunRepository(get_worker_account())
    first, second = node_of(repository, run.id, "first"), node_of(repository, run.id, "second")
    answers: list[str] = []
    payload = StepMessage("ws1", run.id, first, 1).to_payload()
    thread = threading.Thread(target=lambda: answers.append(handler.handle_step_message(get_worker_account(),
                                                                                       payload)))
    thread.start()
    deadline = time.monotonic() + 30
    while repository.load("ws1", run.id).steps[second].status is not TaskStatus.RUNNING:
        assert time.monotonic() < deadline, "the step never ran"
        time.sleep(0.05)
    return Invocation(run, repository, first, second, answers, thread, time.monotonic())


def test_a_step_longer_than_its_lease_keeps_it_while_it_runs(submitted: Callable[[float], PipelineRun]) -> None:
    # GIVEN a run whose second step sleeps longer than a lease, run by one invocation
    it = invoked(submitted, 2 * LEASE_SECONDS)
    # WHEN the sweeper looks for dead workers' steps once the first lease would have run out
    time.sleep(LEASE_SECONDS + 1.0)
    assert handler.sweep(get_worker_account()) >= 1
    # THEN the step was not taken over: its lease was renewed while it ran
    step = it.repository.load("ws1", it.run.id).steps[it.second]
    assert step.attempt == 1 and step.status is TaskStatus.RUNNING
    assert step.lease_until is not None and step.lease_until > now()
    assert time.monotonic() - it.seen > LEASE_SECONDS
    # AND the invocation finished both steps, each in one attempt
    it.thread.join(timeout=60)
    assert it.answers == [f"step {it.first} finished; step {it.second} finished"]
    assert [len(s.attempts) for s in it.repository.load("ws1", it.run.id).steps.values()] == [1, 1]


def test_a_step_taken_over_by_another_worker_is_stopped_and_nothing_of_it_is_recorded(
    submitted: Callable[[float], PipelineRun],
) -> None:
    # GIVEN an invocation running the second step of a run, which sleeps 60 s
    it = invoked(submitted, 60)
    # WHEN the step is taken over, as the sweeper takes over a step whose lease has run out
    lease = it.repository.lease_seconds
    it.repository.mutate("ws1", it.run.id, lambda s: (None, engine.sweep(s, now() + timedelta(minutes=5), lease)))
    # THEN the worker notices at its next renewal and stops the script
    it.thread.join(timeout=30)
    assert it.answers and it.answers[0].endswith(f"step {it.second}: lease lost")
    assert time.monotonic() - it.seen < 30
    # AND the step is the new attempt's: the stopped one recorded no result over it
    step = it.repository.load("ws1", it.run.id).steps[it.second]
    assert step.attempt == 2 and step.status is not TaskStatus.FINISHED
    assert step.attempts[0].exit_code is None


def test_a_cancel_stops_the_second_step_an_invocation_runs(submitted: Callable[[float], PipelineRun]) -> None:
    # GIVEN an invocation that finished a run's first step and runs its second, which sleeps 60 s
    it = invoked(submitted, 60)
    # WHEN the run is canceled
    it.run.cancel()
    # THEN the watcher, following the second step now, stops it within a poll or two
    it.thread.join(timeout=30)
    assert it.answers == [f"step {it.first} finished; step {it.second} canceled"]
    assert time.monotonic() - it.seen < 10
    assert it.repository.load("ws1", it.run.id).steps[it.second].status is TaskStatus.CANCELED
