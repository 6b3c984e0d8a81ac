"""Runs that start themselves: event triggers and schedules, from Python.

    recurrence = ScheduleRecurrence(frequency="Day", interval=1, start_time="2026-12-01T02:00:00Z")
    Schedule.create(ws, "nightly", pipeline_id=published.id, experiment_name="nightly",
                    recurrence=recurrence, pipeline_parameters={"pipeline_arg": 20})
    Schedule.get(ws, "nightly").disable()

    EventTrigger.create(ws, "on-arrival", pipeline_endpoint_name="compare-endpoint",
                        event_types=["Microsoft.Storage.BlobCreated"],
                        subject_begins_with="/blobServices/default/containers/workspaceblobstore/blobs/default/incoming/",
                        experiment_name="on-arrival")

`Schedule` and `ScheduleRecurrence` keep SDK v1's names and arguments
(`azureml.pipeline.core.schedule`); a schedule is named, not given an id by the
service, so `Schedule.get` takes its name. Both are `PUT .../Schedules/{name}` and
`PUT .../EventTriggers/{name}` (README "Runs on a schedule", "Runs from events").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Self
from urllib.parse import quote

from pipelines.client.entities import PipelineRun
from pipelines.client.status import entity_status
from pipelines.client.workspace import Workspace
from pipelines.errors import PipelinesError

FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
# Keys of an answer the service computes: not sent back when a resource is written again.
_COMPUTED = frozenset({"name", "etag", "createddate", "lastmodifieddate", "lastfiredtime", "id", "scheduletype",
                       "provisioningstatus", "pipelinesubmissioninfo"})
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

__all__ = ["EventTrigger", "Schedule", "ScheduleRecurrence", "UnsupportedError", "request_body", "target_fields"]


class UnsupportedError(PipelinesError):
    """An SDK v1 argument this service has no counterpart for."""

    status = 400
    code = "NotSupported"


def target_fields(pipeline_id: str | None = None, pipeline_endpoint_id: str | None = None,
                  pipeline_endpoint_name: str | None = None, pipeline_version: str | None = None) -> dict[str, Any]:
    """The target keys of a trigger or schedule body: exactly one of the three ids or names."""
    given = {"PipelineId": pipeline_id, "PipelineEndpointId": pipeline_endpoint_id,
             "PipelineEndpointName": pipeline_endpoint_name}
    fields: dict[str, Any] = {k: v for k, v in given.items() if v}
    if pipeline_version is not None:
        fields["PipelineVersion"] = str(pipeline_version)
    return fields


def request_body(experiment_name: str | None = None, pipeline_parameters: Mapping[str, Any] | None = None, *,
                 datapath_assignments: Mapping[str, Any] | None = None,
                 dataset_assignments: Mapping[str, Any] | None = None,
                 continue_on_step_failure: bool | None = None, description: str | None = None,
                 tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The submit body (docs/contract.md §2) a trigger or schedule sends when it fires."""
    body: dict[str, Any] = {}
    if experiment_name:
        body["ExperimentName"] = experiment_name
    if pipeline_parameters:
        body["ParameterAssignments"] = dict(pipeline_parameters)
    if datapath_assignments:
        body["DataPathAssignments"] = dict(datapath_assignments)
    if dataset_assignments:
        body["DataSetDefinitionValueAssignments"] = dict(dataset_assignments)
    if continue_on_step_failure is not None:
        body["ContinueRunOnStepFailure"] = continue_on_step_failure
    if description is not None:
        body["Description"] = description
    if tags:
        body["Tags"] = dict(tags)
    return body


def writable(entity: Mapping[str, Any]) -> dict[str, Any]:
    """An answer as a body to PUT again: without the keys the service computes
    (name, etag, dates, and what it records of past firings, such as LastError)."""
    return {
        key: value for key, value in entity.items()
        if key.lower() not in _COMPUTED and not key.lower().startswith("lasterror") and value is not None
    }


