"""The queue functions that deliver run events (`pipelines.events.delivery`).

`deliver_run_events` listens on `<PIPELINES_STEPS_QUEUE>-notify`, where every run's nudges
go, and gives the sinks outside the app a moment; `deliver_sink_events` listens on
`<PIPELINES_STEPS_QUEUE>-sinks`, where a delivery to a sink slower than that moment goes,
and waits for it the full time. Two functions, so that the host gives each queue slots of
its own: a sink that hangs holds only the sinks queue's.

Both queues are named after the steps queue so that they need no app setting of their own
(a binding expression must name a setting the host knows). The delivery code and storage
are imported on the first message, not when the host indexes the app
(`pipelines/api/functions.py` says why).
"""

from __future__ import annotations

import logging

import azure.functions as func

from pipelines.lazy import first_use

log = logging.getLogger("pipelines.events")

bp = func.Blueprint()

NOTIFY_QUEUE = "%PIPELINES_STEPS_QUEUE%-notify"
SINKS_QUEUE = "%PIPELINES_STEPS_QUEUE%-sinks"


@bp.function_name("deliver_run_events")
@bp.queue_trigger(arg_name="msg", queue_name=NOTIFY_QUEUE, connection="AzureWebJobsStorage")
def deliver_run_events(msg: func.QueueMessage) -> None:
    """Deliver a run's pending events to its sinks. Raising (storage away) lets the host retry."""
    _deliver(msg, quick=True)


@bp.function_name("deliver_sink_events")
@bp.queue_trigger(arg_name="msg", queue_name=SINKS_QUEUE, connection="AzureWebJobsStorage")
def deliver_sink_events(msg: func.QueueMessage) -> None:
    """Deliver a run's pending events to one slow sink, waiting for it the full time."""
    _deliver(msg, quick=False)


def _deliver(msg: func.QueueMessage, *, quick: bool) -> None:
    with first_use():
        from pipelines.events.delivery import QUICK, SINKS, deliver
        from pipelines.store import get_worker_account, messages

    outcome = deliver(get_worker_account(), messages.decode(msg.get_body()), QUICK if quick else SINKS)
    log.info("run events, message %s (delivery %s): %s", msg.id, msg.dequeue_count, outcome)
