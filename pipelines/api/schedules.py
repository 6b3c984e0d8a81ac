"""Routes of schedules (the project's own, under the workspace prefix). The timer that
fires them is `pipelines.schedules.functions`."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from pipelines.api.contract import wire_time
from pipelines.api.http import Reply, RequestContext, route
from pipelines.schedules.model import Schedule
from pipelines.schedules.service import Schedules
from pipelines.store import get_account

bp = func.Blueprint()


def schedule_entity(schedule: Schedule) -> dict[str, Any]:
    return {
        "Name": schedule.name,
        "Description": schedule.description,
        **schedule.template.wire(),
        "Recurrence": schedule.recurrence.wire(),
        "EntityStatus": int(schedule.status),
        "LastFiredTime": wire_time(schedule.last_fired),
        "Etag": schedule.etag,
        "CreatedDate": wire_time(schedule.created),
        "LastModifiedDate": wire_time(schedule.modified),
    }


@route(bp, "put_schedule")
def put_schedule(ctx: RequestContext) -> dict[str, Any]:
    """Create or replace the schedule `scheduleName`."""
    schedule = Schedules(get_account()).put(ctx.workspace, ctx.param("scheduleName"), ctx.json_object(empty_ok=False))
    return schedule_entity(schedule)


@route(bp, "get_schedule")
def get_schedule(ctx: RequestContext) -> dict[str, Any]:
    return schedule_entity(Schedules(get_account()).get(ctx.workspace, ctx.param("scheduleName")))


@route(bp, "list_schedules")
def list_schedules(ctx: RequestContext) -> list[dict[str, Any]]:
    return [schedule_entity(s) for s in Schedules(get_account()).list(ctx.workspace)]


@route(bp, "delete_schedule")
def delete_schedule(ctx: RequestContext) -> Reply:
    Schedules(get_account()).delete(ctx.workspace, ctx.param("scheduleName"))
    return Reply({"Name": ctx.param("scheduleName"), "Deleted": True})
