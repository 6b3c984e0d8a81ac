"""Run a Function app in the development host for a test: `with running_host() as host: ...`.

The host serves on a free port against the current environment (use the
`storage_env` fixture first, or the `host` fixture that does both) and stops,
with every thread it started, when the block ends.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import azure.functions as func

from pipelines.devhost.host import DevHost

ROOT = Path(__file__).resolve().parents[1]


def project_host_json() -> dict[str, Any]:
    return json.loads((ROOT / "host.json").read_text(encoding="utf-8"))


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _reset_auth() -> None:
    try:
        from pipelines.auth import reset_auth
    except ImportError:
        return
    reset_auth()


@contextmanager
def running_host(
    app: func.FunctionApp | None = None,
    *,
    host_json: Mapping[str, Any] | None = None,
    dev_issuer: bool | None = None,
    **options: Any,
) -> Iterator[DevHost]:
    """Start `app` (default: `function_app.app`) with `host_json` (default: the project's).

    `dev_issuer=True` (or PIPELINES_DEV_ISSUER=true in the environment) serves the
    development JWKS and points the token validator at it, so tokens minted with
    `pipelines.auth.devissuer.mint` are accepted. `options` go to `DevHost`.
    """
    if app is None:
        # function_app checks the settings when first imported, on a thread beside the
        # import: import it with a complete environment, and wait for the check there (the
        # auth caches are reset before serving anyway).
        with _environment({"PIPELINES_DEV_ISSUER": "true"}):
            from function_app import app as project_app
            from pipelines.startup import configuration_problems

            configuration_problems()
        app = project_app
    use_issuer = _truthy(os.environ.get("PIPELINES_DEV_ISSUER")) if dev_issuer is None else dev_issuer
    settings: dict[str, str] = {"PIPELINES_DEV_ISSUER": "true"} if use_issuer else {}
    # The worker's thread pool as the app is deployed (infra/main.bicep, the example
    # settings): every sync invocation shares it, timers included.
    settings.setdefault("PYTHON_THREADPOOL_THREAD_COUNT", os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT", "32"))
    with _environment(settings):
        host = DevHost(app, project_host_json() if host_json is None else host_json, port=0, **options)
        with host:
            issuer_env: dict[str, str] = {}
            if use_issuer:
                from pipelines.auth.devissuer import configure_dev_environment

                issuer_env = configure_dev_environment(host.base_url)
            with _environment(issuer_env):
                _reset_auth()
                try:
                    yield host
                finally:
                    _reset_auth()


def http_only_app() -> func.FunctionApp:
    """The project's app without its worker blueprint: nothing takes a step off the queue."""
    from pipelines.blueprints import BLUEPRINTS
    from pipelines.worker.functions import bp as worker_bp

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in BLUEPRINTS:
        if blueprint is not worker_bp:
            app.register_functions(blueprint)
    return app


# -- shared by the development host's tests ---------------------------------------------------------
# Fast polling and retries, so queue tests take fractions of a second.
FAST_QUEUES = {
    "version": "2.0",
    "extensions": {
        "queues": {
            "batchSize": 4,
            "newBatchThreshold": 2,
            "maxPollingInterval": "00:00:00.200",
            "visibilityTimeout": "00:00:00",
            "maxDequeueCount": 2,
            "messageEncoding": "base64",
        }
    },
}


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
