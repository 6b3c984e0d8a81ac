"""Every blueprint of the app, in one list that `function_app.py` registers."""

from __future__ import annotations

from pipelines.api.health import bp as health_bp

BLUEPRINTS = [health_bp]
