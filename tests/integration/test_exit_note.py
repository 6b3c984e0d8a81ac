"""When a step's exit is noted on its attempt: before its outputs go up, or with its result.

A step declared `idempotent=False` must leave a record that its script finished if its
worker is lost during the upload (it is then failed rather than run twice), so its exit
is noted first. An idempotent step (the default) runs again in that case whatever the
record says: its exit goes with its result, and the upload starts at once, as long as the
lease this worker last committed still has a renewal interval to run. The step is run by
the production handler, in this process, against the tests' Azurite; storage is read
while the outputs upload.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.authoring import Pipeline, PipelineData, PythonScriptStep
from pipelines.client import Workspace, publish
from pipelines.runs.model import AttemptRecord, StepMessage, TaskStatus
from pipelines.runs.repository import RunRepository
from pipelines.store import get_worker_account
from pipelines.worker import handler
from pipelines.worker.executor import Executor
from pipelines.worker.watch import Watch
from tests import pipelines_for_tests as make
from tests.hosting import http_only_app, running_host
from tests.service import token


def writing(folder: Path, *, idempotent: bool) -> Pipeline:
    make.write(folder, "main.py", """
        p = argparse.ArgumentParser(); p.add_argument("--out"); a = p.parse_args()
        pathlib.Path(a.out, "value.txt").write_text("ok")
    """)
    out = PipelineData("out")
    return Pipeline(steps=[PythonScriptStep("main.py", name="main", arguments=["--out", out], outputs=[out],
                                            source_directory=folder, idempotent=idempotent)])


@pytest.fixture(autouse=True)
def _storage(storage_env: dict[str, str]) -> None:
    """The tests' Azurite, for the host and for the handler run in this process."""


def run_seen_during_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, idempotent: bool
) -> tuple[AttemptRecord, AttemptRecord]:
    """Submit a one-step run (to a host with no worker), run its step with the production
    handler; returns the step's attempt record as storage held it while the outputs were
    uploading, and once the step was recorded."""
    with running_host(http_only_app(), dev_issuer=True) as host:
        workspace = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
        run = publish(workspace, writing(tmp_path / "code", idempotent=idempotent), "p", None, "1").submit("x", {})
        [node_id] = run.get_step_statuses()
    account = get_worker_account()
    repository = RunRepository(account)
    seen: list[Any] = []
    upload = Executor._upload_outputs

    def watched(self: Executor, job: Any, outputs: Any) -> Any:
        seen.append(repository.load("ws1", run.id).steps[node_id].attempts[0])
        return upload(self, job, outputs)

    monkeypatch.setattr(Executor, "_upload_outputs", watched)
    assert handler.handle_step_message(account, StepMessage("ws1", run.id, node_id, 1).to_payload()) == (
        f"step {node_id} finished")
    step = repository.load("ws1", run.id).steps[node_id]
    assert step.status is TaskStatus.FINISHED
    return seen[0], step.attempts[0]


def test_an_idempotent_step_uploads_at_once_and_its_exit_goes_with_its_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    during, after = run_seen_during_upload(tmp_path, monkeypatch, idempotent=True)
    # THEN nothing was written between the script's exit and the upload
    assert during.script_exited is None and during.exit_code is None
    # AND the result recorded the exit: exit code 0 and when the script exited
    assert after.exit_code == 0 and after.script_exited is not None and after.ended is not None
    assert after.started is not None and after.started <= after.script_exited <= after.ended


def test_a_step_that_is_not_idempotent_has_its_exit_noted_before_the_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    during, after = run_seen_during_upload(tmp_path, monkeypatch, idempotent=False)
    assert during.exit_code == 0 and during.script_exited is not None
    assert after.script_exited == during.script_exited


def test_an_idempotent_step_whose_lease_cannot_be_vouched_for_notes_its_exit_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a worker that cannot tell from its own lease that the step is still its own
    # (renewals failing, say): the note's write renews the lease and asks storage
    monkeypatch.setattr(Watch, "lease_left", lambda self: 0.0)
    during, _ = run_seen_during_upload(tmp_path, monkeypatch, idempotent=True)
    assert during.exit_code == 0 and during.script_exited is not None
