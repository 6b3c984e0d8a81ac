"""`GET .../PipelineRuns/{runId}/Events`: a run's events and where each one went (our addition).

The events are derived from the run's rows (`pipelines.runs.events`), their deliveries read
from table `RunEvents` (`pipelines.runs.deliveries`): for each sink of the run, whether the
event was delivered, is pending (with the attempts so far, when the next is due and why the
last failed), or was given up on after every attempt. This is where a user sees that a
webhook stopped answering (`pipelines events list RUN_ID` prints it).
"""

from __future__ import annotations

from datetime import datetime

from pipelines.api.contract import wire_time
from pipelines.api.events_contract import EventDeliveryEntity, RunEventEntity, subject_of
from pipelines.api.http import RequestContext, route
from pipelines.runs.deliveries import Deliveries, SinkRecord
from pipelines.runs.events import RunEvent, derive
from pipelines.runs.notify import sinks_of
from pipelines.runs.repository import RunRepository
from pipelines.store import get_account
from pipelines.vocabulary import now


@route("get_run_events")
def get_run_events(ctx: RequestContext) -> list[RunEventEntity]:
    account = get_account()
    state = RunRepository(account).load(ctx.workspace, ctx.param("runId"))  # 404 for an unknown run
    sinks = sinks_of(account.settings, state.run)
    if not sinks:
        return []
    _, records = Deliveries(account).read(ctx.workspace, state.run.id)
    entities = []
    when = now()
    for event in derive(state, steps=account.settings.events_steps):
        deliveries = [delivery_entity(event, records.get(ref.id) or SinkRecord(ref.id, ref.label), when)
                      for ref in sinks]
        entities.append(RunEventEntity(id=event.id, type=event.type, subject=subject_of(state, event.node_id),
                                       time=wire_time(event.time), deliveries=deliveries))
    return entities


def delivery_entity(event: RunEvent, record: SinkRecord, when: datetime) -> EventDeliveryEntity:
    """The event at one sink. A pending one is being tried now (a deliverer holds the sink), due
    since it was passed on to the sinks queue (a general nudge leaves it alone meanwhile, so its
    `next` is a hold, not a time anyone waits for), or due when its retry is (`next`)."""
    if event.short in record.done:
        return EventDeliveryEntity(sink=record.label, status="Delivered", attempts=0, next_attempt=None, error=None,
                                   in_progress=False)
    if event.short in record.failed:
        return EventDeliveryEntity(sink=record.label, status="Failed", attempts=0, next_attempt=None,
                                   error=record.failed[event.short], in_progress=False)
    calling = record.worked_on(when)
    due = None if calling else record.passed or record.next
    return EventDeliveryEntity(sink=record.label, status="Pending", attempts=record.tries,
                               next_attempt=wire_time(due), error=record.error, in_progress=calling)
