"""The schedules' timer: every 20 s, the runs whose fire time has come are started.

The service and storage are imported on the first tick, not when the host indexes the app.
"""

from __future__ import annotations

import logging

import azure.functions as func

from pipelines.lazy import first_use

bp = func.Blueprint()
log = logging.getLogger("pipelines.schedules")


@bp.function_name("fire_schedules")
@bp.timer_trigger(arg_name="timer", schedule="*/20 * * * * *", run_on_startup=False)
def fire_schedules(timer: func.TimerRequest) -> None:
    """Every 20 s: start the runs of schedules whose fire time has come."""
    with first_use():
        from pipelines.schedules.service import Schedules
        from pipelines.store import get_worker_account

    happened = Schedules(get_worker_account()).fire_due()
    if happened:
        log.info("schedules: %s", "; ".join(happened))
