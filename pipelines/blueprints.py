"""Every blueprint of the app, in one list that `function_app.py` registers."""

from __future__ import annotations

from pipelines.api.catalogue import bp as catalogue_bp
from pipelines.api.data import bp as data_bp
from pipelines.api.health import bp as health_bp
from pipelines.api.history import bp as history_bp
from pipelines.api.outputs import bp as outputs_bp
from pipelines.api.runs import bp as runs_bp
from pipelines.api.schedules import bp as schedules_bp
from pipelines.api.studio import bp as studio_bp
from pipelines.api.triggers import bp as triggers_bp
from pipelines.schedules.functions import bp as schedule_timer_bp
from pipelines.triggers.functions import bp as event_grid_bp
from pipelines.worker.functions import bp as worker_bp

BLUEPRINTS = [
    health_bp, catalogue_bp, runs_bp, outputs_bp, history_bp, data_bp, triggers_bp, schedules_bp, studio_bp,
    schedule_timer_bp, event_grid_bp, worker_bp,
]
