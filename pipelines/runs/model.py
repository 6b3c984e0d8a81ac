"""Run and step records, and how they are kept in Table storage.

A run lives in one partition of table `Runs` (PartitionKey = `{workspace}|{run
id}`): the run row (RowKey `run`) and one row per step (RowKey `step|{node id}`).
A step whose outputs are small keeps them on its row (`InlineOutputs`), and so do an
attempt's logs (`InlineLogs`), written by the transaction that records how it ended.
Every transition of a run touches only that partition, so it commits in one
entity-group transaction with an ETag on every row it changes.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from pipelines.catalogue.webhooks import Webhook, parse_webhooks, webhooks_text
from pipelines.runs.attempts import ATTEMPT_DETAIL_CHARS as ATTEMPT_DETAIL_CHARS
from pipelines.runs.attempts import MAX_ATTEMPT_RECORDS as MAX_ATTEMPT_RECORDS
from pipelines.runs.attempts import AttemptOutcome as AttemptOutcome
from pipelines.runs.attempts import AttemptReason as AttemptReason
from pipelines.runs.attempts import AttemptRecord as AttemptRecord
from pipelines.runs.devops import DevOpsTask
from pipelines.store import etag_of, key
from pipelines.store.codec import json_text, parse_json, parse_time, time_text

RUN_ROW = "run"

# Files kept on a step's row instead of in Blob storage, by group, each one's bytes by name.
InlineFiles = dict[str, dict[str, bytes]]
# The step's outputs: by output name, each file's bytes by its relative path. Only outputs small
# enough to ride in the commit that records the step Finished are kept so
# (`pipelines.worker.transfer.read_small`); a step has either all its outputs inline or none.
InlineOutputs = InlineFiles
# Its attempts' logs: by attempt number (as text), each log's bytes by kind (STDOUT, STDERR).
# Only logs small enough, and never written to Blob storage, ride in the commit that records
# how the attempt ended (`pipelines.worker.logflush.LogFlusher.take`); the others are blobs.
InlineLogs = InlineFiles


def inline_text(value: InlineFiles) -> str | None:
    """The entity property's text (JSON, file bytes in base64); None when nothing is inline."""
    if not value:
        return None
    return json_text({name: {path: base64.b64encode(data).decode("ascii") for path, data in files.items()}
                      for name, files in value.items()})


def parse_inline(value: Any) -> InlineFiles:
    """The property's files; an unreadable one reads as none (they are then looked for in Blob
    storage, where they were before)."""
    try:
        return {str(name): {str(path): base64.b64decode(text, validate=True) for path, text in files.items()}
                for name, files in parse_json(value, {}).items()}
    except (AttributeError, TypeError, ValueError, binascii.Error):
        return {}


class RunStatus(IntEnum):
    NOT_STARTED = 0
    RUNNING = 1
    FAILED = 2
    FINISHED = 3
    CANCELED = 4

    @property
    def terminal(self) -> bool:
        return self in (RunStatus.FAILED, RunStatus.FINISHED, RunStatus.CANCELED)


class TaskStatus(IntEnum):
    NOT_STARTED = 0
    QUEUED = 1
    RUNNING = 2
    FAILED = 3
    FINISHED = 4
    CANCELED = 5
    PARTIALLY_EXECUTED = 6
    BYPASSED = 7

    @property
    def terminal(self) -> bool:
        return self in (TaskStatus.FAILED, TaskStatus.FINISHED, TaskStatus.CANCELED, TaskStatus.BYPASSED)


# How the pipelines family names a step's StatusCode in words (SDK v1 `StepRun.get_status()`).
TASK_STATUS_NAMES = {
    TaskStatus.NOT_STARTED: "NotStarted",
    TaskStatus.QUEUED: "Queued",
    TaskStatus.RUNNING: "Running",
    TaskStatus.FAILED: "Failed",
    TaskStatus.FINISHED: "Finished",
    TaskStatus.CANCELED: "Canceled",
    TaskStatus.PARTIALLY_EXECUTED: "PartiallyExecuted",
    TaskStatus.BYPASSED: "Bypassed",
}


def run_partition(workspace: str, run_id: str) -> str:
    return key(workspace, run_id)


def step_row(node_id: str) -> str:
    return key("step", node_id)


