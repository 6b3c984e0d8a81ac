"""Queue, poison-queue and timer functions of the worker (the only Functions glue here).

Each imports the worker (`pipelines.worker.handler`) and storage on its first call, not
when the host indexes the app (issue 14; `pipelines/api/functions.py` says why).
"""

from __future__ import annotations

import logging

import azure.functions as func

from pipelines.lazy import first_use

log = logging.getLogger("pipelines.worker")

bp = func.Blueprint()

# Queue names come from app settings (`%NAME%`), so tests and several apps can
# share an account; the poison queue is the host's `<queue>-poison`.
STEPS_QUEUE = "%PIPELINES_STEPS_QUEUE%"


@bp.function_name("run_step")
@bp.queue_trigger(arg_name="msg", queue_name=STEPS_QUEUE, connection="AzureWebJobsStorage")
def run_step(msg: func.QueueMessage) -> None:
    """Execute one step of a run. Raising lets the host retry the message, then poison it."""
    with first_use():
        from pipelines.store import get_worker_account, messages
        from pipelines.worker.handler import handle_step_message

    outcome = handle_step_message(get_worker_account(), messages.decode(msg.get_body()))
    log.info("message %s (delivery %s): %s", msg.id, msg.dequeue_count, outcome)


@bp.function_name("fail_poisoned_step")
@bp.queue_trigger(arg_name="msg", queue_name=STEPS_QUEUE + "-poison", connection="AzureWebJobsStorage")
def fail_poisoned_step(msg: func.QueueMessage) -> None:
    """Never raises: the host gives a `-poison` queue no poison queue of its own, so a
    message that failed here would come back only every 10 minutes and, past
    maxDequeueCount, never again. A step it could not fail is found by the sweeper."""
    try:
        with first_use():
            from pipelines.store import get_worker_account, messages
            from pipelines.worker.handler import handle_poison_message

        outcome = handle_poison_message(get_worker_account(), messages.decode(msg.get_body()), msg.dequeue_count)
    except Exception:  # noqa: BLE001 - see above: logged, and the sweeper has the last word
        log.exception("poisoned message %s could not fail its step; the sweeper will", msg.id)
        return
    log.warning("poisoned message %s: %s", msg.id, outcome)


@bp.function_name("sweep_stranded_steps")
# Not on start-up: every instance that starts (scale-out, a restart) would sweep at once;
# the first tick is at most 5 s away. With the 15 s lease, a lost worker's step is queued
# again at most 20 s after its last renewal (see docs/architecture.md for the cost).
@bp.timer_trigger(arg_name="timer", schedule="*/5 * * * * *", run_on_startup=False)
def sweep_stranded_steps(timer: func.TimerRequest) -> None:
    """Every 5 s: queue again the steps a lost message or a dead worker stranded."""
    with first_use():
        from pipelines.store import get_worker_account
        from pipelines.worker.handler import sweep

    touched = sweep(get_worker_account())
    if touched:
        log.info("sweep looked at %d active runs", touched)
