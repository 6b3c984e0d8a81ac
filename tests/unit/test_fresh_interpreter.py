"""`PythonScriptStep(..., fresh_interpreter=True)`: a step that asks for an interpreter of its
own says so in its published definition (issue 14: the others are forked from a warm one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.authoring import Pipeline, PipelineValidationError, PythonScriptStep
from pipelines.authoring.definition import StepSpec, parse_definition
from pipelines.authoring.schema import definition_json_schema


@pytest.fixture
def src(tmp_path: Path) -> Path:
    (tmp_path / "main.py").write_text("print('hello')\n")
    return tmp_path


def test_a_step_is_forked_unless_it_asks_for_a_fresh_interpreter(src: Path) -> None:
    forked = PythonScriptStep("main.py", name="forked", source_directory=src)
    fresh = PythonScriptStep("main.py", name="fresh", source_directory=src, fresh_interpreter=True)
    definition = Pipeline(steps=[forked, fresh]).to_definition()
    assert [(s.name, s.fresh_interpreter) for s in definition.steps] == [("forked", False), ("fresh", True)]
    # AND the flag survives the published JSON
    again = parse_definition(definition.model_dump_json())
    assert [s.fresh_interpreter for s in again.steps] == [False, True]


def test_a_definition_published_before_the_flag_existed_reads_as_forked() -> None:
    spec = StepSpec.model_validate({"id": "a", "name": "a", "script_name": "main.py", "snapshot": "0" * 64})
    assert spec.fresh_interpreter is False


def test_fresh_interpreter_must_be_a_bool(src: Path) -> None:
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(steps=[PythonScriptStep("main.py", source_directory=src, fresh_interpreter="yes")])  # type: ignore[arg-type]
    assert [(d.target, d.message) for d in excinfo.value.details] == [
        ("steps[0].fresh_interpreter", "step 'main.py': fresh_interpreter must be True or False")
    ]


def test_the_schema_describes_the_flag() -> None:
    step = definition_json_schema()["$defs"]["StepSpec"]["properties"]["fresh_interpreter"]
    assert step == {"default": False, "title": "Fresh Interpreter", "type": "boolean"}