@dataclass(frozen=True)
class OutputSummary:
    """What a step wrote to one output: the count and size of its files, and a digest
    over their relative paths, sizes and contents (sha256 of the sorted lines
    `path\tsize\tsha256`), computed by the worker while it uploads them."""

    files: int
    bytes: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"files": self.files, "bytes": self.bytes, "sha256": self.sha256}

    @classmethod
    def from_json(cls, value: Any) -> OutputSummary | None:
        try:
            return cls(int(value["files"]), int(value["bytes"]), str(value["sha256"]))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class ReusedFrom:
    """The execution whose outputs a step took instead of running (its `ReuseInfo`): a step
    of an earlier run, whose outputs stay where that run wrote them and never change."""

    run_id: str
    node_id: str
    experiment: str | None = None
    started: datetime | None = None
    ended: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"r": self.run_id, "n": self.node_id, "x": self.experiment, "s": time_text(self.started),
                "e": time_text(self.ended)}

    @classmethod
    def from_json(cls, value: Any) -> ReusedFrom | None:
        try:
            return cls(str(value["r"]), str(value["n"]), value.get("x"), parse_time(value.get("s")),
                       parse_time(value.get("e")))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


@dataclass(frozen=True)
class Prior:
    """An earlier execution whose outputs a step takes instead of running (its reuse key's)."""

    source: ReusedFrom
    key: str
    outputs: tuple[str, ...]
    summaries: dict[str, OutputSummary]
    metrics: dict[str, Any] = field(default_factory=dict)
    inline: InlineOutputs = field(default_factory=dict)  # the outputs, when kept on the step's row


@dataclass
class Step:
    node_id: str
    name: str
    status: TaskStatus = TaskStatus.NOT_STARTED
    index: int = 0  # the step's place in the published definition: the order of a run's children
    parents: list[str] = field(default_factory=list)
    attempt: int = 1
    max_retries: int = 0
    # False: an execution lost after its script exited 0 is not run again (see `AttemptReason`).
    idempotent: bool = True
    lost_leases: int = 0
    claim: str | None = None
    worker: str | None = None
    lease_until: datetime | None = None
    detail: str | None = None
    exit_code: int | None = None
    created: datetime | None = None
    scheduled: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    output_summaries: dict[str, OutputSummary] = field(default_factory=dict)
    # The outputs themselves, when they are small enough to be kept on the row (see InlineOutputs).
    inline_outputs: InlineOutputs = field(default_factory=dict)
    # Attempts' logs, when they were small enough to be kept on the row (see InlineLogs).
    inline_logs: InlineLogs = field(default_factory=dict)
    attempts: list[AttemptRecord] = field(default_factory=list)
    # What can change its outputs, hashed (`pipelines.runs.reuse_keys`): set when it finished.
    reuse_key: str | None = None
    # Finished without running: the earlier execution whose outputs it took.
    reused_from: ReusedFrom | None = None
    # The queue of its compute target, as it was when the run was created; None: the app's steps queue.
    queue: str | None = None
    etag: str | None = None

    def inline_log_bytes(self) -> int:
        """What the row keeps of its attempts' logs (`inline_logs`), in bytes."""
        return sum(len(data) for logs in self.inline_logs.values() for data in logs.values())

    @property
    def current_attempt(self) -> AttemptRecord | None:
        """The record of the execution under way, if one is."""
        last = self.attempts[-1] if self.attempts else None
        return last if last is not None and last.outcome == AttemptOutcome.RUNNING else None

    def begin_attempt(self, worker: str | None, now: datetime) -> AttemptRecord:
        record = AttemptRecord(self.attempt, worker, now)
        self.attempts = [*self.attempts, record][-MAX_ATTEMPT_RECORDS:]
        return record

    def to_entity(self, partition: str) -> dict[str, Any]:
        return {
            "PartitionKey": partition,
            "RowKey": step_row(self.node_id),
            "NodeId": self.node_id,
            "Name": self.name,
            "Status": int(self.status),
            "Index": self.index,
            "Parents": json_text(self.parents),
            "Attempt": self.attempt,
            "MaxRetries": self.max_retries,
            "Idempotent": self.idempotent,
            "LostLeases": self.lost_leases,
            "Claim": self.claim,
            "Worker": self.worker,
            "LeaseUntil": time_text(self.lease_until),
            "Detail": self.detail,
            "ExitCode": self.exit_code,
            "Created": time_text(self.created),
            "Scheduled": time_text(self.scheduled),
            "Started": time_text(self.started),
            "Ended": time_text(self.ended),
            "Metrics": json_text(self.metrics),
            "Outputs": json_text(self.outputs),
            "OutputSummaries": json_text({name: o.to_json() for name, o in self.output_summaries.items()}),
            "InlineOutputs": inline_text(self.inline_outputs),
            "InlineLogs": inline_text(self.inline_logs),
            "Attempts": json_text([a.to_json() for a in self.attempts]),
            "ReuseKey": self.reuse_key,
            "ReusedFrom": json_text(self.reused_from.to_json()) if self.reused_from else None,
            "Queue": self.queue,
        }

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> Step:
        return cls(
            node_id=entity["NodeId"],
            name=entity.get("Name", entity["NodeId"]),
            status=TaskStatus(entity.get("Status", 0)),
            index=int(entity.get("Index", 0)),
            parents=parse_json(entity.get("Parents"), []),
            attempt=int(entity.get("Attempt", 1)),
            max_retries=int(entity.get("MaxRetries", 0)),
            idempotent=bool(entity.get("Idempotent", True)),
            lost_leases=int(entity.get("LostLeases", 0)),
            claim=entity.get("Claim"),
            worker=entity.get("Worker"),
            lease_until=parse_time(entity.get("LeaseUntil")),
            detail=entity.get("Detail"),
            exit_code=entity.get("ExitCode"),
            created=parse_time(entity.get("Created")),
            scheduled=parse_time(entity.get("Scheduled")),
            started=parse_time(entity.get("Started")),
            ended=parse_time(entity.get("Ended")),
            metrics=parse_json(entity.get("Metrics"), {}),
            outputs=parse_json(entity.get("Outputs"), []),
            output_summaries={
                name: summary
                for name, value in parse_json(entity.get("OutputSummaries"), {}).items()
                if (summary := OutputSummary.from_json(value)) is not None
            },
            inline_outputs=parse_inline(entity.get("InlineOutputs")),
            inline_logs=parse_inline(entity.get("InlineLogs")),
            attempts=[
                record
                for value in parse_json(entity.get("Attempts"), [])
                if (record := AttemptRecord.from_json(value)) is not None
            ],
            reuse_key=entity.get("ReuseKey"),
            reused_from=ReusedFrom.from_json(parse_json(entity.get("ReusedFrom"), None)),
            queue=entity.get("Queue") or None,
            etag=etag_of(entity),
        )


