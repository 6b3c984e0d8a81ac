"""Runs as the run-history service tells them: one vocabulary for both families.

The engine keeps integer states (`RunStatus`, `TaskStatus`: the pipelines
family's `StatusCode`s). The run-history family (`/history/v1.0`) speaks words,
and a step of a pipeline run is a run of its own there: a child with its own id
whose parent and root are the pipeline run. This module is the one place that
maps one onto the other, so a run reads the same whichever route a caller uses:

- `run_status_word` / `step_status_word`: the engine's state as a history word.
  A run (or a running step) whose cancel was asked for reads `CancelRequested`
  until its steps have stopped.
- `step_run_id` / `split_run_id`: a step's run id is `{pipeline run id}_{node id}`,
  made with the run and never stored: a pipeline run id is a UUID (36 characters,
  no underscore), so the split is unambiguous and `runs/{id}` of a step run is two
  point reads, without an index.
- `HistoryRecord`: a pipeline run or a step run as the history routes answer and
  filter it (snake_case; `pipelines.api.history` turns it into the wire DTOs).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from pipelines.runs.model import Run, RunStatus, Step, TaskStatus


class _Absent:
    """A tag or property a run does not have (`ABSENT`)."""

    def __repr__(self) -> str:
        return "ABSENT"


# What `filter_value` gives for a tag or property the record does not have: no comparison matches
# it, `eq null` and `ne null` included (`pipelines.runs.query`). SDK v1 asks for the runs that
# have a tag `k` as `(Tags/k ne null or Tags/k eq null)`, and a tag set without a value
# (`run.tag("k")`) is `eq null`.
ABSENT = _Absent()


class HistoryStatus(str, Enum):
    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    RUNNING = "Running"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"


# Every word a filter may name, by its lower-case form (filters are case-insensitive).
STATUS_WORDS = {status.value.lower(): status.value for status in HistoryStatus}
FINISHED_WORDS = (HistoryStatus.COMPLETED.value, HistoryStatus.FAILED.value, HistoryStatus.CANCELED.value)

_RUN_WORDS = {
    RunStatus.NOT_STARTED: HistoryStatus.NOT_STARTED,
    RunStatus.RUNNING: HistoryStatus.RUNNING,
    RunStatus.FAILED: HistoryStatus.FAILED,
    RunStatus.FINISHED: HistoryStatus.COMPLETED,
    RunStatus.CANCELED: HistoryStatus.CANCELED,
}
_STEP_WORDS = {
    TaskStatus.NOT_STARTED: HistoryStatus.NOT_STARTED,
    TaskStatus.QUEUED: HistoryStatus.QUEUED,
    TaskStatus.RUNNING: HistoryStatus.RUNNING,
    TaskStatus.FAILED: HistoryStatus.FAILED,
    TaskStatus.FINISHED: HistoryStatus.COMPLETED,
    TaskStatus.CANCELED: HistoryStatus.CANCELED,
    # Never produced by this engine; the nearest words if an older row holds them.
    TaskStatus.PARTIALLY_EXECUTED: HistoryStatus.FAILED,
    TaskStatus.BYPASSED: HistoryStatus.COMPLETED,
}

PIPELINE_RUN_TYPE = "azureml.PipelineRun"
STEP_RUN_TYPE = "azureml.StepRun"
# Where steps run: the Function app's own workers (the only compute target today).
TARGET = "function-app"


def run_status_word(run: Run) -> str:
    if run.cancel_requested and not run.status.terminal:
        return HistoryStatus.CANCEL_REQUESTED.value
    return _RUN_WORDS[run.status].value


def step_status_word(step: Step, run: Run) -> str:
    if run.cancel_requested and step.status is TaskStatus.RUNNING:
        return HistoryStatus.CANCEL_REQUESTED.value
    return _STEP_WORDS[step.status].value


# -- ids ---------------------------------------------------------------------------------------------
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Experiment ids are UUIDs derived from the workspace and the name: stable, and known
# without a read (a submit never waits for an experiment row to learn its id).
_EXPERIMENT_NAMESPACE = uuid.UUID("5b0f6f7e-1f39-4c2e-9a57-8d1e3c4a2b60")


def step_run_id(run_id: str, node_id: str) -> str:
    return f"{run_id}_{node_id}"


def split_run_id(value: str) -> tuple[str, str | None]:
    """(pipeline run id, node id) of a step run's id; (the id, None) of any other id."""
    head, separator, node = value[:36], value[36:37], value[37:]
    if separator == "_" and node and _UUID.match(head):
        return head, node
    return value, None


def experiment_id(workspace: str, name: str) -> str:
    return str(uuid.uuid5(_EXPERIMENT_NAMESPACE, f"{workspace}\n{name}"))


# -- records -------------------------------------------------------------------------------------------
@dataclass
class HistoryError:
    code: str
    message: str


