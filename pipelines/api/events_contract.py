"""Run events on the wire: CloudEvents 1.0 in their structured JSON form, and the events route.

Every sink receives the same JSON (docs/contract.md §7): a webhook as the body
(`application/cloudevents+json`), the local queue as the message, Event Grid as the
SDK's `CloudEvent` made from it (`pipelines.store.eventgrid`). Its `data` speaks as the
run-history family does (camelCase, its status words, in the spirit of Azure ML's own
`Microsoft.MachineLearningServices.RunStatusChanged` events): ids, status, times, the
endpoint and version, and the error. `data` says the run as it was at the transition
(a `RunQueued` event has no start time even when delivered late), so every delivery of
an event, a retry included, carries the same body.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonSchemaMode

from pipelines.api.contract import wire_time
from pipelines.runs.engine import RunState
from pipelines.runs.events import RunEvent
from pipelines.runs.history import PIPELINE_RUN_TYPE, STEP_RUN_TYPE, experiment_id, experiment_of, step_run_id
from pipelines.runs.model import RunStatus, TaskStatus
from pipelines.settings import Settings

# The status of a run or step at each transition: the history family's word, and the pipelines
# family's StatusCode (a run's RunStatus, a step's TaskStatus).
_RUN_STATUS = {
    "RunQueued": ("NotStarted", RunStatus.NOT_STARTED),
    "RunStarted": ("Running", RunStatus.RUNNING),
    "RunFinished": ("Completed", RunStatus.FINISHED),
    "RunFailed": ("Failed", RunStatus.FAILED),
    "RunCanceled": ("Canceled", RunStatus.CANCELED),
}
_STEP_STATUS = {
    "StepStarted": ("Running", TaskStatus.RUNNING),
    "StepFinished": ("Completed", TaskStatus.FINISHED),
    "StepFailed": ("Failed", TaskStatus.FAILED),
    "StepCanceled": ("Canceled", TaskStatus.CANCELED),
}
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"


def source_of(settings: Settings) -> str:
    """The events' `source`: the setting, else the app's host name (Azure sets WEBSITE_HOSTNAME)."""
    if settings.events_source:
        return settings.events_source
    host = os.environ.get("WEBSITE_HOSTNAME")
    return f"https://{host}" if host else "urn:pipelines:local"


def subject_of(state: RunState, node_id: str | None) -> str:
    run = state.run
    run_id = step_run_id(run.id, node_id) if node_id else run.id
    return f"/workspaces/{run.workspace}/experiments/{experiment_of(run)}/runs/{run_id}"


def cloud_event(event: RunEvent, state: RunState, source: str) -> dict[str, Any]:
    """The event in CloudEvents' structured JSON form."""
    return {
        "specversion": "1.0",
        "id": event.id,
        "source": source,
        "type": event.type,
        "subject": subject_of(state, event.node_id),
        "time": wire_time(event.time),
        "datacontenttype": "application/json",
        "data": _data(event, state),
    }


def _data(event: RunEvent, state: RunState) -> dict[str, Any]:
    run = state.run
    experiment = experiment_of(run)
    common: dict[str, Any] = {
        "workspace": run.workspace, "experimentName": experiment,
        "experimentId": experiment_id(run.workspace, experiment), "pipelineRunId": run.id,
        "pipelineId": run.pipeline_id, "pipelineEndpointId": run.endpoint_id, "pipelineVersion": run.pipeline_version,
        "runSource": run.run_source,
    }
    if event.node_id is None:
        word, code = _RUN_STATUS[event.name]
        ended = event.name in ("RunFinished", "RunFailed", "RunCanceled")
        return {
            **common, "runId": run.id, "runType": PIPELINE_RUN_TYPE, "runNumber": run.run_number,
            "runStatus": word, "statusCode": int(code),
            "createdUtc": wire_time(run.created),
            "startTimeUtc": wire_time(run.started) if event.name != "RunQueued" else None,
            "endTimeUtc": wire_time(run.ended) if ended else None,
            "runTags": dict(run.tags),
            "error": {"message": run.detail or "the run failed"} if event.name == "RunFailed" else None,
        }
    step = state.steps[event.node_id]
    word, task = _STEP_STATUS[event.name]
    record = next((a for a in step.attempts if a.number == event.attempt), None)
    started = record.started if record is not None else step.started
    ended = event.name != "StepStarted"
    return {
        **common, "runId": step_run_id(run.id, step.node_id), "runType": STEP_RUN_TYPE,
        "parentRunId": run.id, "nodeId": step.node_id, "stepName": step.name, "attempt": event.attempt,
        "runStatus": word, "statusCode": int(task),
        "startTimeUtc": wire_time(started), "endTimeUtc": wire_time(step.ended) if ended else None,
        "exitCode": step.exit_code if ended else None,
        "error": {"message": step.detail or "the step failed"} if event.name == "StepFailed" else None,
    }


# -- the events route (GET .../PipelineRuns/{runId}/Events) ----------------------------------------
class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class EventDeliveryEntity(_Wire):
    """One event at one sink."""

    sink: str = Field(alias="Sink", description="queue NAME, Event Grid ENDPOINT, or webhook URL (without query).")
    status: str = Field(alias="Status", description="Delivered, Pending, or Failed (given up after every attempt).")
    attempts: int = Field(alias="Attempts", description="Attempts of the delivery under way at this sink.")
    next_attempt: str | None = Field(
        alias="NextAttempt",
        description="When a pending delivery is tried again; null while it is being tried (InProgress). A delivery "
                    "passed on to the sinks queue (its sink was slower than the notify queue waits for) is due from "
                    "then: it waits for a free slot of that queue.")
    in_progress: bool = Field(alias="InProgress", description="A deliverer is calling the sink now.")
    error: str | None = Field(alias="Error", description="Why the last attempt failed, or why it was given up.")


class RunEventEntity(_Wire):
    """An event of the run (our addition): its CloudEvent id, type, subject and time, and where it went."""

    id: str = Field(alias="Id")
    type: str = Field(alias="Type")
    subject: str = Field(alias="Subject")
    time: str | None = Field(alias="Time")
    deliveries: list[EventDeliveryEntity] = Field(alias="Deliveries")


MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = ((RunEventEntity, "serialization"),)
