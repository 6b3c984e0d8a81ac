"""Answers of event triggers and schedules (the project's own routes), as wire models.

A trigger or a schedule is answered with what it was written with (its `Request`
in the submit body's keys, what it leaves unset absent) and how its firings went:
the last one, the run it started, or why it started none. The bodies they are
written with are read in `pipelines.api.automation_contract`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pipelines.api import answers
from pipelines.api.contract import Wire, wire_time
from pipelines.runs.request import SubmitRequest
from pipelines.runs.template import Author, FiringError
from pipelines.schedules.model import Schedule
from pipelines.triggers.model import Trigger

_ENTITY_STATUS = "0 Active, 1 Deprecated, 2 Disabled."


class FiringErrorEntity(Wire):
    """Why the last firing that started no run did not: the error a submit would have answered."""

    code: str = Field(alias="Code", description="InvalidParameter, EntityDisabled, NotFound, UserError,"
                                                " PlaceholderNotFilled, ...")
    message: str = Field(alias="Message", description="Names every key it is about.")
    details: list[answers.ErrorDetail] = Field(alias="Details")
    time: str = Field(alias="Time")
    event_id: str | None = Field(alias="EventId", description="The event it was (an event trigger).")
    fire_time: str | None = Field(alias="FireTime", description="The fire time it was (a schedule).")


class RecurrenceEntity(Wire):
    frequency: str = Field(alias="Frequency")
    interval: int = Field(alias="Interval")
    start_time: str = Field(alias="StartTime")
    time_zone: str = Field(alias="TimeZone")


class AuthorEntity(Wire):
    """Who wrote it, from the caller's token (SDK v1's `CreatedBy`)."""

    user_object_id: str = Field(alias="UserObjectId", description="The caller's object id, else its application id.")
    user_tenant_id: str | None = Field(alias="UserTenantId")
    user_name: str | None = Field(alias="UserName", description="The token's name, when it has one.")


class _AutomationEntity(Wire):
    name: str = Field(alias="Name")
    description: str | None = Field(alias="Description")
    pipeline_id: str | None = Field(alias="PipelineId")
    pipeline_endpoint_id: str | None = Field(alias="PipelineEndpointId")
    pipeline_endpoint_name: str | None = Field(alias="PipelineEndpointName")
    pipeline_version: str | None = Field(alias="PipelineVersion")
    request: dict[str, Any] = Field(alias="Request", description="The submit body, placeholders unfilled.")
    entity_status: int = Field(alias="EntityStatus", description=_ENTITY_STATUS)
    etag: str | None = Field(alias="Etag")
    created_date: str | None = Field(alias="CreatedDate")
    last_modified_date: str | None = Field(alias="LastModifiedDate")
    created_by: AuthorEntity | None = Field(alias="CreatedBy", description=(
        "Who created it (null when it was written before authors were kept)."))
    last_modified_by: AuthorEntity | None = Field(alias="LastModifiedBy", description=(
        "Who wrote it last: its runs start in no caller's name, so this is who answers for them."))
    last_fired_time: str | None = Field(alias="LastFiredTime", description=(
        "When the last firing was (an event trigger: when its event came; a schedule: its fire time),"
        " whether it started a run or not."))
    last_run_id: str | None = Field(alias="LastRunId",
                                    description="The run of the last firing that started one.")
    last_error: FiringErrorEntity | None = Field(alias="LastError", description=(
        "Why the last firing that started no run did not; kept after later runs (compare its Time)."))
    skipped_count: int = Field(alias="SkippedCount", description="How many firings started no run.")


class EventTriggerEntity(_AutomationEntity):
    event_types: list[str] = Field(alias="EventTypes")
    subject_begins_with: str | None = Field(alias="SubjectBeginsWith")
    subject_ends_with: str | None = Field(alias="SubjectEndsWith")


class ScheduleEntity(_AutomationEntity):
    recurrence: RecurrenceEntity = Field(alias="Recurrence")
    # What SDK v1's `Schedule` reads (its `PipelineScheduleEntity`), beside the keys above.
    id: str = Field(alias="Id", description="The schedule's name: SDK v1's `Schedule.get(ws, id)` takes it.")
    schedule_type: str = Field(alias="ScheduleType", description="Always Recurrence.")
    provisioning_status: str = Field(alias="ProvisioningStatus", description="Always Completed.")
    pipeline_submission_info: dict[str, Any] = Field(alias="PipelineSubmissionInfo",
                                                     description="Request, under SDK v1's name.")


_REQUEST_TEXTS = (
    ("ExperimentName", "experiment_name"), ("Description", "description"), ("RunSource", "run_source"),
    ("RunType", "run_type"),
)
_REQUEST_MAPS = (
    ("ParameterAssignments", "parameter_assignments"), ("DataPathAssignments", "datapath_assignments"),
    ("DataSetDefinitionValueAssignments", "dataset_assignments"), ("Tags", "tags"),
    ("Properties", "properties"),
)
_REQUEST_TAIL = (
    ("ContinueRunOnStepFailure", "continue_on_step_failure"), ("ScheduleId", "schedule_id"),
    ("DisplayName", "display_name"), ("ParentRunId", "parent_run_id"),
)


def request_wire(request: SubmitRequest) -> dict[str, Any]:
    """The submit body a template sends, in the contract's keys; what it leaves unset is absent."""
    body: dict[str, Any] = {}
    for key, attribute in (*_REQUEST_TEXTS, *_REQUEST_MAPS, *_REQUEST_TAIL):
        value = getattr(request, attribute)
        if value is not None and value != {}:
            body[key] = value
    if request.regenerate_outputs:
        body["RegenerateOutputs"] = True
    return body