@dataclass
class HistoryRecord:
    """One run of the history family: a pipeline run, or one of its steps."""

    run_id: str
    pipeline_run_id: str
    node_id: str | None  # None for the pipeline run itself
    workspace: str
    experiment_name: str
    experiment_id: str
    run_number: int | None
    name: str | None
    display_name: str | None
    description: str | None
    status: str
    run_type: str
    parent_run_id: str | None
    root_run_id: str
    created: datetime | None
    started: datetime | None
    ended: datetime | None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    error: HistoryError | None = None
    attempt: int | None = None
    index: int = 0
    submitted_by: str | None = None  # the caller's object or app id
    submitted_by_name: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_WORDS

    def filter_value(self, field: str, key: str | None) -> object:
        """The value a filter or an order names (see `pipelines.runs.query`)."""
        if field == "Tags":
            return self.tags.get(key or "", ABSENT)
        if field == "Properties":
            return self.properties.get(key or "", ABSENT)
        return {
            "Status": self.status,
            "RunType": self.run_type,
            "RunId": self.run_id,
            "ParentRunId": self.parent_run_id,
            "RootRunId": self.root_run_id,
            "Name": self.name,
            "DisplayName": self.display_name,
            "Target": TARGET,
            "CreatedUtc": self.created,
            "StartTimeUtc": self.started,
            "EndTimeUtc": self.ended,
            "RunNumber": self.run_number,
        }.get(field)


def experiment_of(run: Run) -> str:
    return run.experiment_name or "Default"


def pipeline_record(run: Run) -> HistoryRecord:
    status = run_status_word(run)
    error = None
    if run.status is RunStatus.FAILED:
        error = HistoryError("UserError", run.detail or "the run failed")
    properties = {
        "azureml.runsource": "azureml.PipelineRun",
        "runSource": run.run_source or "",
        "runType": run.run_type or "",
        "azureml.pipelineid": run.pipeline_id,
        "azureml.graphid": run.graph_id,
        **({"azureml.pipelineEndpointId": run.endpoint_id} if run.endpoint_id else {}),
        **({"azureml.pipelineVersion": run.pipeline_version} if run.pipeline_version else {}),
        **({"azureml.scheduleId": run.schedule_id} if run.schedule_id else {}),
        **({"rerunOf": run.rerun_of} if run.rerun_of else {}),
        **run.properties,
    }
    return HistoryRecord(
        run_id=run.id,
        pipeline_run_id=run.id,
        node_id=None,
        workspace=run.workspace,
        experiment_name=experiment_of(run),
        experiment_id=experiment_id(run.workspace, experiment_of(run)),
        run_number=run.run_number,
        name=run.description,
        display_name=run.display_name or run.description,
        description=run.description,
        status=status,
        run_type=PIPELINE_RUN_TYPE,
        parent_run_id=run.parent_run_id,
        # A pipeline run is the root of its tree (itself and its step runs), whatever parent it names:
        # that parent may be a run of Azure ML or a step here, and `RootRunId eq X` reads X's tree.
        root_run_id=run.id,
        created=run.created,
        started=run.started,
        ended=run.ended,
        tags=dict(run.tags),
        properties=properties,
        error=error,
        submitted_by=run.submitted_by,
        submitted_by_name=run.submitted_by_name,
    )


def step_record(run: Run, step: Step) -> HistoryRecord:
    error = None
    if step.status is TaskStatus.FAILED:
        error = HistoryError("UserError", step.detail or "the step failed")
    elif step.status is TaskStatus.CANCELED and step.detail:
        error = HistoryError("Canceled", step.detail)
    return HistoryRecord(
        run_id=step_run_id(run.id, step.node_id),
        pipeline_run_id=run.id,
        node_id=step.node_id,
        workspace=run.workspace,
        experiment_name=experiment_of(run),
        experiment_id=experiment_id(run.workspace, experiment_of(run)),
        run_number=(run.run_number + 1 + step.index) if run.run_number is not None else None,
        name=step.name,
        display_name=step.name,
        description=None,
        status=step_status_word(step, run),
        run_type=STEP_RUN_TYPE,
        parent_run_id=run.id,
        root_run_id=run.id,
        created=step.created or run.created,
        started=step.started,
        ended=step.ended,
        # SDK v1 rebuilds a StepRun from these two tags (its node id and its pipeline run).
        tags={"azureml.nodeid": step.node_id, "azureml.pipeline": run.id},
        properties={
            "azureml.runsource": "azureml.StepRun",
            "azureml.nodeid": step.node_id,
            "azureml.pipelinerunid": run.id,
            "azureml.pipeline": run.pipeline_id,
            "StepType": "PythonScriptStep",
            "attempt": str(step.attempt),
            **({"exitCode": str(step.exit_code)} if step.exit_code is not None else {}),
            **_reused_properties(step),
        },
        error=error,
        attempt=step.attempt,
        index=step.index,
        submitted_by=run.submitted_by,
        submitted_by_name=run.submitted_by_name,
    )


def _reused_properties(step: Step) -> dict[str, str]:
    """A step that took an earlier execution's outputs says whose (as Azure ML's reused step runs did)."""
    source = step.reused_from
    if source is None:
        return {}
    return {
        "azureml.reusedrunid": step_run_id(source.run_id, source.node_id),
        "azureml.reusednodeid": source.node_id,
        "azureml.reusedpipelinerunid": source.run_id,
    }
