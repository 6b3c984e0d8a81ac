"""The published definition: shape, schema file, server-side checks, parameter coercion."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from pipelines.authoring import (
    SCHEMA_VERSION,
    DataPath,
    DataPathComputeBinding,
    DataPathValue,
    DatasetConsumptionConfig,
    DatasetRef,
    DatasetValue,
    ParameterSpec,
    Pipeline,
    PipelineData,
    PipelineDefinition,
    PipelineParameter,
    PipelineValidationError,
    PythonScriptStep,
    coerce_parameter,
    combined_snapshot_hash,
    definition_json_schema,
    format_parameter,
    parse_definition,
    validate_definition,
)
from pipelines.authoring.schema import SCHEMA_PATH, render_schema
from pipelines.authoring.schema import main as schema_main
from pipelines.errors import BadRequestError


@pytest.fixture
def definition(tmp_path: Path) -> PipelineDefinition:
    """A three-step chain with every kind of argument and input: a -> b -> c."""
    for folder, script in (("one", "a.py"), ("two", "b.py")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / script).write_text("print(1)\n")
    first, second = PipelineData("first"), PipelineData("second")
    datapath = PipelineParameter("raw", DataPath("workspaceblobstore", "raw/data"))
    dataset = PipelineParameter("ref", DatasetRef(name="ref"))
    a = PythonScriptStep(
        "a.py",
        name="a",
        source_directory=tmp_path / "one",
        arguments=[
            "--raw",
            (datapath, DataPathComputeBinding()),
            "--n",
            PipelineParameter("n", 3),
            "--out",
            first,
        ],
        outputs=[first],
    )
    b = PythonScriptStep(
        "b.py",
        name="b",
        source_directory=tmp_path / "two",
        arguments=[
            "--in",
            first,
            "--ref",
            DatasetConsumptionConfig("ref", dataset),
            "--flag",
            PipelineParameter("flag", True),
            "--out",
            second,
        ],
        outputs=[second],
    )
    c = PythonScriptStep(
        "a.py",
        name="c",
        source_directory=tmp_path / "one",
        arguments=[
            "--in",
            second,
            "--rate",
            PipelineParameter("rate", 0.5),
            "--who",
            PipelineParameter("who", "me"),
        ],
    )
    return Pipeline(steps=[a, b, c], description="chain").to_definition()


def as_json(definition: PipelineDefinition) -> dict[str, Any]:
    return json.loads(definition.model_dump_json())


def step_index(obj: dict[str, Any], name: str) -> int:
    return next(i for i, step in enumerate(obj["steps"]) if step["name"] == name)


def validation_problems(obj: dict[str, Any] | PipelineDefinition) -> list[str]:
    parsed = obj if isinstance(obj, PipelineDefinition) else parse_definition(obj)
    with pytest.raises(PipelineValidationError) as excinfo:
        validate_definition(parsed)
    return [f"{detail.target}: {detail.message}" for detail in excinfo.value.details]


# -- round trip and schema ------------------------------------------------------------


def test_round_trip_through_json(definition: PipelineDefinition) -> None:
    # WHEN the definition travels as JSON text, and as decoded JSON
    text = definition.model_dump_json()
    # THEN it parses back equal, and still validates
    assert parse_definition(text) == definition
    assert parse_definition(text.encode()) == definition
    assert parse_definition(json.loads(text)) == definition
    validate_definition(parse_definition(text))


def test_json_keys_are_snake_case(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    assert obj["schema_version"] == SCHEMA_VERSION == 1
    assert set(obj) == {
        "schema_version",
        "description",
        "continue_on_step_failure",
        "parameters",
        "steps",
        "edges",
        "snapshot",
    }
    assert set(obj["steps"][0]) == {
        "id",
        "name",
        "script_name",
        "snapshot",
        "arguments",
        "inputs",
        "outputs",
        "allow_reuse",
        "max_retries",
        "idempotent",
        "timeout_seconds",
        "fresh_interpreter",
        "compute_target",
        "requirements",
    }
    defaults = {p["name"]: (p["type"], p["default"]) for p in obj["parameters"]}
    assert defaults == {
        "flag": ("bool", True),
        "n": ("int", 3),
        "rate": ("float", 0.5),
        "who": ("string", "me"),
        "raw": ("datapath", {"datastore": "workspaceblobstore", "path": "raw/data"}),
        "ref": ("dataset", {"id": None, "name": "ref", "version": None}),
    }


def test_combined_snapshot(definition: PipelineDefinition) -> None:
    hashes = [step.snapshot for step in definition.steps]
    assert len(set(hashes)) == 2  # a and c share a folder
    assert definition.snapshot == combined_snapshot_hash(hashes) == combined_snapshot_hash(reversed(hashes))


def test_a_step_is_found_by_its_id(definition: PipelineDefinition) -> None:
    for spec in definition.steps:
        assert definition.step(spec.id) is spec
        assert definition.find_step(spec.id) is spec
    assert definition.find_step("no-such-step") is None
    with pytest.raises(KeyError, match="no-such-step"):
        definition.step("no-such-step")


def test_schema_file_is_up_to_date() -> None:
    # The committed file must be what the models generate (python -m pipelines.authoring.schema).
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema()
    assert schema_main(["--check"]) == 0


def test_schema_describes_the_definition(definition: PipelineDefinition) -> None:
    schema = definition_json_schema()
    assert schema["title"] == "PipelineDefinition"
    assert set(schema["required"]) == {"steps", "snapshot"}
    assert schema["additionalProperties"] is False
    assert json.loads(SCHEMA_PATH.read_text())["properties"].keys() == as_json(definition).keys()


# -- parsing untrusted JSON ---------------------------------------------------------


def test_malformed_json_text() -> None:
    with pytest.raises(BadRequestError) as excinfo:
        parse_definition("{not json")
    assert excinfo.value.status == 400 and excinfo.value.details


def test_shape_errors_name_their_json_path(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    obj["schema_version"] = 2
    obj["steps"][0]["max_retries"] = -1
    obj["steps"][0]["allow_reuse"] = "true"
    obj["steps"][0]["arguments"][0] = {"kind": "literal", "value": 5}
    obj["steps"][1]["arguments"][0] = {"kind": "shell", "value": "rm"}
    obj["steps"][1]["id"] = "a/b"
    obj["steps"][2]["unexpected"] = 1
    obj["parameters"][0]["default"] = [1]
    with pytest.raises(BadRequestError) as excinfo:
        parse_definition(obj)
    targets = {detail.target for detail in excinfo.value.details}
    assert targets == {
        "schema_version",
        "steps[0].max_retries",
        "steps[0].allow_reuse",
        "steps[0].arguments[0].value",
        "steps[1].arguments[0]",
        "steps[1].id",
        "steps[2].unexpected",
        "parameters[0].default",
    }
    assert excinfo.value.target == "schema_version"


@pytest.mark.parametrize(
    ("type_", "default"),
    [
        ("int", "10"),
        ("int", True),
        ("int", 1.5),
        ("bool", 1),
        ("float", "1.5"),
        ("string", 3),
        ("dataset", {"datastore": "s", "path": "p"}),
        ("datapath", {"name": "x"}),
        ("int", 2**63),
    ],
)
def test_defaults_must_match_their_type_when_parsed(
    definition: PipelineDefinition, type_: str, default: object
) -> None:
    obj = as_json(definition)
    obj["parameters"].append({"name": "extra", "type": type_, "default": default})
    with pytest.raises(BadRequestError) as excinfo:
        parse_definition(obj)
    assert all(
        detail.target and detail.target.startswith("parameters[6]") for detail in excinfo.value.details
    )


def test_datapath_values_must_be_safe(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    obj["parameters"].append(
        {"name": "bad", "type": "datapath", "default": {"datastore": "s", "path": "%2e%2e/secrets"}}
    )
    with pytest.raises(BadRequestError) as excinfo:
        parse_definition(obj)
    [detail] = excinfo.value.details
    assert detail.target == "parameters[6].default.path" and "'..' segment" in detail.message


def test_empty_pipeline_is_malformed(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    obj["steps"] = []
    with pytest.raises(BadRequestError, match="steps"):
        parse_definition(obj)


# -- validate_definition on tampered definitions ---------------------------------------


def test_cycle(definition: PipelineDefinition) -> None:
    # GIVEN a feeds on c's output, closing a -> b -> c -> a
    obj = as_json(definition)
    a, c = step_index(obj, "a"), step_index(obj, "c")
    a_id, c_id = obj["steps"][a]["id"], obj["steps"][c]["id"]
    obj["steps"][c]["outputs"].append({"name": "back", "datastore": None})
    obj["steps"][a]["inputs"].append(
        {
            "name": "back",
            "kind": "step_output",
            "source_step": c_id,
            "source_output": "back",
            "parameter": None,
            "fixed": None,
            "mode": "mount",
        }
    )
    obj["edges"].append({"from_step": c_id, "from_output": "back", "to_step": a_id, "to_input": "back"})
    # THEN the cycle is named, step by step
    problems = validation_problems(obj)
    assert any(p.startswith("edges: the steps form a cycle") and "'a'" in p and "'c'" in p for p in problems)


def test_dangling_edges(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    obj["edges"].append({"from_step": "deadbeef", "from_output": "x", "to_step": "cafebabe", "to_input": "y"})
    obj["edges"][0]["from_output"] = "nope"
    problems = validation_problems(obj)
    last = f"edges[{len(obj['edges']) - 1}]"
    assert f"{last}: edge {len(obj['edges']) - 1} comes from unknown step 'deadbeef'" in problems
    assert any(p.startswith(f"{last}:") and "unknown step 'cafebabe'" in p for p in problems)
    assert any(p.startswith("edges[0]:") and "has no output 'nope'" in p for p in problems)


def test_step_output_input_without_edge(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    obj["edges"] = obj["edges"][:1]
    problems = validation_problems(obj)
    assert any("input 'second' has no edge feeding it" in p for p in problems)


def test_undeclared_parameter(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    c = step_index(obj, "c")
    position = next(i for i, arg in enumerate(obj["steps"][c]["arguments"]) if arg["kind"] == "parameter")
    obj["steps"][c]["arguments"][position]["name"] = "ghost"
    a = step_index(obj, "a")
    obj["steps"][a]["inputs"][0]["parameter"] = "ghost_path"
    problems = validation_problems(obj)
    assert (
        f"steps[{c}].arguments[{position}]: step 'c': argument {position} uses undeclared parameter 'ghost'"
        in problems
    )
    assert any(
        p.startswith(f"steps[{a}].inputs[0]:") and "undeclared parameter 'ghost_path'" in p for p in problems
    )


def test_input_parameter_of_the_wrong_type(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    obj["steps"][0]["inputs"][0]["parameter"] = "who"
    assert any("uses parameter 'who' of type string" in p for p in validation_problems(obj))


def test_bad_default_type(definition: PipelineDefinition) -> None:
    # model_copy skips validation: the kind of object a buggy caller could hand over
    spec = definition.parameters[0].model_copy(update={"default": "abc"})
    tampered = definition.model_copy(update={"parameters": [spec, *definition.parameters[1:]]})
    problems = validation_problems(tampered)
    assert problems == [f"parameters[0].default: parameter {spec.name!r}: default 'abc' is not a boolean"]


@pytest.mark.parametrize(
    "script", ["../evil.py", "/abs.py", "a\\b.py", "%2e%2e/x.py", "C:/x.py", "./a.py", "a//b.py"]
)
def test_unsafe_script_path(definition: PipelineDefinition, script: str) -> None:
    obj = as_json(definition)
    obj["steps"][1]["script_name"] = script
    [problem] = validation_problems(obj)
    assert problem.startswith("steps[1].script_name: step 'b': script_name")


def test_wrong_combined_snapshot(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    obj["snapshot"] = "0" * 64
    assert validation_problems(obj) == ["snapshot: snapshot is not the combined hash of the step snapshots"]


def test_duplicate_ids_and_names(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    obj["steps"][2]["id"] = obj["steps"][1]["id"]
    obj["steps"][2]["name"] = obj["steps"][1]["name"]
    problems = validation_problems(obj)
    assert any(p.startswith("steps[2].id:") for p in problems)
    assert any(p.startswith("steps[2].name:") and "two steps have this name" in p for p in problems)


def test_steps_out_of_topological_order(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    obj["steps"].reverse()
    assert any("steps must be in a topological order" in p for p in validation_problems(obj))


def test_arguments_must_name_existing_inputs_and_outputs(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    obj["steps"][0]["arguments"].append({"kind": "input", "name": "nowhere"})
    obj["steps"][0]["arguments"].append({"kind": "output", "name": "nothing"})
    problems = validation_problems(obj)
    assert any("names unknown input 'nowhere'" in p for p in problems)
    assert any("names unknown output 'nothing'" in p for p in problems)


def test_input_kinds_must_be_consistent(definition: PipelineDefinition) -> None:
    obj = as_json(definition)
    obj["steps"][0]["inputs"][0]["fixed"] = {"datastore": "s", "path": "p"}  # parameter and fixed both set
    obj["steps"][1]["inputs"][1]["fixed"] = {"datastore": "s", "path": "p"}
    obj["steps"][1]["inputs"][1]["parameter"] = None  # a dataset input with a datapath value
    problems = validation_problems(obj)
    assert any("needs either a parameter or a fixed value" in p for p in problems)
    assert any("has a fixed value of the wrong kind" in p for p in problems)


def test_a_valid_definition_passes(definition: PipelineDefinition) -> None:
    validate_definition(definition)
    validate_definition(parse_definition(copy.deepcopy(as_json(definition))))


# -- coercion of submitted values ----------------------------------------------------------


def spec(type_: str) -> ParameterSpec:
    defaults: dict[str, Any] = {
        "string": "s",
        "int": 1,
        "float": 1.0,
        "bool": False,
        "dataset": DatasetValue(name="d"),
        "datapath": DataPathValue(datastore="s", path="p"),
    }
    return ParameterSpec(name="p", type=type_, default=defaults[type_])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        ("int", 20, 20),
        ("int", "20", 20),
        ("int", "+20", 20),
        ("int", "-7", -7),
        ("int", " 20 ", 20),
        ("int", 20.0, 20),
        ("int", str(2**63 - 1), 2**63 - 1),
        ("float", 2.5, 2.5),
        ("float", 3, 3.0),
        ("float", "2.5", 2.5),
        ("float", "-1e3", -1000.0),
        ("float", "10", 10.0),
        ("float", ".5", 0.5),
        ("bool", True, True),
        ("bool", False, False),
        ("bool", "true", True),
        ("bool", "False", False),
        ("bool", "TRUE", True),
        ("bool", "1", True),
        ("bool", "0", False),
        ("bool", 1, True),
        ("bool", 0, False),
        ("string", "hello", "hello"),
        ("string", "", ""),
        ("string", True, "True"),
        ("string", 20, "20"),
        ("string", 2.5, "2.5"),
        ("datapath", {"datastore": "s", "path": "a//b"}, DataPathValue(datastore="s", path="a/b")),
        ("dataset", {"id": "abc"}, DatasetValue(id="abc")),
    ],
)
def test_coercion_accepts(type_: str, value: object, expected: object) -> None:
    result = coerce_parameter(spec(type_), value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("int", "abc"),
        ("int", 20.5),
        ("int", True),
        ("int", "20.0"),
        ("int", "1_000"),
        ("int", ""),
        ("int", "٢٠"),
        ("int", None),
        ("int", 2**63),
        ("int", math.inf),
        ("int", "9" * 500),
        ("float", True),
        ("float", "nan"),
        ("float", "inf"),
        ("float", "Infinity"),
        ("float", math.nan),
        ("float", "1e999"),
        ("float", "abc"),
        ("float", None),
        ("float", 10**400),
        ("bool", "yes"),
        ("bool", 2),
        ("bool", 1.0),
        ("bool", None),
        ("bool", ""),
        ("string", None),
        ("string", [1]),
        ("string", {"a": 1}),
        ("string", "nul\x00"),
        ("string", math.nan),
        ("datapath", "store/path"),
        ("datapath", {"datastore": "s", "path": "../x"}),
        ("dataset", {"id": "a", "name": "b"}),
        ("dataset", 5),
    ],
)
def test_coercion_refuses(type_: str, value: object) -> None:
    with pytest.raises(ValueError, match="parameter 'p' expects"):
        coerce_parameter(spec(type_), value)


@pytest.mark.parametrize(
    ("type_", "value", "text"),
    [
        ("bool", True, "True"),
        ("bool", "false", "False"),
        ("int", "20", "20"),
        ("int", 20.0, "20"),
        ("float", 0.1, "0.1"),
        ("float", "10", "10.0"),
        ("float", 1e20, "1e+20"),
        ("string", "a b", "a b"),
        ("string", True, "True"),
    ],
)
def test_format_for_the_command_line(type_: str, value: object, text: str) -> None:
    assert format_parameter(spec(type_), value) == text


def test_datasets_are_not_formatted() -> None:
    with pytest.raises(ValueError, match="reaches the step as an input"):
        format_parameter(spec("dataset"), {"id": "abc"})