def _firing_error(error: FiringError | None) -> FiringErrorEntity | None:
    if error is None:
        return None
    return FiringErrorEntity(
        code=error.code, message=error.message, time=wire_time(error.time) or "",
        details=[answers.ErrorDetail(code=d.code, message=d.message, target=d.target) for d in error.details],
        event_id=error.event_id, fire_time=wire_time(error.fire_time),
    )


def _author(author: Author | None) -> AuthorEntity | None:
    if author is None:
        return None
    return AuthorEntity(user_object_id=author.object_id, user_tenant_id=author.tenant_id, user_name=author.name)


def _common(item: Trigger | Schedule) -> dict[str, Any]:
    """The keys a trigger and a schedule share."""
    template, firings = item.template, item.firings
    return {
        "name": item.name, "description": item.description, "pipeline_id": template.pipeline_id,
        "pipeline_endpoint_id": template.endpoint_id, "pipeline_endpoint_name": template.endpoint_name,
        "pipeline_version": template.pipeline_version, "request": request_wire(template.request),
        "entity_status": int(item.status), "etag": item.etag, "created_date": wire_time(item.created),
        "last_modified_date": wire_time(item.modified), "created_by": _author(item.created_by),
        "last_modified_by": _author(item.modified_by), "last_fired_time": wire_time(firings.last_fired),
        "last_run_id": firings.last_run_id, "last_error": _firing_error(firings.last_error),
        "skipped_count": firings.skipped_count,
    }


def trigger_entity(trigger: Trigger) -> EventTriggerEntity:
    return EventTriggerEntity.model_validate({
        **_common(trigger),
        "event_types": list(trigger.event_types), "subject_begins_with": trigger.subject_begins_with,
        "subject_ends_with": trigger.subject_ends_with,
    })


def schedule_entity(schedule: Schedule) -> ScheduleEntity:
    recurrence, common = schedule.recurrence, _common(schedule)
    return ScheduleEntity.model_validate({
        **common,
        "recurrence": RecurrenceEntity(frequency=recurrence.frequency, interval=recurrence.interval,
                                       start_time=recurrence.start.isoformat(), time_zone="UTC"),
        "id": schedule.name, "schedule_type": "Recurrence", "provisioning_status": "Completed",
        "pipeline_submission_info": common["request"],
    })
