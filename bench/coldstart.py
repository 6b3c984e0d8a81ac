"""Figure 6: a cold start, `import function_app` in a fresh interpreter (issue 14, item 4).

Each sample is a new `python` process that imports the app and reports how long the
import took (the interpreter's own start-up is not counted), with the settings the
app checks at import. The Azure Functions worker imports `function_app` the same way
when an instance starts, before any function runs; it has `azure.functions` loaded
already, so the second row, the same import with `azure.functions` imported first, is
what the real worker pays (the first row is the figure the aim is set on).

The functions import their handlers on their first call (`pipelines/api/functions.py`),
and the settings are checked on a thread of its own beside the indexing
(`pipelines/startup.py`), so a cold start moves part of its cost to the first request:
the third and fourth rows time one request (no token, a 401 from `get_pipeline`: the
HTTP layer, the catalogue's handlers and the token validator are imported, and the
request waits for the settings' check) just after the import and then again, warm; the
fifth row is the import and that first request together, with nothing between them (in
Azure the host loads the functions and starts its listeners between the two, which is
the time the check overlaps); the last row imports every module the functions load
lazily, at once: what an instance pays, spread over its first request of each kind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.report import Row, Section
from bench.stats import Summary
from pipelines.devhost.azurite import ROOT

AIM_MS = 250

PROBE = """
import importlib, json, sys, time
if sys.argv[1] == "worker":
    import azure.functions  # as the Python worker has, before it loads the app
started = time.perf_counter()
import function_app
figures = {"import": time.perf_counter() - started}
sdks = sorted(m for m in ("azure.storage.blob", "azure.storage.queue", "azure.data.tables") if m in sys.modules)
if sys.argv[1] == "worker":
    from pipelines.api.routes import HANDLER_MODULES
    lazy = sorted({*HANDLER_MODULES.values(), "pipelines.api.http", "pipelines.worker.handler",
                   "pipelines.schedules.service", "pipelines.triggers.service", "pipelines.triggers.model"})
    started = time.perf_counter()
    for name in lazy:
        importlib.import_module(name)
    figures["lazy"] = time.perf_counter() - started
else:
    import azure.functions as func
    function = {f.get_function_name(): f for f in function_app.app.get_functions()}["get_pipeline"]
    request = func.HttpRequest("GET", "http://127.0.0.1:7071/x", body=b"", headers={}, route_params={
        "subscriptionId": "s", "resourceGroupName": "g", "workspaceName": "w", "pipelineId": "p"})
    for label in ("first", "warm"):
        started = time.perf_counter()
        status = function.get_user_function()(request).status_code
        figures[label] = time.perf_counter() - started
        assert status == 401, status
    figures["total"] = figures["import"] + figures["first"]
print(json.dumps({"seconds": figures, "sdks": sdks}))
"""


def _sample(mode: str, env: dict[str, str]) -> tuple[dict[str, float], list[str]]:
    """One fresh interpreter: its figures (seconds) and the storage SDKs its import loaded."""
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", PROBE, mode], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {str(k): float(v) for k, v in result["seconds"].items()}, [str(m) for m in result["sdks"]]


def measure(samples: int) -> Section:
    env = {
        **os.environ,
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "PIPELINES_STEPS_QUEUE": "pipeline-steps",
        "PIPELINES_DEV_ISSUER": "true",
    }
    figures: dict[str, list[float]] = {}
    loaded: set[str] = set()
    for _ in range(samples):
        for mode in ("fresh", "worker"):  # interleaved, so that the machine's noise falls on both alike
            seconds, sdks = _sample(mode, env)
            for label, value in seconds.items():
                figures.setdefault(f"{mode}:{label}", []).append(value)
            loaded |= set(sdks)
    section = Section("6. Cold start: import function_app in a fresh interpreter (issue 14)")
    cold = Summary.of_seconds(figures["fresh:import"])
    aim = f"aim: p50 at most {AIM_MS} ms ({'met' if cold.p50 <= AIM_MS else 'not met'})"
    section.add(Row("import function_app", cold, note=aim))
    section.add(Row("  the same, azure.functions imported first", Summary.of_seconds(figures["worker:import"]),
                    note="what the Python worker pays: it has imported azure.functions"))
    section.add(Row("first request after the import (401)", Summary.of_seconds(figures["fresh:first"]),
                    note="imports the HTTP layer, the route's handlers, the token validator"))
    section.add(Row("  the same request again, warm", Summary.of_seconds(figures["fresh:warm"])))
    section.add(Row("import and first request, end to end", Summary.of_seconds(figures["fresh:total"]),
                    note="with nothing between them: the host's own start-up work is what the check overlaps"))
    section.add(Row("every lazily imported module at once", Summary.of_seconds(figures["worker:lazy"]),
                    note="all handlers and the worker, and the check beside them: spread over the first requests"))
    section.notes.append(f"{samples} samples of each kind, in {2 * samples} fresh interpreters, interleaved")
    section.notes.append(
        "storage SDKs loaded by the import: " + (", ".join(sorted(loaded)) or "none (they load with the first account)")
    )
    return section
