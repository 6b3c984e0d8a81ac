"""The app's HTTP functions: one per route of `pipelines.api.routes`, registered without its handler.

Registering a function needs its name, route, methods and auth level (the table has them) and a
Python function whose signature the decorators read (`req: func.HttpRequest`, the same for every
route). What answers the route, its handler in the module its section of the table names, is
imported on the route's first request (`pipelines.api.http.answer`): the host indexes the app
without the wire models, the services or the token libraries they pull in (issue 14), and each
kind of request pays for its modules once per process instead.

Only the standard library, `azure.functions` and the route table are imported here: a test
(`tests/unit/test_lazy_functions.py`) holds the app's import to that.
"""

from __future__ import annotations

import typing
from collections.abc import Callable

import azure.functions as func

from pipelines.api.routes import ROUTES, Route
from pipelines.lazy import first_use

bp = func.Blueprint()


def served_methods(spec: Route) -> list[str]:
    """The methods the host hands the function. A route with no parameter in its path (`health`,
    `studio`) is the only one at that path: it takes every method Azure Functions routes
    (`azure.functions.HttpMethod`) and answers 405 with `Allow` for those it does not serve. A
    route with parameters may share a path with another route (`PipelineEndpoints/Name` and
    `PipelineEndpoints/{endpointId}`), whose method must reach that route: it takes its own only."""
    if "{" in spec.template:
        return list(spec.methods)
    return list(dict.fromkeys([*spec.methods, *(method.value for method in func.HttpMethod)]))


# A route that starts runs writes their first steps' messages through this output binding, not
# the SDK: the host then tells its own trigger of the steps queue to poll at once
# (`SharedQueueWatcher`), so a first step does not wait out the poller's back-off
# (docs/architecture.md, "Trigger latency").
STEPS_QUEUE = "%PIPELINES_STEPS_QUEUE%"


def _register(spec: Route) -> None:
    # The Functions worker binds by parameter name: the function takes exactly `req`, and
    # `steps` when it writes to the steps queue.
    def function(req: func.HttpRequest) -> func.HttpResponse:
        with first_use():
            from pipelines.api.http import answer  # the handlers' layer, on the first request

        return answer(req, spec)

    # typing.List, not list: the worker's converter check (azure.functions.meta
    # `is_iterable_type_annotation`) refuses the builtin generic, and the app would not load.
    def starting(req: func.HttpRequest, steps: func.Out[typing.List[str]]) -> func.HttpResponse:  # noqa: UP006
        with first_use():
            from pipelines.api.http import answer
            from pipelines.errors import ConfigurationError
            from pipelines.settings import get_settings
            from pipelines.store.messages import collected

        try:
            queue = get_settings().steps_queue_name
        except ConfigurationError:
            return answer(req, spec)  # the contract's 503 for an app whose settings are not valid
        with collected(queue) as outbox:
            try:
                return answer(req, spec)
            finally:
                if outbox.messages:
                    steps.set(outbox.messages)

    chosen: Callable[..., func.HttpResponse] = starting if spec.starts_runs else function
    chosen.__name__ = spec.name
    chosen.__qualname__ = spec.name
    chosen.route_spec = spec  # type: ignore[attr-defined]
    if spec.starts_runs:
        chosen = bp.queue_output(arg_name="steps", queue_name=STEPS_QUEUE, connection="AzureWebJobsStorage")(chosen)
    bp.function_name(spec.name)(
        bp.route(route=spec.template, methods=served_methods(spec), auth_level=func.AuthLevel.ANONYMOUS)(chosen)
    )


for _spec in ROUTES.values():
    _register(_spec)
