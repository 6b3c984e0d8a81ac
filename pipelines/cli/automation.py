"""`trigger ...` and `schedule ...`: runs that start themselves, from the command line.

    pipelines trigger create on-arrival --endpoint compare-endpoint \\
        --event-type Microsoft.Storage.BlobCreated \\
        --subject-begins-with /blobServices/default/containers/workspaceblobstore/blobs/default/incoming/ \\
        --experiment on-arrival --param source={data.url}
    pipelines schedule create nightly --endpoint compare-endpoint --frequency Day --interval 1 \\
        --start-time 2026-12-01T02:00:00Z --experiment nightly --param pipeline_arg=20
    pipelines schedule create nightly --file nightly.json      # the PUT body of README "Runs on a schedule"
    pipelines schedule disable nightly

`create` replaces a resource of the same name. Flags given with `--file` override
the file's keys (a `--param` replaces only that parameter).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from pipelines.cli.common import (
    UsageError,
    add_workspace_options,
    data_assignments,
    pairs,
    read_json_file,
    workspace_of,
)
from pipelines.cli.output import Column, emit, entity_status_column, format_time, time_column

if TYPE_CHECKING:
    from pipelines.cli import Subparsers

FREQUENCIES = ["Minute", "Hour", "Day", "Week", "Month"]
_TARGET_KEYS = ("PipelineId", "PipelineEndpointId", "PipelineEndpointName")


def register(subparsers: Subparsers) -> None:
    _group(subparsers, "trigger", "event triggers: runs started by Event Grid events", _trigger_flags, _trigger)
    _group(subparsers, "schedule", "schedules: runs on a recurrence", _schedule_flags, _schedule)


def _group(subparsers: Subparsers, noun: str, text: str, flags: Callable[[argparse.ArgumentParser], None],
           handler: Callable[[argparse.Namespace], int]) -> None:
    parser = subparsers.add_parser(noun, help=f"{text}: create, list, show, delete, enable, disable")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)
    create = verbs.add_parser("create", help=f"create or replace a {noun} (from --file and/or flags)")
    create.add_argument("name", help="letters, digits, '_' and '-' (100 at most)")
    create.add_argument("--file", metavar="FILE", help="the JSON body of the PUT route ('-' reads stdin)")
    target = create.add_argument_group("target (one of)")
    target.add_argument("--pipeline-id", help="a published pipeline")
    target.add_argument("--endpoint", help="an endpoint, by name")
    target.add_argument("--endpoint-id", help="an endpoint, by id")
    target.add_argument("--version", help="the endpoint's version (default: its default version when it fires)")
    flags(create)
    request = create.add_argument_group("the run it starts (the Request)")
    request.add_argument("--experiment", help="experiment name of its runs")
    request.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                         help="a parameter assignment (repeat)")
    request.add_argument("--datapath", action="append", default=[], metavar="NAME=DATASTORE/PATH",
                         help="a DataPathAssignment (repeat)")
    request.add_argument("--dataset", action="append", default=[], metavar="NAME=DATASET_ID",
                         help="a DataSetDefinitionValueAssignment by registered dataset id (repeat)")
    create.add_argument("--description")
    create.add_argument("--disabled", action="store_true", help="create it disabled (enable it later)")
    verbs.add_parser("list", help=f"every {noun} of the workspace")
    for verb, help_text in (("show", f"a {noun}"), ("delete", f"remove a {noun}"),
                            ("enable", f"the {noun} fires again"), ("disable", f"the {noun} fires no more")):
        verbs.add_parser(verb, help=help_text).add_argument("name")
    if noun == "schedule":
        runs = verbs.add_parser("runs", help="the runs the schedule started, newest first")
        runs.add_argument("name")
        runs.add_argument("--top", type=int, default=20, help="at most this many runs (default 20)")
    for sub in verbs.choices.values():
        add_workspace_options(sub)
        sub.set_defaults(handler=handler, noun=noun)


def _trigger_flags(create: argparse.ArgumentParser) -> None:
    events = create.add_argument_group("the events it matches")
    events.add_argument("--event-type", action="append", default=[], metavar="TYPE",
                        help="e.g. Microsoft.Storage.BlobCreated (repeat; default: any)")
    events.add_argument("--subject-begins-with", metavar="PREFIX")
    events.add_argument("--subject-ends-with", metavar="SUFFIX")


def _schedule_flags(create: argparse.ArgumentParser) -> None:
    recurrence = create.add_argument_group("the recurrence: it fires at start time + k x interval (UTC)")
    recurrence.add_argument("--frequency", type=_frequency, metavar="|".join(FREQUENCIES))
    recurrence.add_argument("--interval", type=int, help="a whole number of frequencies, 1 to 1000")
    recurrence.add_argument("--start-time", metavar="ISO8601", help="e.g. 2026-12-01T02:00:00Z (default: now)")
    recurrence.add_argument("--time-of-day", metavar="HH:MM", help="Day or Week: the first fire time is the first"
                            " such time (UTC) from the start time")
    recurrence.add_argument("--week-day", metavar="DAY", help="Week: ... and that day (Monday to Sunday)")


def _frequency(value: str) -> str:
    found = {f.lower(): f for f in FREQUENCIES}.get(value.lower())
    if found is None:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(FREQUENCIES)}")
    return found


# -- tables ------------------------------------------------------------------------------------------------
def _target(item: dict[str, Any]) -> str:
    for key, label in (("PipelineEndpointName", "endpoint "), ("PipelineEndpointId", "endpoint id "),
                       ("PipelineId", "pipeline ")):
        if item.get(key):
            version = f" v{item['PipelineVersion']}" if item.get("PipelineVersion") else ""
            return f"{label}{item[key]}{version}"
    return ""


def _last_error(item: dict[str, Any]) -> str:
    error = item.get("LastError")
    if not error:
        return ""
    if isinstance(error, dict):
        when = format_time(error.get("Time"))
        text = ": ".join(str(error[k]) for k in ("Code", "Message") if error.get(k))
        return f"{text} ({when})" if when else text
    return str(error)


def _written_by(item: dict[str, Any]) -> str:
    author = item.get("LastModifiedBy")
    if not isinstance(author, dict):
        return ""
    return str(author.get("UserName") or author.get("UserObjectId") or "")


def _experiment(item: dict[str, Any]) -> str:
    request = item.get("Request")
    return str(request.get("ExperimentName") or "") if isinstance(request, dict) else ""


def _recurrence(item: dict[str, Any]) -> str:
    value = item.get("Recurrence") or {}
    if not isinstance(value, dict) or not value.get("Frequency"):
        return ""
    interval = value.get("Interval", 1)
    unit = str(value["Frequency"]).lower() + ("s" if interval != 1 else "")
    start = format_time(value.get("StartTime"))
    return f"every {interval} {unit}" + (f" from {start}" if start else "")


TRIGGER_COLUMNS = [
    Column.key("Name"),
    entity_status_column(),
    Column("Target", _target),
    Column("Events", lambda t: ", ".join(t.get("EventTypes") or []) or "any"),
    Column.key("Subject begins with", "SubjectBeginsWith", wrap=True),
    Column.key("Subject ends with", "SubjectEndsWith", wrap=True),
    Column("Experiment", _experiment),
    Column("Written by", _written_by),
    Column("Last error", _last_error, wrap=True),
]

SCHEDULE_COLUMNS = [
    Column.key("Name"),
    entity_status_column(),
    Column("Target", _target),
    Column("Recurrence", _recurrence),
    time_column("Last fired", "LastFiredTime"),
    Column("Experiment", _experiment),
    Column("Written by", _written_by),
    Column("Last error", _last_error, wrap=True),
]


# -- handlers ----------------------------------------------------------------------------------------------
def _trigger(args: argparse.Namespace) -> int:
    from pipelines.client import EventTrigger

    def extra(body: dict[str, Any]) -> None:
        if args.event_type:
            _set(body, "EventTypes", list(args.event_type))
        if args.subject_begins_with is not None:
            _set(body, "SubjectBeginsWith", args.subject_begins_with)
        if args.subject_ends_with is not None:
            _set(body, "SubjectEndsWith", args.subject_ends_with)

    return _handle(args, EventTrigger, TRIGGER_COLUMNS, extra)


def _schedule(args: argparse.Namespace) -> int:
    from pipelines.client import Schedule

    def extra(body: dict[str, Any]) -> None:
        given: dict[str, Any] = {"Frequency": args.frequency, "Interval": args.interval, "StartTime": args.start_time}
        given["Schedule"] = _times(args.time_of_day, args.week_day)
        if any(value is not None for value in given.values()):
            recurrence = _take(body, "Recurrence")
            recurrence = dict(recurrence) if isinstance(recurrence, dict) else {}
            for key, value in given.items():
                if value is not None:
                    _set(recurrence, key, value)
            body["Recurrence"] = recurrence
        if _get(body, "Recurrence") is None:
            raise UsageError("a schedule needs a recurrence: --frequency and --interval (or a --file with Recurrence)")

    return _handle(args, Schedule, SCHEDULE_COLUMNS, extra)


def _times(time_of_day: str | None, week_day: str | None) -> dict[str, list[Any]] | None:
    """`--time-of-day` and `--week-day` as the recurrence's `Schedule` (the service checks them)."""
    times: dict[str, list[Any]] = {}
    if time_of_day is not None:
        hour, _, minute = time_of_day.partition(":")
        if not (hour.isdigit() and minute.isdigit()):
            raise UsageError("--time-of-day is HH:MM, e.g. 22:30")
        times.update(Hours=[int(hour)], Minutes=[int(minute)])
    if week_day is not None:
        times["WeekDays"] = [week_day]
    return times or None


