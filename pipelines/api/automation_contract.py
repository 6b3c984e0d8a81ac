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
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import quote

from pydantic import (
    AfterValidator,
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
from pipelines.api.openapi_parts import pattern_of
from pipelines.errors import BadRequestError, ErrorDetail
from pipelines.runs.body_keys import sort_keys
from pipelines.runs.request import SubmitRequest, read_submit, refuse
from pipelines.runs.template import RunTemplate
from pipelines.schedules.model import FREQUENCIES, MAX_INTERVAL, Recurrence, Schedule
from pipelines.store.tables import KEY_PATTERN
from pipelines.triggers.model import MAX_EVENT_TYPES, NAME, PLACEHOLDERS, Trigger
from pipelines.vocabulary import EntityStatus, now

MAX_TEXT = 1024
IGNORED_KEYS_HEADER = "x-ms-ignored-keys"
MAX_HEADER = 2048
_TARGET_KEYS = ("PipelineId", "PipelineEndpointId", "PipelineEndpointName")
# Keys of an answer that a body does not set: ignored silently when sent back.
_ANSWER_KEYS = ("Name", "Etag", "CreatedDate", "LastModifiedDate", "CreatedBy", "LastModifiedBy", "LastFiredTime",
                "LastRunId", "LastError", "SkippedCount", "Id", "ProvisioningStatus")
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# SDK v1's ScheduleType: a recurrence (0), or a datastore polled for new blobs (1), which is not kept here.
RECURRENCE_TYPES = ("0", "recurrence")

Text = Annotated[StrictStr, Field(max_length=MAX_TEXT)]
# A target is looked up (a Table key: no / \\ # ? | nor control character, else a 400); documented so.
Target = Annotated[StrictStr, Field(max_length=MAX_TEXT), WithJsonSchema(
    {"type": "string", "maxLength": MAX_TEXT, "pattern": KEY_PATTERN})]
def _named(value: str) -> str:
    if not NAME.match(value):
        raise ValueError("not a name")
    return value


# A schedule's or a trigger's name, as the path takes it.
ScheduleName = Annotated[StrictStr, AfterValidator(_named),
                         WithJsonSchema({"type": "string", "pattern": pattern_of(NAME)})]
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


class TimesRequest(_Body):
    """SDK v1's `Recurrence.Schedule`: the time of day (and the day of the week) a Day or Week
    recurrence fires at, one of each; the first fire time is the first such time from StartTime."""

    hours: list[Annotated[WholeNumber, Field(ge=0, le=23)]] | None = Field(
        None, alias="Hours", max_length=1, description="One hour, UTC (Day and Week).")
    minutes: list[Annotated[WholeNumber, Field(ge=0, le=59)]] | None = Field(
        None, alias="Minutes", max_length=1, description="One minute; default 0.")
    week_days: list[Any] | None = Field(
        None, alias="WeekDays", max_length=1, description="One day, Monday to Sunday or 0 to 6 (Week).")

    @field_validator("week_days", mode="before")
    @classmethod
    def _week_days(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        days = []
        for day in value:
            if isinstance(day, str) and day.isdigit() and int(day) < len(WEEK_DAYS):
                day = WEEK_DAYS[int(day)]  # the service's own enum: "0" is Monday
            canonical = {d.lower(): d for d in WEEK_DAYS}.get(str(day).lower())
            if canonical is None or isinstance(day, bool):
                raise ValueError("not a week day")
            days.append(canonical)
        return days


class RecurrenceRequest(_Body):
    """Fires at StartTime + k x Interval; a fire time missed while nothing ran is not made up."""

    frequency: str = Field(alias="Frequency", json_schema_extra={"enum": list(FREQUENCIES)},
                           description="Any case.")
    interval: WholeNumber = Field(alias="Interval", ge=1, le=MAX_INTERVAL)
    start_time: datetime | None = Field(
        None, alias="StartTime", description="ISO 8601; UTC when it names no offset. Default: when written.")
    time_zone: Literal["UTC", "Coordinated Universal Time"] | None = Field(None, alias="TimeZone",
                                                                          description="Only UTC.")
    times: TimesRequest | None = Field(None, alias="Schedule", description=(
        "SDK v1's hours, minutes and week days, one of each: moves the first fire time to the first"
        " such time from StartTime (Day and Week only)."))

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
    """Exactly one of PipelineId, PipelineEndpointId, PipelineEndpointName names the target.
    SDK v1's `Schedule` sends its own keys, read too: `PipelineSubmissionInfo` is `Request`'s
    name there, and `ScheduleType` says a recurrence."""

    recurrence: RecurrenceRequest = Field(alias="Recurrence")
    pipeline_submission_info: dict[str, Any] | None = Field(None, alias="PipelineSubmissionInfo", description=(
        "SDK v1's name of Request: read when Request is absent."))
    schedule_type: Any = Field(None, alias="ScheduleType", description=(
        "Recurrence (or 0), as SDK v1 sends it; a datastore schedule (DataStore, 1) is not kept here."))
    data_store_trigger_info: Any = Field(None, alias="DataStoreTriggerInfo", description=(
        "SDK v1's datastore schedule: must be null (an event trigger on the container does that job)."))


class ScheduleCreationRequest(ScheduleRequest):
    """SDK v1's `ScheduleCreationInfo`: a PUT's body and the schedule's `Name`."""

    name: ScheduleName = Field(alias="Name", description="Letters, digits, _ and - (100 at most); its Id.")


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
    "Name": "Name must be the schedule's name: letters, digits, _ and - (100 at most)",
    "Recurrence.Schedule": "Schedule must be {\"Hours\": [h], \"Minutes\": [m], \"WeekDays\": [day]}, one of each",
    "PipelineSubmissionInfo": "PipelineSubmissionInfo must be the submit body to send, an object",
}
_NESTED = {"Recurrence": RecurrenceRequest}
_DATASTORE_SCHEDULE = (
    "a schedule that polls a datastore for new blobs is not kept here: an event trigger on the container"
    " (PUT .../EventTriggers/{name}) starts a run on each new blob, without polling"
)

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
    if issubclass(model, ScheduleRequest):
        _refuse_datastore_schedule(values)
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
    # SDK v1 names it PipelineSubmissionInfo (and sends no Request); an answer sent back has both.
    request_key = "Request" if values.get("Request") is not None else "PipelineSubmissionInfo"
    raw_request = values.get(request_key)
    other = values.get("PipelineSubmissionInfo")
    if request_key == "Request" and other is not None and other != raw_request:
        ignored.append("PipelineSubmissionInfo")  # Request is read; this one says something else
    if isinstance(raw_request, Mapping):
        try:
            submitted = read_submit(raw_request, sample=PLACEHOLDERS.sample if sample else None)
            request = submitted.request
            ignored += [f"{request_key}.{key}" for key in submitted.ignored_keys]
        except BadRequestError as exc:
            problems += [_retarget(d, f"{request_key}.{d.target}" if d.target else request_key)
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
        if isinstance(parsed, ScheduleRequest):
            problems += _schedule_problems(parsed)
    if problems or parsed is None:
        raise refuse(problems)
    return parsed, request, ignored


def _refuse_datastore_schedule(values: Mapping[str, Any]) -> None:
    """SDK v1's datastore schedule (ScheduleType 1, or DataStoreTriggerInfo): one 400, saying what to use."""
    kind, info = values.get("ScheduleType"), values.get("DataStoreTriggerInfo")
    if info is not None or (kind is not None and str(kind).lower() not in RECURRENCE_TYPES):
        target = "ScheduleType" if kind is not None else "DataStoreTriggerInfo"
        raise refuse([ErrorDetail("UserError", _DATASTORE_SCHEDULE, target)])


def _schedule_problems(body: ScheduleRequest) -> list[ErrorDetail]:
    """What SDK v1's hours, minutes and week days ask that a schedule here cannot do."""
    problems = []
    times, frequency = body.recurrence.times, body.recurrence.frequency
    if times is not None and (times.hours or times.minutes or times.week_days):
        if frequency not in ("Day", "Week"):
            problems.append(ErrorDetail("UserError", "hours, minutes and week days go with a Day or Week"
                                        " recurrence", "Recurrence.Schedule"))
        elif times.week_days and frequency != "Week":
            problems.append(ErrorDetail("UserError", "week days go with a Week recurrence",
                                        "Recurrence.Schedule.WeekDays"))
        elif times.minutes and not times.hours:
            problems.append(ErrorDetail("UserError", "minutes go with an hour", "Recurrence.Schedule.Hours"))
    return problems


def first_fire_time(recurrence: RecurrenceRequest, default_start: datetime) -> datetime:
    """The recurrence's start: StartTime (else `default_start`), moved on to the first time of day
    and day of the week its `Schedule` names (a week day alone keeps StartTime's time of day)."""
    start = recurrence.start_time or default_start
    times = recurrence.times
    if times is None:
        return start
    moved = start
    try:
        if times.hours:
            moved = start.replace(hour=times.hours[0], minute=(times.minutes or [0])[0], second=0, microsecond=0)
            if moved < start:
                moved += timedelta(days=1)
        if times.week_days:
            moved += timedelta(days=(WEEK_DAYS.index(times.week_days[0]) - moved.weekday()) % 7)
    except OverflowError:
        raise refuse([ErrorDetail("UserError", "StartTime leaves no first fire time before the year 10000",
                                  "Recurrence.StartTime")]) from None
    return moved


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


def schedule_from_wire(body: Mapping[str, Any], workspace: str, name: str | None) -> Parsed[Schedule]:
    """A PUT body of .../Schedules/{name} as the Schedule to write (no StartTime: from now); with
    no `name`, a body of .../Schedules/Create, which names it."""
    model = ScheduleRequest if name is not None else ScheduleCreationRequest
    parsed, request, ignored = _read(model, body, sample=False)
    if isinstance(parsed, ScheduleCreationRequest):
        name = parsed.name
    assert name is not None
    recurrence = parsed.recurrence
    schedule = Schedule(
        workspace=workspace, name=name, description=parsed.description, template=_template(parsed, request),
        recurrence=Recurrence(recurrence.frequency, recurrence.interval, first_fire_time(recurrence, now())),
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
    return Recurrence(parsed.frequency, parsed.interval, first_fire_time(parsed, default_start))


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
    (ScheduleCreationRequest, "validation"),
    (EventTriggerEntity, "serialization"),
    (ScheduleEntity, "serialization"),
)
LINKS: dict[tuple[str, str], str] = {
    (body.__name__, key): schema
    for body in (EventTriggerRequest, ScheduleRequest, ScheduleCreationRequest)
    for key, schema in (("Request", "SubmitRequest"), ("EntityStatus", "EntityStatusValue"))
}
