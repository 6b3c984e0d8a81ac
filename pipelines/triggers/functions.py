"""The Event Grid function: every event delivered starts the runs of the triggers it matches.

The service and storage are imported on the first event, not when the host indexes the app.
"""

from __future__ import annotations

import logging

import azure.functions as func

from pipelines.lazy import first_use

bp = func.Blueprint()
log = logging.getLogger("pipelines.triggers")


@bp.function_name("start_runs_from_events")
@bp.event_grid_trigger(arg_name="event")
def start_runs_from_events(event: func.EventGridEvent) -> None:
    """Event Grid delivers here (/runtime/webhooks/eventgrid?functionName=start_runs_from_events,
    protected by the host's system key in Azure); every matching trigger starts a run."""
    with first_use():
        from pipelines.store import get_account
        from pipelines.triggers.model import Event
        from pipelines.triggers.service import Triggers

    happened = Triggers(get_account()).start_runs(Event(
        id=event.id,
        event_type=event.event_type,
        subject=event.subject or "",
        topic=event.topic,
        event_time=event.event_time.isoformat() if event.event_time else None,
        data=event.get_json(),
    ))
    log.info("event %s (%s %s): %s", event.id, event.event_type, event.subject, "; ".join(happened) or "no trigger")