@dataclass
class Run:
    id: str
    workspace: str
    pipeline_id: str
    graph_id: str
    status: RunStatus = RunStatus.NOT_STARTED
    detail: str | None = None
    experiment_name: str | None = None
    description: str | None = None
    display_name: str | None = None
    # Numbered per workspace, as the history service numbers runs; its steps take the
    # numbers right after it (see pipelines.runs.numbering).
    run_number: int | None = None
    run_source: str | None = None
    run_type: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    data_assignments: dict[str, Any] = field(default_factory=dict)
    datapath_assignments: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    schedule_id: str | None = None
    parent_run_id: str | None = None
    endpoint_id: str | None = None
    pipeline_version: str | None = None
    submitted_by: str | None = None
    submitted_by_name: str | None = None  # the caller's name from its token, when it has one
    continue_on_step_failure: bool = False
    # A step that is not idempotent may run again after its script exited 0 unrecorded.
    allow_step_reruns: bool = False
    # SDK v1's regenerate_outputs: no step takes an earlier execution's outputs.
    regenerate_outputs: bool = False
    rerun_of: str | None = None  # the run this one reran (`Rerun`)
    # Steps that took an earlier execution's outputs: node id -> [run id, node id] where they are
    # stored (the step's `reused_from` says the rest); read by whoever stages or lists them.
    reused: dict[str, list[str]] = field(default_factory=dict)
    cancel_requested: bool = False
    # A step failed (the run may go on: ContinueRunOnStepFailure), and a step had an attempt that did not
    # end by its script (a retry, a lost worker): kept on the run row, which lists read without the steps.
    has_errors: bool = False
    has_warnings: bool = False
    total_steps: int = 0
    created: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    modified: datetime | None = None
    etag: str | None = None
    webhooks: tuple[Webhook, ...] = ()  # its endpoint's when it was submitted: they receive its events
    devops_task: DevOpsTask | None = None  # the Azure DevOps job waiting for its end (`pipelines.runs.devops`)
    # When the last nudge of its events sent becomes visible (`pipelines.runs.notify`): a change
    # committed well before then needs no nudge of its own, that one reads it.
    events_nudge: datetime | None = None

    @property
    def partition(self) -> str:
        return run_partition(self.workspace, self.id)

    def to_entity(self) -> dict[str, Any]:
        return {
            "PartitionKey": self.partition,
            "RowKey": RUN_ROW,
            "RunId": self.id,
            "Workspace": self.workspace,
            "PipelineId": self.pipeline_id,
            "GraphId": self.graph_id,
            "Status": int(self.status),
            "Detail": self.detail,
            "ExperimentName": self.experiment_name,
            "Description": self.description,
            "DisplayName": self.display_name,
            "RunNumber": self.run_number,
            "RunSource": self.run_source,
            "RunType": self.run_type,
            "Parameters": json_text(self.parameters),
            "DataAssignments": json_text(self.data_assignments),
            "DataPathAssignments": json_text(self.datapath_assignments),
            "Tags": json_text(self.tags),
            "Properties": json_text(self.properties),
            "ScheduleId": self.schedule_id,
            "ParentRunId": self.parent_run_id,
            "EndpointId": self.endpoint_id,
            "PipelineVersion": self.pipeline_version,
            "SubmittedBy": self.submitted_by,
            "SubmittedByName": self.submitted_by_name,
            "ContinueOnStepFailure": self.continue_on_step_failure,
            "AllowStepReruns": self.allow_step_reruns,
            "RegenerateOutputs": self.regenerate_outputs,
            "RerunOf": self.rerun_of,
            "Reused": json_text(self.reused) if self.reused else None,
            "CancelRequested": self.cancel_requested,
            "HasErrors": self.has_errors,
            "HasWarnings": self.has_warnings,
            "TotalSteps": self.total_steps,
            "Created": time_text(self.created),
            "Started": time_text(self.started),
            "Ended": time_text(self.ended),
            "Modified": time_text(self.modified),
            "Webhooks": webhooks_text(self.webhooks),
            "DevOpsTask": self.devops_task.text() if self.devops_task is not None else None,
            "EventsNudge": time_text(self.events_nudge),
        }

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> Run:
        return cls(
            id=entity["RunId"],
            workspace=entity["Workspace"],
            pipeline_id=entity["PipelineId"],
            graph_id=entity["GraphId"],
            status=RunStatus(entity.get("Status", 0)),
            detail=entity.get("Detail"),
            experiment_name=entity.get("ExperimentName"),
            description=entity.get("Description"),
            display_name=entity.get("DisplayName"),
            run_number=entity.get("RunNumber"),
            run_source=entity.get("RunSource"),
            run_type=entity.get("RunType"),
            parameters=parse_json(entity.get("Parameters"), {}),
            data_assignments=parse_json(entity.get("DataAssignments"), {}),
            datapath_assignments=parse_json(entity.get("DataPathAssignments"), {}),
            tags=parse_json(entity.get("Tags"), {}),
            properties=parse_json(entity.get("Properties"), {}),
            schedule_id=entity.get("ScheduleId"),
            parent_run_id=entity.get("ParentRunId"),
            endpoint_id=entity.get("EndpointId"),
            pipeline_version=entity.get("PipelineVersion"),
            submitted_by=entity.get("SubmittedBy"),
            submitted_by_name=entity.get("SubmittedByName"),
            continue_on_step_failure=bool(entity.get("ContinueOnStepFailure", False)),
            allow_step_reruns=bool(entity.get("AllowStepReruns", False)),
            regenerate_outputs=bool(entity.get("RegenerateOutputs", False)),
            rerun_of=entity.get("RerunOf"),
            reused=parse_json(entity.get("Reused"), {}),
            cancel_requested=bool(entity.get("CancelRequested", False)),
            has_errors=bool(entity.get("HasErrors", False)),
            has_warnings=bool(entity.get("HasWarnings", False)),
            total_steps=int(entity.get("TotalSteps", 0)),
            created=parse_time(entity.get("Created")),
            started=parse_time(entity.get("Started")),
            ended=parse_time(entity.get("Ended")),
            modified=parse_time(entity.get("Modified")),
            etag=etag_of(entity),
            webhooks=parse_webhooks(entity.get("Webhooks")),
            devops_task=DevOpsTask.from_text(entity.get("DevOpsTask")),
            events_nudge=parse_time(entity.get("EventsNudge")),
        )


@dataclass
class StepMessage:
    """What a queue message carries: ids, never payloads."""

    workspace: str
    run_id: str
    node_id: str
    attempt: int

    def to_payload(self) -> dict[str, Any]:
        return {"ws": self.workspace, "run": self.run_id, "node": self.node_id, "attempt": self.attempt}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> StepMessage:
        return cls(
            workspace=str(payload["ws"]),
            run_id=str(payload["run"]),
            node_id=str(payload["node"]),
            attempt=int(payload["attempt"]),
        )
