"""`step.run_after(other)` reaches the worker: the later step starts only after the earlier one ends."""

from __future__ import annotations

from pathlib import Path

from pipelines.authoring import (
    Pipeline,
    PythonScriptStep,
)
from tests.unit.test_authoring_run_after import source


def test_the_worker_starts_a_step_only_after_the_step_it_runs_after(host, tmp_path: Path) -> None:
    from pipelines.client import PipelineRun, Workspace, publish

    # GIVEN first (slow) and second, which shares no data with it but runs after it
    folder = source(tmp_path, "first.py", body="import time; time.sleep(1.5); print('first done')\n")
    (folder / "second.py").write_text("print('second')\n")
    first = PythonScriptStep("first.py", name="first", source_directory=folder)
    second = PythonScriptStep("second.py", name="second", source_directory=folder)
    second.run_after(first)
    workspace = Workspace.from_env(base_url=host.base_url, name="ws1")
    # WHEN it is published and run
    run = publish(workspace, Pipeline(steps=[first, second]), "ordered").submit("ordered")
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == "Finished"
    # THEN second started only once first had ended (without the edge both would start at once)
    steps = {s["Name"]: s for s in PipelineRun(workspace, {"Id": run.id}).get_step_statuses().values()}
    assert steps["second"]["StartTime"] >= steps["first"]["EndTime"]