@dataclass
class _Named:
    """A resource of the workspace addressed by its name (`PUT/GET/DELETE .../{route}/{name}`)."""

    workspace: Workspace
    entity: dict[str, Any]

    route: ClassVar[str] = ""

    @property
    def name(self) -> str:
        return str(self.entity["Name"])

    @property
    def id(self) -> str:
        """SDK v1 gave schedules an id; here the name is the id."""
        return self.name

    @property
    def description(self) -> str | None:
        return self.entity.get("Description")

    @property
    def status(self) -> str:
        """Active or Disabled."""
        return entity_status(self.entity.get("EntityStatus"))

    @property
    def pipeline_id(self) -> str | None:
        return self.entity.get("PipelineId")

    @property
    def pipeline_endpoint_id(self) -> str | None:
        return self.entity.get("PipelineEndpointId")

    @classmethod
    def _path(cls, name: str) -> str:
        return f"/{cls.route}/{quote(name, safe='')}"

    @classmethod
    def put(cls, workspace: Workspace, name: str, body: Mapping[str, Any]) -> Self:
        """Create or replace `name` with `body`, the route's JSON body."""
        return cls(workspace, workspace.request("PUT", cls._path(name), json_body=dict(body)).json())

    @classmethod
    def get(cls, workspace: Workspace, name: str) -> Self:
        return cls(workspace, workspace.get_json(cls._path(name)))

    @classmethod
    def list(cls, workspace: Workspace, pipeline_id: str | None = None, active_only: bool = True,
             pipeline_endpoint_id: str | None = None) -> list[Self]:
        """As SDK v1's `Schedule.list`: the active ones unless `active_only=False`."""
        found = [cls(workspace, item) for item in workspace.list_all(f"/{cls.route}")]
        return [item for item in found
                if (not active_only or item.status == "Active")
                and (pipeline_id is None or item.pipeline_id == pipeline_id)
                and (pipeline_endpoint_id is None or item.pipeline_endpoint_id == pipeline_endpoint_id)]

    def refresh(self) -> Self:
        self.entity = self.workspace.get_json(self._path(self.name))
        return self

    def delete(self) -> dict[str, Any]:
        """Remove it; the service's answer (`{"Name", "Deleted": true}`)."""
        return dict(self.workspace.request("DELETE", self._path(self.name)).json())

    def _update(self, changes: Mapping[str, Any]) -> None:
        current = self.workspace.get_json(self._path(self.name))  # the latest, not what we held
        body = {**writable(current), **changes}
        self.entity = self.workspace.request("PUT", self._path(self.name), json_body=body).json()

    def enable(self, wait_for_provisioning: bool = False, wait_timeout: int = 3600) -> None:
        """Active again. (SDK v1's waiting arguments are accepted: the PUT is done when it answers.)"""
        self._update({"EntityStatus": 0})

    def disable(self, wait_for_provisioning: bool = False, wait_timeout: int = 3600) -> None:
        """Fires no more until enabled."""
        self._update({"EntityStatus": 2})


class EventTrigger(_Named):
    """Starts a run when Event Grid delivers a matching event (README "Runs from events")."""

    route = "EventTriggers"

    @classmethod
    def create(
        cls,
        workspace: Workspace,
        name: str,
        *,
        pipeline_id: str | None = None,
        pipeline_endpoint_id: str | None = None,
        pipeline_endpoint_name: str | None = None,
        pipeline_version: str | None = None,
        event_types: list[str] | tuple[str, ...] = (),
        subject_begins_with: str | None = None,
        subject_ends_with: str | None = None,
        experiment_name: str | None = None,
        pipeline_parameters: Mapping[str, Any] | None = None,
        datapath_assignments: Mapping[str, Any] | None = None,
        dataset_assignments: Mapping[str, Any] | None = None,
        description: str | None = None,
        enabled: bool = True,
    ) -> EventTrigger:
        body: dict[str, Any] = {
            **target_fields(pipeline_id, pipeline_endpoint_id, pipeline_endpoint_name, pipeline_version),
            "EventTypes": list(event_types),
            "Request": request_body(experiment_name, pipeline_parameters, datapath_assignments=datapath_assignments,
                                    dataset_assignments=dataset_assignments),
            "EntityStatus": 0 if enabled else 2,
        }
        for key, value in (("SubjectBeginsWith", subject_begins_with), ("SubjectEndsWith", subject_ends_with),
                           ("Description", description)):
            if value is not None:
                body[key] = value
        return cls.put(workspace, name, body)


