"""Routes of event triggers (the project's own, under the workspace prefix). The Event
Grid function that starts runs from events is `pipelines.triggers.functions`."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from pipelines.api.contract import wire_time
from pipelines.api.http import Reply, RequestContext, route
from pipelines.store import get_account
from pipelines.triggers.model import Trigger
from pipelines.triggers.service import Triggers

bp = func.Blueprint()


def trigger_entity(trigger: Trigger) -> dict[str, Any]:
    return {
        "Name": trigger.name,
        "Description": trigger.description,
        **trigger.template.wire(),
        "EventTypes": trigger.event_types,
        "SubjectBeginsWith": trigger.subject_begins_with,
        "SubjectEndsWith": trigger.subject_ends_with,
        "EntityStatus": int(trigger.status),
        "Etag": trigger.etag,
        "CreatedDate": wire_time(trigger.created),
        "LastModifiedDate": wire_time(trigger.modified),
    }


@route(bp, "put_trigger")
def put_trigger(ctx: RequestContext) -> dict[str, Any]:
    """Create or replace the trigger `triggerName`."""
    trigger = Triggers(get_account()).put(ctx.workspace, ctx.param("triggerName"), ctx.json_object(empty_ok=False))
    return trigger_entity(trigger)


@route(bp, "get_trigger")
def get_trigger(ctx: RequestContext) -> dict[str, Any]:
    return trigger_entity(Triggers(get_account()).get(ctx.workspace, ctx.param("triggerName")))


@route(bp, "list_triggers")
def list_triggers(ctx: RequestContext) -> list[dict[str, Any]]:
    return [trigger_entity(t) for t in Triggers(get_account()).list(ctx.workspace)]


@route(bp, "delete_trigger")
def delete_trigger(ctx: RequestContext) -> Reply:
    Triggers(get_account()).delete(ctx.workspace, ctx.param("triggerName"))
    return Reply({"Name": ctx.param("triggerName"), "Deleted": True})
