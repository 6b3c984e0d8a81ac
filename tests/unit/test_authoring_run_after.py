"""`step.run_after(other)`: SDK v1's ordering of two steps that exchange no data.

The authoring side: the checks, the order of the steps, and the edge without data
(`EdgeSpec` with neither `from_output` nor `to_input`) that carries it into the
published definition. The worker honouring it: tests/integration/test_authoring_run_after.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.authoring import (
    Pipeline,
    PipelineData,
    PipelineValidationError,
    PythonScriptStep,
    node_id,
    validate_definition,
)
from pipelines.authoring.definition import EdgeSpec


def source(tmp_path: Path, *scripts: str, body: str = "print('hello')\n") -> Path:
    folder = tmp_path / "src"
    folder.mkdir(parents=True, exist_ok=True)
    for script in scripts:
        (folder / script).write_text(body)
    return folder


def problems_of(excinfo: pytest.ExceptionInfo[PipelineValidationError]) -> list[str]:
    return [f"{detail.target}: {detail.message}" for detail in excinfo.value.details]


def test_run_after_orders_steps_that_share_no_data(tmp_path: Path) -> None:
    # GIVEN two steps listed in the "wrong" order, the second to run after the first
    folder = source(tmp_path, "load.py", "report.py")
    report = PythonScriptStep("report.py", name="report", source_directory=folder)
    load = PythonScriptStep("load.py", name="load", source_directory=folder)
    report.run_after(load)
    # WHEN the pipeline is built
    pipeline = Pipeline(steps=[report, load])
    # THEN load comes first, as if report read load's output
    assert [step.name for step in pipeline._ordered] == ["load", "report"]
    assert report.run_after_steps == [load]


def test_run_after_problems_are_reported_together(tmp_path: Path) -> None:
    # GIVEN run_after given something that is not a step, the step itself, and a step left out
    folder = source(tmp_path, "a.py", "b.py", "c.py")
    a = PythonScriptStep("a.py", name="a", source_directory=folder)
    b = PythonScriptStep("b.py", name="b", source_directory=folder)
    outside = PythonScriptStep("c.py", name="outside", source_directory=folder)
    b.run_after("a")
    b.run_after(b)
    b.run_after(outside)
    # WHEN / THEN every problem is named at once, with where it is
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(steps=[a, b])
    assert problems_of(excinfo) == [
        "steps[1].run_after[0]: step 'b' runs after str, which is not a step",
        "steps[1].run_after[1]: step 'b' cannot run after itself",
        "steps[1].run_after[2]: step 'b' runs after step 'outside', which is not in the pipeline (list it in steps)",
    ]


def test_a_cycle_through_run_after_and_data_names_its_steps(tmp_path: Path) -> None:
    # GIVEN a feeds b through data, and a is told to run after b
    folder = source(tmp_path, "a.py", "b.py")
    data = PipelineData("handoff")
    a = PythonScriptStep("a.py", name="a", outputs=[data], arguments=["--out", data], source_directory=folder)
    b = PythonScriptStep("b.py", name="b", inputs=[data], arguments=["--in", data], source_directory=folder)
    a.run_after(b)
    # WHEN / THEN
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(steps=[a, b])
    [problem] = problems_of(excinfo)
    assert "cycle" in problem and "run_after" in problem and "'a'" in problem and "'b'" in problem


def test_run_after_reaches_the_published_definition(tmp_path: Path) -> None:
    # GIVEN report runs after load, and score reads load's output (a data edge already orders it)
    folder = source(tmp_path, "load.py", "report.py", "score.py")
    data = PipelineData("rows")
    load = PythonScriptStep("load.py", name="load", outputs=[data], arguments=[data], source_directory=folder)
    score = PythonScriptStep("score.py", name="score", inputs=[data], arguments=[data], source_directory=folder)
    report = PythonScriptStep("report.py", name="report", source_directory=folder)
    report.run_after(load)
    score.run_after(load)  # said twice: the data edge is enough
    pipeline = Pipeline(steps=[load, score, report])
    # THEN the definition holds one ordering edge (no output, no input) and the data edge
    definition = pipeline.to_definition()
    edges = {(e.from_step, e.from_output, e.to_step, e.to_input) for e in definition.edges}
    assert edges == {
        (node_id("load"), "rows", node_id("score"), "rows"),
        (node_id("load"), None, node_id("report"), None),
    }
    validate_definition(definition)


def test_an_edge_names_both_an_output_and_an_input_or_neither() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="both an output and an input, or neither"):
        EdgeSpec(from_step="a", from_output="rows", to_step="b")
    assert EdgeSpec(from_step="a", to_step="b").orders_only