def _handle(args: argparse.Namespace, kind: Any, columns: list[Column],
            extra: Callable[[dict[str, Any]], None]) -> int:
    workspace = workspace_of(args)
    if args.verb == "runs":
        from pipelines.cli.runs import RUN_COLUMNS

        if args.top < 1:
            raise UsageError("--top must be at least 1")
        emit(args, [run.entity for run in kind.get(workspace, args.name).get_pipeline_runs()[: args.top]],
             RUN_COLUMNS)
        return 0
    if args.verb == "list":
        emit(args, [item.entity for item in kind.list(workspace, active_only=False)], columns)
        return 0
    if args.verb == "create":
        body = _body(args)
        extra(body)
        emit(args, kind.put(workspace, args.name, body).entity, columns)
        return 0
    if args.verb == "delete":
        emit(args, kind(workspace, {"Name": args.name}).delete())
        return 0
    item = kind.get(workspace, args.name)
    if args.verb == "enable":
        item.enable()
    elif args.verb == "disable":
        item.disable()
    emit(args, item.entity, columns)
    return 0


def _body(args: argparse.Namespace) -> dict[str, Any]:
    """The PUT body: the file's, with every flag given put over it."""
    body: dict[str, Any] = read_json_file(args.file) if args.file else {}
    targets = {"PipelineId": args.pipeline_id, "PipelineEndpointName": args.endpoint,
               "PipelineEndpointId": args.endpoint_id}
    if sum(1 for value in targets.values() if value) > 1:
        raise UsageError("give one of --pipeline-id, --endpoint, --endpoint-id")
    if any(targets.values()):
        for key in _TARGET_KEYS:
            _take(body, key)
        for key, value in targets.items():
            if value:
                body[key] = value
    if args.version is not None:
        _set(body, "PipelineVersion", args.version)
    if not any(_get(body, key) for key in _TARGET_KEYS):
        raise UsageError("give what it runs: --pipeline-id, --endpoint or --endpoint-id (or a --file naming one)")
    if args.description is not None:
        _set(body, "Description", args.description)
    if args.disabled:
        _set(body, "EntityStatus", "Disabled")
    request = _take(body, "Request")
    request = dict(request) if isinstance(request, dict) else {}
    if args.experiment is not None:
        _set(request, "ExperimentName", args.experiment)
    parameters = pairs(args.param, "--param")
    if parameters:
        current = _take(request, "ParameterAssignments")
        request["ParameterAssignments"] = {**(current if isinstance(current, dict) else {}), **parameters}
    for key, value in data_assignments(args.datapath, args.dataset).items():
        current = _take(request, key)
        request[key] = {**(current if isinstance(current, dict) else {}), **value}
    body["Request"] = request
    return body


# Keys are matched case-insensitively by the service: so are a file's keys here.
def _find(body: MutableMapping[str, Any], key: str) -> str | None:
    return next((k for k in body if k.lower() == key.lower()), None)


def _get(body: MutableMapping[str, Any], key: str) -> Any:
    found = _find(body, key)
    return body[found] if found is not None else None


def _take(body: MutableMapping[str, Any], key: str) -> Any:
    found = _find(body, key)
    return body.pop(found) if found is not None else None


def _set(body: MutableMapping[str, Any], key: str, value: Any) -> None:
    _take(body, key)
    body[key] = value
