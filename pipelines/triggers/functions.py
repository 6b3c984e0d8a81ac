"""The Event Grid function: every event delivered starts the runs of the triggers it matches.

The service and storage are imported on the first event, not when the host indexes the app.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func

from pipelines.lazy import first_use

bp = func.Blueprint()
log = logging.getLogger("pipelines.triggers")


@bp.function_name("start_runs_from_events")
@bp.event_grid_trigger(arg_name="event")
def start_runs_from_events(event: func.EventGridEvent) -> None:
    """Event Grid delivers here (/runtime/webhooks/eventgrid?functionName=start_runs_from_events,
    protected by the host's system key in Azure); every matching trigger starts a run.

    The worker's converter hands over a `func.CloudEvent` when the subscription delivers the
    CloudEvents schema (the body has `specversion`): both are read. An event without an id or a
    type can match no trigger: it is logged and dropped, not failed, since Event Grid would
    deliver it again for a day to the same end (and fail the valid events of its batch with it).
    """
    with first_use():
        from pipelines.store import get_account
        from pipelines.triggers.model import Event
        from pipelines.triggers.service import Triggers

    fields = _fields(event)
    if fields is None:
        log.warning("event %r dropped: it has no id or no event type (%r), so it matches no trigger",
                    getattr(event, "id", None), _kind(event))
        return
    found = Event(**fields)
    happened = Triggers(get_account()).start_runs(found)
    log.info("event %s (%s %s): %s", found.id, found.event_type, found.subject, "; ".join(happened) or "no trigger")


def _kind(event: Any) -> Any:
    """The event's type: `eventType` in the Event Grid schema, `type` in the CloudEvents one."""
    return event.type if getattr(event, "specversion", None) else event.event_type


def _fields(event: Any) -> dict[str, Any] | None:
    """The delivered event's fields as triggers read them (`Event`), whichever schema it came in;
    None without an id or a type."""
    kind = _kind(event)
    if not event.id or not isinstance(kind, str) or not kind:
        return None
    cloud = bool(getattr(event, "specversion", None))
    topic, at = (event.source, event.time) if cloud else (event.topic, event.event_time)
    return {
        "id": str(event.id),
        "event_type": kind,
        "subject": str(event.subject or ""),
        "topic": str(topic) if topic is not None else None,
        "event_time": at.isoformat() if at else None,
        "data": event.get_json(),
    }
