"""The fault suite's figures as one table at the end of the session (a pytest plugin, named in
tests/conftest.py so that it is loaded where the session ends: with pytest-xdist, each worker
process sends what its scenarios recorded to the controller, which prints them together).

PIPELINES_RELIABILITY_REPORT=path also writes the figures as JSON. The harness is imported in
the hooks, not here: a session without the fault suite (`make unit`) does not load it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

WORKER_KEY = "reliability_figures"


def pytest_sessionfinish(session: pytest.Session) -> None:
    sent: dict[str, Any] | None = getattr(session.config, "workeroutput", None)
    if sent is not None:  # an xdist worker: the controller prints the table
        from tests.reliability.harness import FIGURES

        sent[WORKER_KEY] = json.dumps(FIGURES.to_json(), default=str)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """An xdist worker is done (the hook is pytest-xdist's): its figures join the table."""
    received = getattr(node, "workeroutput", {}).get(WORKER_KEY)
    if received:
        from tests.reliability.harness import FIGURES

        FIGURES.merge(json.loads(received))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if hasattr(terminalreporter.config, "workerinput"):
        return  # an xdist worker: what it recorded goes to the controller (above)
    from tests.reliability.harness import FIGURES

    if not FIGURES.rows and not FIGURES.notes:
        return
    terminalreporter.section(f"reliability figures ({FIGURES.scale or 'short'})")
    for line in FIGURES.table():
        terminalreporter.write_line(line)
    target = os.environ.get("PIPELINES_RELIABILITY_REPORT")
    if target:
        Path(target).write_text(json.dumps(FIGURES.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
        terminalreporter.write_line(f"written to {target}")
