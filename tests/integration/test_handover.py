"""A run's first step, claimed in the process that created the run, starts from the state the
creation wrote (pipelines/runs/handover.py): no partition read; and a run changed since its
creation is claimed from a fresh read, so the copy cannot decide anything on stale rows.

The runs are submitted through the development host in this process (its worker blueprint
left out, so nothing takes the message) and their first step is run by the production
handler, here, against the tests' Azurite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pipelines.client import Workspace, publish
from pipelines.runs.model import RunStatus, StepMessage, TaskStatus
from pipelines.runs.repository import RunRepository
from pipelines.store import get_worker_account
from pipelines.worker import handler
from tests import pipelines_for_tests as make
from tests.hosting import http_only_app, running_host
from tests.service import Service, token


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


@contextmanager
def submitted_here(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A one-step run submitted to a host in this process without the worker (nothing takes its
    step), whose script marks `tmp_path/marker`: the host's URL, the run's id and its step's."""
    with running_host(http_only_app(), dev_issuer=True) as host:
        workspace = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
        pipeline = make.single(tmp_path / "code", f"mark({str(tmp_path / 'marker')!r}, 'ran')")
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
        assert said == f"step {node_id} finished" and marker.read_text().split() == ["ran"]
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
