"""The fault suite's figures as one table at the end of the session (a pytest plugin, named in
tests/conftest.py so that it is loaded where the session ends: with pytest-xdist, each worker
process sends what its scenarios recorded to the controller, which prints them together).

PIPELINES_RELIABILITY_REPORT=path also writes the figures as JSON. The figures live in the
harness, which only the fault suite imports: a session that did not (`make unit`) has none.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.reliability.harness import Figures

WORKER_KEY = "reliability_figures"
HARNESS = "tests.reliability.harness"


def recorded() -> Figures | None:
    """The session's figures, if the fault suite ran in this process."""
    harness = sys.modules.get(HARNESS)
    return None if harness is None else harness.FIGURES  # type: ignore[no-any-return]


def pytest_sessionfinish(session: pytest.Session) -> None:
    sent: dict[str, Any] | None = getattr(session.config, "workeroutput", None)
    figures = recorded()
    if sent is not None and figures is not None:  # an xdist worker: the controller prints the table
        sent[WORKER_KEY] = json.dumps(figures.to_json(), default=str)


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
    figures = recorded()
    if figures is None or (not figures.rows and not figures.notes):
        return
    terminalreporter.section(f"reliability figures ({figures.scale or 'short'})")
    for line in figures.table():
        terminalreporter.write_line(line)
    target = os.environ.get("PIPELINES_RELIABILITY_REPORT")
    if target:
        Path(target).write_text(json.dumps(figures.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
        terminalreporter.write_line(f"written to {target}")
