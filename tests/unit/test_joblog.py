"""A step attempt's job log, written from the step's record (pipelines/runs/joblog.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.authoring.definition import StepSpec
from pipelines.runs import joblog
from pipelines.runs.model import AttemptOutcome, AttemptReason, AttemptRecord, ReusedFrom, Step, TaskStatus

T0 = datetime(2026, 11, 28, 1, 0, 0, tzinfo=UTC)
SPEC = StepSpec.model_validate({"id": "n1", "name": "train", "script_name": "train.py", "snapshot": "0" * 64})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_running_attempt_says_where_and_what_it_runs() -> None:
    step = Step("n1", "train", TaskStatus.RUNNING, attempts=[AttemptRecord(1, "host-7", at(0))])
    assert joblog.render(step, 1, SPEC) == (
        "2026-11-28T01:00:00.000+00:00 step 'train' attempt 1 started on worker host-7: running train.py\n")


def test_a_finished_attempt_adds_the_scripts_exit_and_the_end() -> None:
    record = AttemptRecord(1, "host-7", at(0), at(1.25), AttemptOutcome.FINISHED, exit_code=0,
                           script_exited=at(1.2))
    step = Step("n1", "train", TaskStatus.FINISHED, attempts=[record])
    lines = joblog.render(step, 1, SPEC).splitlines()
    assert lines[1:] == ["2026-11-28T01:00:01.200+00:00 the script exited with code 0",
                         "2026-11-28T01:00:01.250+00:00 Finished after 1.25s"]


def test_a_failed_attempt_that_is_retried_says_its_exit_code_and_why() -> None:
    failed = AttemptRecord(1, "host-7", at(0), at(2), AttemptOutcome.FAILED, AttemptReason.RETRY, exit_code=3,
                           detail="exit code 3: boom")
    step = Step("n1", "train", TaskStatus.RUNNING, attempt=2,
                attempts=[failed, AttemptRecord(2, "host-8", at(5))])
    first = joblog.render(step, 1, SPEC).splitlines()
    # the exit code once: the detail names it
    assert first[-1] == "2026-11-28T01:00:02.000+00:00 Failed after 2.00s (Retry): exit code 3: boom"
    failed.detail = "killed by the lease watcher"
    assert joblog.render(step, 1, SPEC).splitlines()[-1] == (
        "2026-11-28T01:00:02.000+00:00 Failed after 2.00s, exit code 3 (Retry): killed by the lease watcher")
    assert "attempt 2 started on worker host-8" in joblog.render(step, 2, SPEC)


def test_a_step_that_took_earlier_outputs_says_whose() -> None:
    step = Step("n1", "train", TaskStatus.FINISHED, ended=at(1), reused_from=ReusedFrom("run-0", "n9"))
    assert "took the outputs of step 'n9' of run run-0" in joblog.render(step, 1, SPEC)


def test_an_attempt_not_begun_or_no_longer_kept() -> None:
    assert joblog.render(Step("n1", "train"), 1, SPEC) == ""
    step = Step("n1", "train", TaskStatus.RUNNING, attempt=30, attempts=[AttemptRecord(30, "w", at(0))])
    assert "no record is kept" in joblog.render(step, 3, None)
    assert "running its script" in joblog.render(step, 30, None)
