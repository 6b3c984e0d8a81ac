"""Routes of schedules (the project's own, under the workspace prefix), and SDK v1's calls
of its `Schedule` class: create, list by target, its runs and its last run. A schedule's id
is its name. The timer that fires them is `pipelines.schedules.functions`; the wire models
are `pipelines.api.automation_contract` (bodies) and `automation_answers`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipelines.api import automation_answers
from pipelines.api import automation_contract as wire
from pipelines.api.answers import TriggerDeleted
from pipelines.api.data_requests import flag
from pipelines.api.http import Reply, RequestContext, route
from pipelines.api.paging import page_request, paged
from pipelines.api.runs import run_entity
from pipelines.runs.template import Author
from pipelines.schedules.model import Schedule
from pipelines.schedules.service import Schedules
from pipelines.store import get_account
from pipelines.vocabulary import EntityStatus


def schedule_entity(schedule: Schedule) -> dict[str, Any]:
    """The answer of every schedule route (`ScheduleEntity`), as JSON."""
    return automation_answers.schedule_entity(schedule).model_dump(mode="json", by_alias=True)


@route("put_schedule")
def put_schedule(ctx: RequestContext) -> Reply:
    """Create or replace the schedule `scheduleName`; `x-ms-ignored-keys` lists the keys it did not read."""
    body = ctx.json_object(empty_ok=False)
    parsed = wire.schedule_from_wire(body, ctx.workspace, ctx.param("scheduleName"))
    schedule = Schedules(get_account()).put(parsed.value, Author.of(ctx.caller))
    return Reply(schedule_entity(schedule), headers=wire.ignored_keys_header(parsed.ignored_keys))


@route("get_schedule")
def get_schedule(ctx: RequestContext) -> dict[str, Any]:
    return schedule_entity(Schedules(get_account()).get(ctx.workspace, ctx.param("scheduleName")))


@route("create_schedule")
def create_schedule(ctx: RequestContext) -> Reply:
    """SDK v1's `Schedule.create`: the schedule `Name` of the body, which must not exist (409)."""
    parsed = wire.schedule_from_wire(ctx.json_object(empty_ok=False), ctx.workspace, None)
    schedule = Schedules(get_account()).put(parsed.value, Author.of(ctx.caller), create_only=True)
    return Reply(schedule_entity(schedule), headers=wire.ignored_keys_header(parsed.ignored_keys))


@route("list_schedules")
def list_schedules(ctx: RequestContext) -> list[dict[str, Any]]:
    """Every schedule; `activeOnly=true` (what SDK v1's `Schedule.list` sends) the active ones."""
    return _listed(ctx, lambda schedule: True)


@route("list_pipeline_schedules")
def list_pipeline_schedules(ctx: RequestContext) -> list[dict[str, Any]]:
    """The schedules that run a published pipeline by its id."""
    return _listed(ctx, lambda schedule: schedule.template.pipeline_id == ctx.param("pipelineId"))


@route("list_endpoint_schedules")
def list_endpoint_schedules(ctx: RequestContext) -> list[dict[str, Any]]:
    """The schedules that run a pipeline endpoint by its id."""
    return _listed(ctx, lambda schedule: schedule.template.endpoint_id == ctx.param("endpointId"))


def _listed(ctx: RequestContext, wanted: Callable[[Schedule], bool]) -> list[dict[str, Any]]:
    active = flag(ctx.query("activeOnly"), "activeOnly")
    return [schedule_entity(s) for s in Schedules(get_account()).list(ctx.workspace)
            if wanted(s) and (not active or s.status is EntityStatus.ACTIVE)]


@route("list_schedule_runs")
def list_schedule_runs(ctx: RequestContext) -> Reply:
    """The runs the schedule started, newest first, a page at a time."""
    size, token = page_request(ctx)
    runs, next_token = Schedules(get_account()).runs_of(
        ctx.workspace, ctx.param("scheduleName"), page_size=size, continuation=token)
    return paged([run_entity(run) for run in runs], next_token)


@route("get_last_schedule_run")
def get_last_schedule_run(ctx: RequestContext) -> Reply:
    """The run of the schedule's last firing that started one; `null` when there is none."""
    run = Schedules(get_account()).last_run(ctx.workspace, ctx.param("scheduleName"))
    return Reply(None if run is None else run_entity(run))


@route("delete_schedule")
def delete_schedule(ctx: RequestContext) -> Reply:
    Schedules(get_account()).delete(ctx.workspace, ctx.param("scheduleName"))
    return Reply(TriggerDeleted(name=ctx.param("scheduleName"), deleted=True))
