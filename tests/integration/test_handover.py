"""A run's first step, claimed in the process that created the run, starts from the state the
creation wrote (pipelines/runs/handover.py): no partition read; and a run changed since its
creation is claimed from a fresh read, so the copy cannot decide anything on stale rows.
A first step without inputs is staged, and its child forked on hold, beside its claim: the
script runs in that child once the claim is made, and in none when it is not.

The runs are submitted through the development host in this process (its worker blueprint
left out, so nothing takes the message) and their first step is run by the production
handler, here, against the tests' Azurite."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pipelines.client import Workspace, publish
from pipelines.runs.model import RunStatus, StepMessage, TaskStatus
from pipelines.runs.repository import RunRepository
from pipelines.store import get_worker_account
from pipelines.worker import executor, handler
from tests import pipelines_for_tests as make
from tests.hosting import http_only_app, running_host
from tests.service import Service, token
from tests.workers import alive


@pytest.fixture(autouse=True)
def _storage(storage_env: dict[str, str]) -> None:
    """The tests' Azurite, for the host and for the handler run in this process."""


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The run ids whose partition `RunRepository.load` read (it still reads them)."""
    seen: list[str] = []
    load = RunRepository.load

    def counted(self: RunRepository, workspace: str, run_id: str) -> Any:
        seen.append(run_id)
        return load(self, workspace, run_id)

    monkeypatch.setattr(RunRepository, "load", counted)
    return seen


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The pids of the children the executor forked on hold (None: it forked none)."""
    pids: list[int | None] = []
    hold_step = executor.hold_step

    def recorded(*args: Any, **kwargs: Any) -> Any:
        child = hold_step(*args, **kwargs)
        pids.append(child.pid if child is not None else None)
        return child

    monkeypatch.setattr(executor, "hold_step", recorded)
    return pids


@contextmanager
def submitted_here(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A one-step run submitted to a host in this process without the worker (nothing takes its
    step), whose script marks `tmp_path/marker` with its pid: the host's URL, the run's id and
    its step's."""
    with running_host(http_only_app(), dev_issuer=True) as host:
        workspace = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
        pipeline = make.single(tmp_path / "code", f"mark({str(tmp_path / 'marker')!r}, str(os.getpid()))")
        run = publish(workspace, pipeline, "p", None, "1").submit("x", {})
        [node_id] = run.get_step_statuses()
        yield host.base_url, run.id, node_id


def test_the_first_claim_in_the_creating_process_reads_no_partition(tmp_path: Path, loads: list[str]) -> None:
    marker = tmp_path / "marker"
    # GIVEN a one-step run submitted to this process
    with submitted_here(tmp_path) as (_, run_id, node_id):
        account = get_worker_account()
        before = len(loads)
        # WHEN its step's message is handled here
        said = handler.handle_step_message(account, StepMessage("ws1", run_id, node_id, 1).to_payload())
        # THEN the step ran and the run finished, and the worker read the run's partition not once
        assert said == f"step {node_id} finished" and len(marker.read_text().split()) == 1
        assert loads[before:] == []
        state = RunRepository(account).load("ws1", run_id)
        assert state.run.status is RunStatus.FINISHED and state.steps[node_id].status is TaskStatus.FINISHED


def test_a_run_changed_since_its_creation_is_claimed_from_a_fresh_read(tmp_path: Path, loads: list[str]) -> None:
    marker = tmp_path / "marker"
    # GIVEN a one-step run submitted to this process, then canceled before its step is taken
    with submitted_here(tmp_path) as (base_url, run_id, node_id):
        assert Service(base_url).post(f"/PipelineRuns/{run_id}/Cancel").status_code == 200
        account = get_worker_account()
        before = len(loads)
        # WHEN its step's message is handled here
        said = handler.handle_step_message(account, StepMessage("ws1", run_id, node_id, 1).to_payload())
        # THEN the claim, refused on the state as created, read the partition and took nothing
        assert said == "nothing to do" and not marker.exists()
        assert loads[before:] == [run_id]
        state = RunRepository(account).load("ws1", run_id)
        assert state.run.status is RunStatus.CANCELED and state.steps[node_id].status is TaskStatus.CANCELED


def test_a_first_step_without_inputs_runs_in_the_child_forked_beside_its_claim(
    tmp_path: Path, held: list[int | None]
) -> None:
    marker = tmp_path / "marker"
    # GIVEN a one-step run, its step without inputs, submitted to this process
    with submitted_here(tmp_path) as (_, run_id, node_id):
        # WHEN its step's message is handled here
        said = handler.handle_step_message(get_worker_account(), StepMessage("ws1", run_id, node_id, 1).to_payload())
        # THEN one child was forked on hold, beside the claim, and the script ran in it
        assert said == f"step {node_id} finished"
        [pid] = held
        assert pid is not None and marker.read_text().split() == [str(pid)]


def test_a_child_forked_beside_a_claim_that_is_refused_runs_nothing(tmp_path: Path, held: list[int | None]) -> None:
    marker = tmp_path / "marker"
    # GIVEN a run canceled after its creation: its first claim is tried on the state as created
    with submitted_here(tmp_path) as (base_url, run_id, node_id):
        assert Service(base_url).post(f"/PipelineRuns/{run_id}/Cancel").status_code == 200
        # WHEN its step's message is handled here
        said = handler.handle_step_message(get_worker_account(), StepMessage("ws1", run_id, node_id, 1).to_payload())
        # THEN the child forked beside that claim (on another thread) was killed, having run nothing
        assert said == "nothing to do"
        deadline = time.monotonic() + 10
        while not held or any(pid is not None and alive(pid) for pid in held):
            assert time.monotonic() < deadline, f"no child forked, or one still alive: {held}"
            time.sleep(0.02)
        assert held != [None] and not marker.exists()
