"""Wire models of event triggers and schedules (the project's own routes): PascalCase
lives here; the services take `Trigger` and `Schedule` and answer them.

Bodies are read as the submit body is: keys in any case; a key that is a near miss
of a known one (`SubjectBeginWith`, `Intervall`) is a 400 naming the key it meant;
other unknown keys are ignored and listed in the `x-ms-ignored-keys` header (with
those of `Request`, as `Request.<key>`). What an answer holds and a body does not
set (`Name`, `Etag`, the dates, `LastError`, ...) is ignored silently, so an answer
can be sent back as it is. Every problem is reported at once, in one 400. The
answers are `pipelines.api.automation_answers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import quote

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
    field_validator,
)
from pydantic.json_schema import JsonSchemaMode, WithJsonSchema

from pipelines.api.automation_answers import EventTriggerEntity, ScheduleEntity
from pipelines.api.json_types import WholeNumber
from pipelines.errors import BadRequestError, ErrorDetail
from pipelines.runs.body_keys import sort_keys
from pipelines.runs.request import SubmitRequest, read_submit, refuse
from pipelines.runs.template import RunTemplate
from pipelines.schedules.model import FREQUENCIES, MAX_INTERVAL, Recurrence, Schedule
from pipelines.store.tables import KEY_PATTERN
from pipelines.triggers.model import MAX_EVENT_TYPES, PLACEHOLDERS, Trigger
from pipelines.vocabulary import EntityStatus, now

MAX_TEXT = 1024
IGNORED_KEYS_HEADER = "x-ms-ignored-keys"
MAX_HEADER = 2048
_TARGET_KEYS = ("PipelineId", "PipelineEndpointId", "PipelineEndpointName")
# Keys of an answer that a body does not set: ignored silently when sent back.
_ANSWER_KEYS = ("Name", "Etag", "CreatedDate", "LastModifiedDate", "CreatedBy", "LastModifiedBy", "LastFiredTime",
                "LastRunId", "LastError", "SkippedCount")

Text = Annotated[StrictStr, Field(max_length=MAX_TEXT)]
# A target is looked up (a Table key: no / \\ # ? | nor control character, else a 400); documented so.
Target = Annotated[StrictStr, Field(max_length=MAX_TEXT), WithJsonSchema(
    {"type": "string", "maxLength": MAX_TEXT, "pattern": KEY_PATTERN})]
EventTypes = Annotated[list[Annotated[StrictStr, Field(min_length=1)]], Field(max_length=MAX_EVENT_TYPES)]


# -- bodies ----------------------------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _one_target(schema: dict[str, Any]) -> None:
    """Exactly one of the three targets is a non-empty string; PipelineVersion goes with an endpoint."""
    named = {"type": "string", "minLength": 1}
    none = {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 0}]}
    targets = ("PipelineId", "PipelineEndpointId", "PipelineEndpointName")
    schema["anyOf"] = [
        {"required": [target], "properties": {
            **{other: named if other == target else none for other in targets},
            **({"PipelineVersion": none} if target == "PipelineId" else {}),
        }}
        for target in targets
    ]


class _TemplateBody(_Body):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_one_target)
    description: Text | None = Field(None, alias="Description")
    pipeline_id: Target | None = Field(None, alias="PipelineId")
    pipeline_endpoint_id: Target | None = Field(None, alias="PipelineEndpointId")
    pipeline_endpoint_name: Target | None = Field(None, alias="PipelineEndpointName")
    pipeline_version: Text | None = Field(None, alias="PipelineVersion", description="With an endpoint only.")
    request: dict[str, Any] | None = Field(None, alias="Request", description=(
        "The submit body of every run it starts, checked when written against the target's parameters and"
        " data inputs as a submit checks them."))
    entity_status: Any = Field(None, alias="EntityStatus", description="Default Active.")


class EventTriggerRequest(_TemplateBody):
    """Exactly one of PipelineId, PipelineEndpointId, PipelineEndpointName names the target. The
    strings of Request may hold {id}, {eventType}, {subject}, {topic}, {eventTime}, {data.<key>},
    {blobContainer}, {blobPath}, {blobName}, {datastorePath}: any of them in a string parameter's
    value; an int, float or bool parameter only a whole {data.<key>}."""

    event_types: EventTypes | None = Field(None, alias="EventTypes",
                                           description="Empty or absent: every type.")
    subject_begins_with: Text | None = Field(None, alias="SubjectBeginsWith")
    subject_ends_with: Text | None = Field(None, alias="SubjectEndsWith")


class RecurrenceRequest(_Body):
    """Fires at StartTime + k x Interval; a fire time missed while nothing ran is not made up."""

    frequency: str = Field(alias="Frequency", json_schema_extra={"enum": list(FREQUENCIES)},
                           description="Any case.")
    interval: WholeNumber = Field(alias="Interval", ge=1, le=MAX_INTERVAL)
    start_time: datetime | None = Field(
        None, alias="StartTime", description="ISO 8601; UTC when it names no offset. Default: when written.")
    time_zone: Literal["UTC", "Coordinated Universal Time"] | None = Field(None, alias="TimeZone",
                                                                          description="Only UTC.")

    @field_validator("frequency", mode="before")
    @classmethod
    def _frequency(cls, value: Any) -> str:
        canonical = {f.lower(): f for f in FREQUENCIES}.get(str(value).lower())
        if canonical is None:
            raise ValueError("not a frequency")
        return canonical

    @field_validator("start_time", mode="before")
    @classmethod
    def _start_time(cls, value: Any) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("not a time")
        start = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)  # as the old SDK: UTC unless said otherwise
        try:
            return start.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC time
            raise ValueError("out of range") from None


class ScheduleRequest(_TemplateBody):
    """Exactly one of PipelineId, PipelineEndpointId, PipelineEndpointName names the target."""

    recurrence: RecurrenceRequest = Field(alias="Recurrence")


# The 400 of each key, as the routes have always said it.
def _text_message(name: str) -> str:
    return f"{name} must be a string of {MAX_TEXT} characters at most"


_MESSAGES: dict[str, str] = {
    **{name: _text_message(name) for name in (
        "Description", *_TARGET_KEYS, "PipelineVersion", "SubjectBeginsWith", "SubjectEndsWith")},
    "Request": "Request must be the submit body to send, an object",
    "EventTypes": f"EventTypes must be a list of at most {MAX_EVENT_TYPES} names",
    "Recurrence": 'Recurrence must be {"Frequency", "Interval", "StartTime"}',
    "Recurrence.Frequency": f"Frequency must be one of {', '.join(FREQUENCIES)}",
    "Recurrence.Interval": f"Interval must be a whole number from 1 to {MAX_INTERVAL}",
    "Recurrence.StartTime": "StartTime must be an ISO 8601 time",
    "Recurrence.TimeZone": "only UTC recurrences are supported",
}
_NESTED = {"Recurrence": RecurrenceRequest}

B = TypeVar("B", bound=_TemplateBody)
T = TypeVar("T")


@dataclass(frozen=True)
class Parsed(Generic[T]):
    value: T
    ignored_keys: list[str]


def _aliases(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _problems_of(error: ValidationError, where: tuple[str, ...] = ()) -> list[ErrorDetail]:
    found: list[ErrorDetail] = []
    for item in error.errors(include_url=False):
        loc = [*where, *(str(part) for part in item["loc"] if not isinstance(part, int))]
        for size in range(len(loc), 0, -1):
            target = ".".join(loc[:size])
            if target in _MESSAGES:
                detail = ErrorDetail("UserError", _MESSAGES[target], target)
                break
        else:
            detail = ErrorDetail("UserError", f"{'.'.join(loc)}: {item['msg']}", ".".join(loc) or None)
        if detail not in found:
            found.append(detail)
    return found


def _read(model: type[B], body: Mapping[str, Any], *, sample: bool) -> tuple[B, SubmitRequest, list[str]]:
    """The body as `model`, its Request as a SubmitRequest, the keys ignored; or one 400."""
    values, ignored, problems = sort_keys(body, _aliases(model), silent=_ANSWER_KEYS)
    for key, nested in _NESTED.items():
        if isinstance(values.get(key), Mapping):
            values[key], more, wrong = sort_keys(values[key], _aliases(nested), where=f"{key}.")
            ignored += more
            problems += wrong
    parsed: B | None = None
    try:
        parsed = model.model_validate(values)
    except ValidationError as exc:
        problems += _problems_of(exc)
    request = SubmitRequest()
    raw_request = values.get("Request")
    if isinstance(raw_request, Mapping):
        try:
            submitted = read_submit(raw_request, sample=PLACEHOLDERS.sample if sample else None)
            request = submitted.request
            ignored += [f"Request.{key}" for key in submitted.ignored_keys]
        except BadRequestError as exc:
            problems += [_retarget(d, f"Request.{d.target}" if d.target else "Request")
                         for d in exc.details or [ErrorDetail(exc.code, exc.message, exc.target)]]
    if parsed is not None:
        targets = [parsed.pipeline_id, parsed.pipeline_endpoint_id, parsed.pipeline_endpoint_name]
        if len([t for t in targets if t]) != 1:
            problems.append(ErrorDetail(
                "UserError", "give exactly one of PipelineId, PipelineEndpointId, PipelineEndpointName",
                "PipelineId"))
        elif parsed.pipeline_version and parsed.pipeline_id:
            problems.append(
                ErrorDetail("UserError", "PipelineVersion goes with an endpoint", "PipelineVersion"))
        if parsed.entity_status is not None:
            try:
                EntityStatus.parse(parsed.entity_status)
            except BadRequestError as exc:
                problems.append(ErrorDetail(exc.code, exc.message, exc.target))
    if problems or parsed is None:
        raise refuse(problems)
    return parsed, request, ignored


def _retarget(detail: ErrorDetail, target: str) -> ErrorDetail:
    return ErrorDetail(detail.code, detail.message, target)


def _template(body: _TemplateBody, request: SubmitRequest) -> RunTemplate:
    return RunTemplate(
        pipeline_id=body.pipeline_id, endpoint_id=body.pipeline_endpoint_id,
        endpoint_name=body.pipeline_endpoint_name, pipeline_version=body.pipeline_version, request=request,
    )


def _status(body: _TemplateBody) -> EntityStatus:
    return EntityStatus.ACTIVE if body.entity_status is None else EntityStatus.parse(body.entity_status)


def trigger_from_wire(body: Mapping[str, Any], workspace: str, name: str) -> Parsed[Trigger]:
    """A PUT body of .../EventTriggers/{name} as the Trigger to write."""
    parsed, request, ignored = _read(EventTriggerRequest, body, sample=True)
    trigger = Trigger(
        workspace=workspace, name=name, description=parsed.description, template=_template(parsed, request),
        event_types=list(parsed.event_types or []), subject_begins_with=parsed.subject_begins_with,
        subject_ends_with=parsed.subject_ends_with, status=_status(parsed),
    )
    return Parsed(trigger, ignored)


def schedule_from_wire(body: Mapping[str, Any], workspace: str, name: str) -> Parsed[Schedule]:
    """A PUT body of .../Schedules/{name} as the Schedule to write (no StartTime: from now)."""
    parsed, request, ignored = _read(ScheduleRequest, body, sample=False)
    recurrence = parsed.recurrence
    schedule = Schedule(
        workspace=workspace, name=name, description=parsed.description, template=_template(parsed, request),
        recurrence=Recurrence(recurrence.frequency, recurrence.interval, recurrence.start_time or now()),
        status=_status(parsed),
    )
    return Parsed(schedule, ignored)


def recurrence_from_wire(value: Any, *, default_start: datetime) -> Recurrence:
    """A `Recurrence` object of a body; a 400 whose targets start with `Recurrence`."""
    if not isinstance(value, Mapping):
        raise refuse([ErrorDetail("UserError", _MESSAGES["Recurrence"], "Recurrence")])
    values, _, problems = sort_keys(value, _aliases(RecurrenceRequest), where="Recurrence.")
    try:
        parsed = RecurrenceRequest.model_validate(values)
    except ValidationError as exc:
        raise refuse(problems + _problems_of(exc, ("Recurrence",))) from None
    if problems:
        raise refuse(problems)
    return Recurrence(parsed.frequency, parsed.interval, parsed.start_time or default_start)


def ignored_keys_header(keys: list[str]) -> dict[str, str]:
    """`x-ms-ignored-keys`: the keys a body held that nothing read (percent-encoded, comma-separated)."""
    listed: list[str] = []
    for key in keys:
        quoted = quote(key, safe="")
        if sum(len(k) + 1 for k in listed) + len(quoted) > MAX_HEADER:
            break  # a header is no place for a body's worth of keys: the first ones say enough
        listed.append(quoted)
    return {IGNORED_KEYS_HEADER: ",".join(listed)} if listed else {}



# What OpenAPI documents (pipelines.api.openapi): bodies as read, answers as written; and
# properties whose schema is one written there by hand (pydantic cannot refer to it).
MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = (
    (EventTriggerRequest, "validation"),
    (ScheduleRequest, "validation"),
    (EventTriggerEntity, "serialization"),
    (ScheduleEntity, "serialization"),
)
LINKS: dict[tuple[str, str], str] = {
    (body.__name__, key): schema
    for body in (EventTriggerRequest, ScheduleRequest)
    for key, schema in (("Request", "SubmitRequest"), ("EntityStatus", "EntityStatusValue"))
}
