"""A successor staged beside the commit that claims it (`Executor.expect`): the folder is used
by the very job it was made for, and removed otherwise; so is the script's child, forked on
hold with it (`Executor.stage_ahead`): let go by that job, killed otherwise, having run
nothing. Against Azurite (the step's logs go there) with the step script in a real child
process."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.authoring.definition import PipelineDefinition, StepSpec
from pipelines.runs.logs import StepLogs
from pipelines.runs.model import Run, TaskStatus
from pipelines.worker import launcher, remover
from pipelines.worker.executor import Executor, Staged, StepJob
from tests.workers import alive

SNAPSHOT = "0" * 64


def a_job(token: str | None = None) -> StepJob:
    spec = StepSpec.model_validate({"id": "b", "name": "b", "script_name": "main.py", "snapshot": SNAPSHOT})
    definition = PipelineDefinition.model_validate({"steps": [spec.model_dump()], "snapshot": SNAPSHOT})
    run = Run(id=uuid.uuid4().hex, workspace="ws", pipeline_id="p", graph_id="g", created=datetime.now(UTC))
    return StepJob(run, definition, spec, 1, token or uuid.uuid4().hex)


def a_folder(executor: Executor, job: StepJob, says: str) -> Staged:
    """What `Executor.stage` makes, by hand: a script that prints `says`."""
    folder = executor._folder(*job.key)
    code = folder / "code"
    code.mkdir(parents=True)
    (code / "main.py").write_text(f"print({says!r})\n")
    return Staged(code, {}, [], executor._environment(folder))


def done(staged: Staged) -> Future[Staged]:
    future: Future[Staged] = Future()
    future.set_result(staged)
    return future


@pytest.fixture
def executor(account, tmp_path: Path) -> Executor:  # type: ignore[no-untyped-def]
    account.ensure()
    made = Executor(account)
    made.account.settings.work_dir = str(tmp_path / "work")  # the settings are this test's (storage_env)
    return made


def test_the_job_a_folder_was_staged_for_runs_in_it_without_staging_again(executor: Executor) -> None:
    # GIVEN a successor staged while the commit that claims it ran
    job = a_job()
    executor.expect(job.key, done(a_folder(executor, job, "staged ahead")))
    executor.stage = lambda job: pytest.fail("staged again")  # type: ignore[method-assign]
    # WHEN the claim came as expected and the step runs
    outcome = executor.execute(job, lambda: None)
    executor.close()
    # THEN it ran the script of that folder
    assert outcome is not None and outcome.status is TaskStatus.FINISHED, outcome
    logs = StepLogs(executor.account).read(job.run.workspace, job.run.id, job.step.id, 1, "STDOUT")
    assert logs == "staged ahead\n"


def test_a_folder_staged_for_another_claim_is_removed_and_the_step_staged_anew(executor: Executor) -> None:
    # GIVEN a folder staged for a claim token the commit did not use (the state was stale)
    expected, claimed = a_job(), a_job()
    claimed.run = expected.run
    stale = a_folder(executor, expected, "stale")
    executor.expect(expected.key, done(stale))
    staged_anew: list[StepJob] = []

    def stage(job: StepJob) -> Staged:
        staged_anew.append(job)
        return a_folder(executor, job, "fresh")

    executor.stage = stage  # type: ignore[method-assign]
    # WHEN the step runs under the claim that was made
    outcome = executor.execute(claimed, lambda: None)
    executor.close()
    # THEN it was staged for that claim, and the other folder is gone
    assert outcome is not None and outcome.status is TaskStatus.FINISHED, outcome
    assert staged_anew == [claimed]
    assert remover.shared().wait(5) and not stale.code.parent.exists()


def test_a_folder_still_being_staged_when_dropped_is_removed_once_made(executor: Executor) -> None:
    job = a_job()
    pending: Future[Staged] = Future()
    executor.expect(job.key, pending)
    # WHEN the invocation ends before the staging does (the claim never came)
    executor.close()
    staged = a_folder(executor, job, "late")
    assert staged.code.exists()
    # THEN the folder goes once it is made
    pending.set_result(staged)
    deadline = time.monotonic() + 5
    while staged.code.parent.exists():
        assert time.monotonic() < deadline, "the folder staged for nothing stayed"
        time.sleep(0.01)


@pytest.fixture
def fresh_launcher() -> None:
    """This process's launcher started afresh, with the steps' environment of these tests."""
    launcher.shared().stop()


def test_the_job_a_child_was_forked_ahead_for_runs_in_that_child(executor: Executor, fresh_launcher) -> None:
    # GIVEN a successor staged, its child forked on hold, while the commit that claims it ran
    job = a_job()
    executor.stage = lambda job: a_folder(executor, job, "x")  # type: ignore[method-assign]
    staged = executor.stage_ahead(job)
    (staged.code / "main.py").write_text("import os\nprint(os.getpid())\n")
    assert staged.held is not None and staged.held.pid is not None
    held = staged.held.pid
    executor.expect(job.key, done(staged))
    # WHEN the claim came as expected and the step runs
    outcome = executor.execute(job, lambda: None)
    executor.close()
    # THEN the script ran in the child forked ahead
    assert outcome is not None and outcome.status is TaskStatus.FINISHED, outcome
    logs = StepLogs(executor.account).read(job.run.workspace, job.run.id, job.step.id, 1, "STDOUT")
    assert logs == f"{held}\n"


def test_a_child_forked_ahead_for_a_claim_that_did_not_come_is_killed_having_run_nothing(
    executor: Executor, fresh_launcher, tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"
    job = a_job()
    executor.stage = lambda job: a_folder(executor, job, "x")  # type: ignore[method-assign]
    staged = executor.stage_ahead(job)
    (staged.code / "main.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    assert staged.held is not None and staged.held.pid is not None
    held = staged.held.pid
    executor.expect(job.key, done(staged))
    # WHEN the invocation ends without the claim (another worker's commit won)
    executor.close()
    # THEN the child is gone and the script never ran
    deadline = time.monotonic() + 5
    while alive(held):
        assert time.monotonic() < deadline, "the child forked for nothing stayed"
        time.sleep(0.02)
    assert not marker.exists()