class ScheduleRecurrence:
    """SDK v1's `ScheduleRecurrence`: fire at `start_time + k × interval` (UTC).

    A Day or Week recurrence may name one time of day (`hours=[h], minutes=[m]` or
    `time_of_day="hh:mm"`) and a Week one `week_days=[day]`: the first fire time is then the
    first such time from `start_time`. Several times a period have no counterpart here and
    are refused: one schedule per time.
    """

    def __init__(self, frequency: str, interval: int, start_time: datetime | str | None = None,
                 time_zone: Any = None, hours: Any = None, minutes: Any = None, week_days: Any = None,
                 time_of_day: Any = None) -> None:
        if time_of_day is not None:
            if hours is not None or minutes is not None:
                raise UnsupportedError("ScheduleRecurrence: time_of_day or hours and minutes, not both",
                                       target="time_of_day")
            hour, _, minute = str(time_of_day).partition(":")
            if not (hour.isdigit() and minute.isdigit()):
                raise UnsupportedError("ScheduleRecurrence: time_of_day is hh:mm", target="time_of_day")
            hours, minutes = [int(hour)], [int(minute)]
        several = [name for name, value in (("hours", hours), ("minutes", minutes), ("week_days", week_days))
                   if value is not None and len(value) > 1]
        if several:
            raise UnsupportedError(
                f"ScheduleRecurrence: one value of {', '.join(several)}: a schedule fires once a period here;"
                " make one schedule per time", target=several[0])
        canonical = {f.lower(): f for f in FREQUENCIES}.get(str(frequency).lower())
        if canonical is None:
            raise UnsupportedError(f"ScheduleRecurrence: frequency must be one of {', '.join(FREQUENCIES)},"
                                   f" not {frequency!r}", target="frequency")
        zone = getattr(time_zone, "value", time_zone)
        if zone not in (None, "UTC", "Coordinated Universal Time"):
            raise UnsupportedError(f"ScheduleRecurrence: only UTC is supported, not {zone!r}", target="time_zone")
        self.frequency = canonical
        self.interval = interval
        self.start_time = start_time
        self.time_zone = "UTC"
        self.hours, self.minutes, self.week_days = hours, minutes, week_days

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Frequency": self.frequency, "Interval": self.interval}
        if isinstance(self.start_time, datetime):
            moment = self.start_time if self.start_time.tzinfo else self.start_time.replace(tzinfo=UTC)
            body["StartTime"] = moment.isoformat()
        elif self.start_time is not None:
            body["StartTime"] = str(self.start_time)
        times = {key: list(value) for key, value in (("Hours", self.hours), ("Minutes", self.minutes),
                                                     ("WeekDays", self.week_days)) if value is not None}
        if times:
            body["Schedule"] = times  # the service checks them (one of each; Day or Week)
        return body

    def __repr__(self) -> str:
        return f"ScheduleRecurrence({self.frequency!r}, {self.interval}, start_time={self.start_time!r})"


