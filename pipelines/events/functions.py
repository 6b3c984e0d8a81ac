"""The queue function that delivers run events (`pipelines.events.delivery`).

It listens on `<PIPELINES_STEPS_QUEUE>-notify`, named after the steps queue so that it
needs no app setting of its own (a binding expression must name a setting the host
knows). The delivery code and storage are imported on the first message, not when the
host indexes the app (`pipelines/api/functions.py` says why).
"""

from __future__ import annotations

import logging

import azure.functions as func

from pipelines.lazy import first_use

log = logging.getLogger("pipelines.events")

bp = func.Blueprint()

NOTIFY_QUEUE = "%PIPELINES_STEPS_QUEUE%-notify"


@bp.function_name("deliver_run_events")
@bp.queue_trigger(arg_name="msg", queue_name=NOTIFY_QUEUE, connection="AzureWebJobsStorage")
def deliver_run_events(msg: func.QueueMessage) -> None:
    """Deliver a run's pending events to its sinks. Raising (storage away) lets the host retry."""
    with first_use():
        from pipelines.events.delivery import deliver
        from pipelines.store import get_worker_account, messages

    outcome = deliver(get_worker_account(), messages.decode(msg.get_body()))
    log.info("run events, message %s (delivery %s): %s", msg.id, msg.dequeue_count, outcome)
