"""Routes of event triggers (the project's own, under the workspace prefix). The Event
Grid function that starts runs from events is `pipelines.triggers.functions`; the wire
models are `pipelines.api.automation_contract` (bodies) and `automation_answers`."""

from __future__ import annotations

from typing import Any

from pipelines.api import automation_answers
from pipelines.api import automation_contract as wire
from pipelines.api.answers import TriggerDeleted
from pipelines.api.http import Reply, RequestContext, route
from pipelines.runs.template import Author
from pipelines.store import get_account
from pipelines.triggers.model import Trigger
from pipelines.triggers.service import Triggers


def trigger_entity(trigger: Trigger) -> dict[str, Any]:
    """The answer of every trigger route (`EventTriggerEntity`), as JSON."""
    return automation_answers.trigger_entity(trigger).model_dump(mode="json", by_alias=True)


@route("put_trigger")
def put_trigger(ctx: RequestContext) -> Reply:
    """Create or replace the trigger `triggerName`; `x-ms-ignored-keys` lists the keys it did not read."""
    parsed = wire.trigger_from_wire(ctx.json_object(empty_ok=False), ctx.workspace, ctx.param("triggerName"))
    trigger = Triggers(get_account()).put(parsed.value, Author.of(ctx.caller))
    return Reply(trigger_entity(trigger), headers=wire.ignored_keys_header(parsed.ignored_keys))


@route("get_trigger")
def get_trigger(ctx: RequestContext) -> dict[str, Any]:
    return trigger_entity(Triggers(get_account()).get(ctx.workspace, ctx.param("triggerName")))


@route("list_triggers")
def list_triggers(ctx: RequestContext) -> list[dict[str, Any]]:
    return [trigger_entity(t) for t in Triggers(get_account()).list(ctx.workspace)]


@route("delete_trigger")
def delete_trigger(ctx: RequestContext) -> Reply:
    Triggers(get_account()).delete(ctx.workspace, ctx.param("triggerName"))
    return Reply(TriggerDeleted(name=ctx.param("triggerName"), deleted=True))
