"""Routes of schedules (the project's own, under the workspace prefix). The timer that
fires them is `pipelines.schedules.functions`; the wire models are
`pipelines.api.automation_contract` (bodies) and `automation_answers`."""

from __future__ import annotations

from typing import Any

from pipelines.api import automation_answers
from pipelines.api import automation_contract as wire
from pipelines.api.answers import TriggerDeleted
from pipelines.api.http import Reply, RequestContext, route
from pipelines.runs.template import Author
from pipelines.schedules.model import Schedule
from pipelines.schedules.service import Schedules
from pipelines.store import get_account


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


@route("list_schedules")
def list_schedules(ctx: RequestContext) -> list[dict[str, Any]]:
    return [schedule_entity(s) for s in Schedules(get_account()).list(ctx.workspace)]


@route("delete_schedule")
def delete_schedule(ctx: RequestContext) -> Reply:
    Schedules(get_account()).delete(ctx.workspace, ctx.param("scheduleName"))
    return Reply(TriggerDeleted(name=ctx.param("scheduleName"), deleted=True))
