"""Every blueprint of the app, in one list that `function_app.py` registers.

Registering them imports no handler: each function imports what answers it on its first
call (`pipelines/api/functions.py`), so the host indexes the app in a fraction of the time.
"""

from __future__ import annotations

from pipelines.api.functions import bp as http_bp
from pipelines.events.functions import bp as run_events_bp
from pipelines.schedules.functions import bp as schedule_timer_bp
from pipelines.triggers.functions import bp as event_grid_bp
from pipelines.worker.functions import bp as worker_bp

BLUEPRINTS = [http_bp, schedule_timer_bp, event_grid_bp, worker_bp, run_events_bp]