class Schedule(_Named):
    """SDK v1's `Schedule`: a pipeline run on a recurrence (README "Runs on a schedule")."""

    route = "Schedules"

    @property
    def recurrence(self) -> dict[str, Any]:
        return dict(self.entity.get("Recurrence") or {})

    @property
    def last_fired_time(self) -> str | None:
        return self.entity.get("LastFiredTime")

    @classmethod
    def create(
        cls,
        workspace: Workspace,
        name: str,
        pipeline_id: str | None = None,
        experiment_name: str | None = None,
        recurrence: ScheduleRecurrence | None = None,
        description: str | None = None,
        pipeline_parameters: Mapping[str, Any] | None = None,
        wait_for_provisioning: bool = False,
        wait_timeout: int = 3600,
        datastore: Any = None,
        polling_interval: int = 5,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
        pipeline_endpoint_id: str | None = None,
        *,
        pipeline_endpoint_name: str | None = None,
        pipeline_version: str | None = None,
        datapath_assignments: Mapping[str, Any] | None = None,
        dataset_assignments: Mapping[str, Any] | None = None,
        enabled: bool = True,
    ) -> Schedule:
        """SDK v1's arguments, in its order. `wait_for_provisioning`, `wait_timeout` and
        `polling_interval` are accepted and ignored (the PUT is done when it answers); a
        schedule that watches a datastore (`datastore`, `path_on_datastore`,
        `data_path_parameter_name`) is an event trigger here, and refused."""
        if datastore is not None or path_on_datastore or data_path_parameter_name:
            raise UnsupportedError(
                "Schedule.create: schedules that watch a datastore are event triggers here: EventTrigger.create("
                "..., event_types=['Microsoft.Storage.BlobCreated'], subject_begins_with=...)", target="datastore")
        if recurrence is None:
            raise UnsupportedError("Schedule.create needs a recurrence=ScheduleRecurrence(...)", target="recurrence")
        body: dict[str, Any] = {
            **target_fields(pipeline_id, pipeline_endpoint_id, pipeline_endpoint_name, pipeline_version),
            "Recurrence": recurrence.wire(),
            "Request": request_body(experiment_name, pipeline_parameters, datapath_assignments=datapath_assignments,
                                    dataset_assignments=dataset_assignments,
                                    continue_on_step_failure=continue_on_step_failure),
            "EntityStatus": 0 if enabled else 2,
        }
        if description is not None:
            body["Description"] = description
        return cls.put(workspace, name, body)

    @classmethod
    def create_for_pipeline_endpoint(cls, workspace: Workspace, name: str, pipeline_endpoint_id: str,
                                     experiment_name: str | None = None, recurrence: ScheduleRecurrence | None = None,
                                     description: str | None = None,
                                     pipeline_parameters: Mapping[str, Any] | None = None,
                                     **options: Any) -> Schedule:
        return cls.create(workspace, name, None, experiment_name, recurrence, description, pipeline_parameters,
                          pipeline_endpoint_id=pipeline_endpoint_id, **options)

    def get_last_pipeline_run(self) -> PipelineRun | None:
        """The run of its last firing that started one; None when none has."""
        entity = self.workspace.get_json(f"/PipelineRuns/Schedule/{quote(self.name, safe='')}/Last")
        return None if entity is None else PipelineRun(self.workspace, entity)

    def get_pipeline_runs(self) -> list[PipelineRun]:
        """The runs it started, newest first."""
        return [PipelineRun(self.workspace, entity)
                for entity in self.workspace.list_all(f"/PipelineRuns/Schedule/{quote(self.name, safe='')}")]

    @classmethod
    def get_schedules_for_pipeline_id(cls, workspace: Workspace, pipeline_id: str) -> list[Schedule]:
        return cls.list(workspace, pipeline_id=pipeline_id, active_only=False)

    @classmethod
    def get_schedules_for_pipeline_endpoint_id(cls, workspace: Workspace, pipeline_endpoint_id: str) -> list[Schedule]:
        return cls.list(workspace, pipeline_endpoint_id=pipeline_endpoint_id, active_only=False)

    def update(self, name: str | None = None, description: str | None = None,
               recurrence: ScheduleRecurrence | None = None, pipeline_parameters: Mapping[str, Any] | None = None,
               status: str | None = None, wait_for_provisioning: bool = False, wait_timeout: int = 3600,
               datastore: Any = None, polling_interval: int | None = None, data_path_parameter_name: str | None = None,
               continue_on_step_failure: bool | None = None, path_on_datastore: str | None = None,
               experiment_name: str | None = None) -> None:
        """Change what is given; the rest stays. A new `name` is refused (names are the key here)."""
        if name is not None and name != self.name:
            raise UnsupportedError("Schedule.update: a schedule is renamed by creating it under the new name"
                                   " and deleting the old one", target="name")
        if datastore is not None or path_on_datastore or data_path_parameter_name:
            raise UnsupportedError("Schedule.update: schedules that watch a datastore are event triggers here",
                                   target="datastore")
        current = writable(self.workspace.get_json(self._path(self.name)))
        request = dict(current.get("Request") or {})
        if pipeline_parameters is not None:
            request["ParameterAssignments"] = dict(pipeline_parameters)
        if experiment_name is not None:
            request["ExperimentName"] = experiment_name
        if continue_on_step_failure is not None:
            request["ContinueRunOnStepFailure"] = continue_on_step_failure
        current["Request"] = request
        if description is not None:
            current["Description"] = description
        if recurrence is not None:
            current["Recurrence"] = recurrence.wire()
        if status is not None:
            current["EntityStatus"] = status
        self.entity = self.workspace.request("PUT", self._path(self.name), json_body=current).json()
