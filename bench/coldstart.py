"""Figure 6: a cold start, `import function_app` in a fresh interpreter (issue 14, item 4).

Each sample is a new `python` process that imports the app and reports how long the
import took (the interpreter's own start-up is not counted), with the settings the
app checks at import. The Azure Functions worker imports `function_app` the same way
when an instance starts, before any function runs (it has `azure.functions` loaded
already, so this figure is a little above the real host's).
"""

from __future__ import annotations

import os
import subprocess
import sys

from bench.report import Row, Section
from bench.stats import Summary
from pipelines.devhost.azurite import ROOT

PROBE = (
    "import sys, time\n"
    "started = time.perf_counter()\n"
    "import function_app\n"
    "elapsed = time.perf_counter() - started\n"
    "sdks = sorted(m for m in ('azure.storage.blob', 'azure.storage.queue', 'azure.data.tables') if m in sys.modules)\n"
    "print(elapsed, ','.join(sdks))\n"
)


def measure(samples: int) -> Section:
    env = {
        **os.environ,
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "PIPELINES_STEPS_QUEUE": "pipeline-steps",
        "PIPELINES_DEV_ISSUER": "true",
    }
    durations: list[float] = []
    loaded: set[str] = set()
    for _ in range(samples):
        done = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
            [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        seconds, _, sdks = done.stdout.strip().partition(" ")
        durations.append(float(seconds))
        loaded |= set(filter(None, sdks.split(",")))
    section = Section("6. Cold start: import function_app in a fresh interpreter (issue 14)")
    section.add(Row("import function_app", Summary.of_seconds(durations), note="aim: p50 at most 250 ms"))
    section.notes.append(
        "storage SDKs loaded by the import: " + (", ".join(sorted(loaded)) or "none (they load with the first account)")
    )
    return section
