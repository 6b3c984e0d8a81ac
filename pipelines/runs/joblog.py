"""A step attempt's job log: what the service did with one execution of a step, in words.

The job log (`JobLog`; run history's `azureml-logs/55_job_log.txt`) holds the
service's own lines about an attempt, never the script's (those are stdout and
stderr). Everything it says is in the step's record: when the attempt started and
on which worker, what it ran, when the script exited and with what code, how the
attempt ended and why. So it is written from that record when it is read: it
always agrees with the step's status, shows at once while the step runs, and
costs the worker no storage write.
"""

from __future__ import annotations

from datetime import datetime

from pipelines.authoring.definition import StepSpec
from pipelines.runs.model import MAX_ATTEMPT_RECORDS, AttemptOutcome, Step


def _at(value: datetime | None) -> str:
    return value.isoformat(timespec="milliseconds") if value else "-"


def render(step: Step, attempt: int, spec: StepSpec | None) -> str:
    """The job log of `step`'s attempt `attempt` (1, 2, ...); `spec`: the step as published."""
    if attempt == step.attempt and step.reused_from is not None:
        taken = step.reused_from
        return f"{_at(step.ended)} step {step.name!r} did not run: it took the outputs of step " \
               f"{taken.node_id!r} of run {taken.run_id}, which ran with the same code and inputs\n"
    record = next((r for r in step.attempts if r.number == attempt), None)
    if record is None:
        if step.attempts and attempt < step.attempts[0].number:
            return f"attempt {attempt}: no record is kept (a step keeps its last {MAX_ATTEMPT_RECORDS})\n"
        return ""  # not started yet
    script = spec.script_name if spec is not None else "its script"
    fresh = " in a fresh interpreter" if spec is not None and spec.fresh_interpreter else ""
    lines = [f"{_at(record.started)} step {step.name!r} attempt {attempt} started on worker "
             f"{record.worker or '-'}: running {script}{fresh}"]
    if record.script_exited is not None:
        lines.append(f"{_at(record.script_exited)} the script exited with code {record.exit_code}")
    if record.outcome != AttemptOutcome.RUNNING:
        seconds = (record.ended - record.started).total_seconds() if record.ended and record.started else None
        took = f" after {seconds:.2f}s" if seconds is not None else ""
        ended = f"{_at(record.ended)} {record.outcome}{took}"
        said = (record.detail or "").startswith(f"exit code {record.exit_code}")  # the detail names it
        if record.script_exited is None and record.exit_code is not None and not said:
            ended += f", exit code {record.exit_code}"
        if record.reason:
            ended += f" ({record.reason})"
        if record.detail:
            ended += f": {record.detail}"
        lines.append(ended)
    return "".join(f"{line}\n" for line in lines)
