"""The authoring API: parameters, data bindings, steps, pipelines, and the example."""

from __future__ import annotations

import enum
import importlib.util
import io
import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from pipelines import authoring
from pipelines.authoring import (
    DataPath,
    DataPathComputeBinding,
    DataPathInput,
    DatasetConsumptionConfig,
    DatasetRef,
    Pipeline,
    PipelineData,
    PipelineParameter,
    PipelineValidationError,
    PythonScriptStep,
    extract_snapshot,
    format_parameter,
    node_id,
    validate_definition,
)
from pipelines.errors import BadRequestError, InvalidParameterError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "compare"


def make_source(root: Path, *scripts: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for script in scripts:
        path = root / script
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("print('hello')\n")
    return root


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_source(tmp_path / "src", "prep.py", "train.py", "score.py", "merge.py")


def problems_of(excinfo: pytest.ExceptionInfo[PipelineValidationError]) -> list[str]:
    return [f"{detail.target}: {detail.message}" for detail in excinfo.value.details]


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_pipeline", EXAMPLE / "pipeline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the public surface -------------------------------------------------------------


def test_all_is_honest() -> None:
    # GIVEN the package's declared surface
    exported = set(authoring.__all__)
    # THEN every name resolves, and nothing public is left out
    for name in exported:
        assert hasattr(authoring, name), name
    public = {name for name in vars(authoring) if not name.startswith("_") and name[0].isupper()}
    assert public <= exported


# -- parameters ---------------------------------------------------------------------


class Colour(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize(
    ("default", "expected_type", "stored"),
    [
        (True, "bool", True),
        (False, "bool", False),
        (10, "int", 10),
        (Colour.RED, "int", 1),
        (1.5, "float", 1.5),
        ("x", "string", "x"),
        ("", "string", ""),
        (DatasetRef(name="sales", version=2), "dataset", DatasetRef(name="sales", version=2)),
        (DataPath("workspaceblobstore", "a/b.csv"), "datapath", DataPath("workspaceblobstore", "a/b.csv")),
    ],
)
def test_parameter_type_is_inferred_from_the_default(
    default: object, expected_type: str, stored: object
) -> None:
    parameter = PipelineParameter("p", default_value=default)  # type: ignore[arg-type]
    assert parameter.type == expected_type
    assert parameter.default_value == stored
    assert type(parameter.default_value) is type(stored)


def test_bool_is_inferred_before_int() -> None:
    # True is an int in Python; a bool parameter must not become an int one.
    assert PipelineParameter("flag", True).type == "bool"
    assert PipelineParameter("flag", True).to_spec().default is True
    assert PipelineParameter("flag", True) != PipelineParameter("flag", 1)


@pytest.mark.parametrize("name", ["", "   ", "a" * 256, "bad\nname", "tab\tname", "nul\x00"])
def test_parameter_names_are_checked(name: str) -> None:
    with pytest.raises(InvalidParameterError):
        PipelineParameter(name, 1)


def test_parameter_name_of_255_characters_is_fine() -> None:
    assert PipelineParameter("a" * 255, 1).name == "a" * 255


@pytest.mark.parametrize("default", [None, [1], {"a": 1}, math.nan, math.inf, 2**63, "x\x00"])
def test_unsupported_defaults_are_refused(default: object) -> None:
    with pytest.raises(InvalidParameterError):
        PipelineParameter("p", default)  # type: ignore[arg-type]


def test_dataset_references() -> None:
    assert DatasetRef(name="sales", version="3").version == 3
    assert DatasetRef.get_by_name("sales", "latest").version is None
    assert DatasetRef.get_by_id("abc").to_value().id == "abc"
    for bad in (
        lambda: DatasetRef(),
        lambda: DatasetRef(id="a", name="b"),
        lambda: DatasetRef(id="a", version=1),
        lambda: DatasetRef(name="a", version=0),
        lambda: DatasetRef(name="a", version="v1"),
    ):
        with pytest.raises(InvalidParameterError):
            bad()


@pytest.mark.parametrize(
    "path",
    [
        "/abs/file.csv",
        "../up.csv",
        "a/../../b",
        "a\\b.csv",
        "..\\up.csv",
        "C:/data.csv",
        "c:data.csv",
        "%2e%2e/secret",
        "a/%2E%2E/%2e%2e/b",
        "%252e%252e/secret",
        "%2fetc/passwd",
        "",
        "./",
        "a\nb",
    ],
)
def test_datapath_paths_must_stay_inside(path: str) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        DataPath("workspaceblobstore", path)
    assert excinfo.value.target == "datapath.path_on_datastore"


def test_datapath_is_normalised_and_takes_datastore_objects() -> None:
    class Datastore:
        name = "workspaceblobstore"

    path = DataPath(Datastore(), "./compare//data1.csv")
    assert (path.datastore_name, path.path_on_datastore) == ("workspaceblobstore", "compare/data1.csv")
    with pytest.raises(InvalidParameterError):
        DataPath("bad/store", "x")


def test_pipeline_data_names_are_identifiers() -> None:
    with pytest.raises(InvalidParameterError):
        PipelineData("has space")
    assert PipelineData("ok_1", datastore="workspaceblobstore").datastore_name == "workspaceblobstore"


# -- a multi-step pipeline ----------------------------------------------------------


def fan_in_pipeline(src: Path) -> Pipeline:
    """prep -> (train, score) -> merge, listed out of order on purpose."""
    cleaned = PipelineData("cleaned")
    model = PipelineData("model")
    scores = PipelineData("scores")
    lr = PipelineParameter("learning_rate", 0.1)
    epochs = PipelineParameter("epochs", 3)
    raw = PipelineParameter("raw_data", DataPath("workspaceblobstore", "raw/2024"))
    reference = PipelineParameter("reference", DatasetRef(name="reference", version=1))
    raw_input = (raw, DataPathComputeBinding(mode="download"))
    merge = PythonScriptStep(
        "merge.py",
        name="merge",
        arguments=["--model", model, "--scores", scores],
        inputs=[model, scores],
        source_directory=src,
    )
    train = PythonScriptStep(
        "train.py",
        name="train",
        arguments=["--data", cleaned, "--lr", lr, "--epochs", epochs, "--out", model],
        inputs=[cleaned],
        outputs=[model],
        source_directory=src,
        max_retries=2,
        timeout_seconds=600,
    )
    score = PythonScriptStep(
        "score.py",
        name="score",
        arguments=["--data", cleaned, "--ref", DatasetConsumptionConfig("ref", reference), "--out", scores],
        outputs=[scores],
        source_directory=src,
        allow_reuse=False,
    )
    prep = PythonScriptStep(
        "prep.py",
        name="prep",
        arguments=[
            "--raw",
            raw_input,
            "--fixed",
            DataPath("workspaceblobstore", "lookup.csv", name="lookup").as_input(),
            "--epochs",
            PipelineParameter("epochs", 3),
            "--out",
            cleaned,
            7,
            2.5,
            True,
        ],
        inputs=[raw_input],
        outputs=[cleaned],
        source_directory=src,
    )
    return Pipeline(steps=[merge, train, score, prep], description="fan-in", continue_on_step_failure=True)


def test_multi_step_pipeline_definition(src: Path) -> None:
    # GIVEN a four-step fan-in pipeline listed in reverse
    pipeline = fan_in_pipeline(src)
    # WHEN it becomes a definition
    definition = pipeline.to_definition()
    # THEN the steps come in a topological order, ties in the author's order
    assert [step.name for step in definition.steps] == ["prep", "train", "score", "merge"]
    ids = {step.name: step.id for step in definition.steps}
    assert ids == {name: node_id(name) for name in ids}
    assert all(len(step_id) == 8 for step_id in ids.values())
    # AND the edges follow the PipelineData
    edges = {(e.from_step, e.from_output, e.to_step, e.to_input) for e in definition.edges}
    assert edges == {
        (ids["prep"], "cleaned", ids["train"], "cleaned"),
        (ids["prep"], "cleaned", ids["score"], "cleaned"),
        (ids["train"], "model", ids["merge"], "model"),
        (ids["score"], "scores", ids["merge"], "scores"),
    }
    # AND every parameter is declared once, with its type
    assert {(p.name, p.type) for p in definition.parameters} == {
        ("epochs", "int"),
        ("learning_rate", "float"),
        ("raw_data", "datapath"),
        ("reference", "dataset"),
    }
    prep = definition.steps[0]
    assert [arg.kind for arg in prep.arguments] == [
        "literal",
        "input",
        "literal",
        "input",
        "literal",
        "parameter",
        "literal",
        "output",
        "literal",
        "literal",
        "literal",
    ]
    assert [arg.value for arg in prep.arguments[-3:]] == ["7", "2.5", "True"]  # type: ignore[union-attr]
    raw_in, lookup_in = prep.inputs
    assert (raw_in.name, raw_in.kind, raw_in.parameter, raw_in.mode) == (
        "raw_data",
        "datapath",
        "raw_data",
        "download",
    )
    assert (lookup_in.kind, lookup_in.parameter, lookup_in.fixed) == (
        "datapath",
        None,
        DataPath("workspaceblobstore", "lookup.csv").to_value(),
    )
    score = definition.steps[2]
    assert {i.name: (i.kind, i.mode) for i in score.inputs} == {
        "cleaned": ("step_output", "mount"),
        "ref": ("dataset", "download"),
    }
    train = definition.steps[1]
    assert (train.max_retries, train.timeout_seconds, score.allow_reuse) == (2, 600, False)
    # AND one snapshot serves the four steps sharing a folder
    assert len({step.snapshot for step in definition.steps}) == 1
    assert definition.continue_on_step_failure is True
    validate_definition(definition)


def test_definition_is_deterministic(src: Path) -> None:
    first = fan_in_pipeline(src).to_definition()
    second = fan_in_pipeline(src).to_definition()
    assert first.model_dump_json() == second.model_dump_json()


def test_bundle_carries_the_snapshots_it_names(tmp_path: Path) -> None:
    a = make_source(tmp_path / "a", "one.py")
    b = make_source(tmp_path / "b", "two.py")
    data = PipelineData("d")
    pipeline = Pipeline(
        steps=[
            PythonScriptStep("one.py", name="one", arguments=[data], outputs=[data], source_directory=a),
            PythonScriptStep("two.py", name="two", arguments=[data], source_directory=b),
        ]
    )
    bundle = pipeline.bundle()
    assert set(bundle.snapshots) == {step.snapshot for step in bundle.definition.steps}
    assert len(bundle.snapshots) == 2
    assert pipeline.snapshots() == bundle.snapshots


def test_default_source_directory_is_the_current_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_source(tmp_path, "main.py")
    monkeypatch.chdir(tmp_path)
    step = PythonScriptStep("main.py")
    monkeypatch.chdir("/")
    # The folder was fixed when the step was made; the name defaults to the script.
    definition = Pipeline(steps=[step]).to_definition()
    assert (definition.steps[0].name, definition.steps[0].script_name) == ("main.py", "main.py")


def test_input_bindings(src: Path) -> None:
    datapath = PipelineParameter("input_datapath", DataPath("workspaceblobstore", "sample"))
    bound = (datapath, DataPathComputeBinding())
    step = PythonScriptStep(
        "train.py",
        name="t",
        source_directory=src,
        arguments=["--input", bound, "--same", DataPathInput("input_datapath", datapath)],
        inputs=[bound, DatasetRef(id="abc").as_named_input("by_id").as_mount()],
    )
    spec = Pipeline(steps=[step]).to_definition().steps[0]
    assert [(i.name, i.kind, i.mode) for i in spec.inputs] == [
        ("input_datapath", "datapath", "mount"),
        ("by_id", "dataset", "mount"),
    ]
    assert spec.inputs[1].fixed is not None and spec.inputs[1].fixed.model_dump() == {
        "id": "abc",
        "name": None,
        "version": None,
    }


# -- validation: every problem, naming the step and the argument --------------------


def test_a_pipeline_needs_steps() -> None:
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(steps=[])
    assert "at least one step" in excinfo.value.message
    assert isinstance(excinfo.value, BadRequestError) and excinfo.value.status == 400


def test_step_names_are_unique(src: Path) -> None:
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(
            steps=[
                PythonScriptStep("prep.py", name="same", source_directory=src),
                PythonScriptStep("train.py", name="same", source_directory=src),
            ]
        )
    assert any("two steps are named 'same'" in p for p in problems_of(excinfo))


def test_the_same_step_listed_twice(src: Path) -> None:
    step = PythonScriptStep("prep.py", source_directory=src)
    with pytest.raises(PipelineValidationError, match="listed twice"):
        Pipeline(steps=[step, step])


def test_output_produced_by_two_steps(src: Path) -> None:
    data = PipelineData("shared")
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(
            steps=[
                PythonScriptStep("prep.py", name="a", outputs=[data], source_directory=src),
                PythonScriptStep("train.py", name="b", outputs=[data], source_directory=src),
            ]
        )
    assert any("output of both step 'a' and step 'b'" in p for p in problems_of(excinfo))


def test_input_produced_by_no_step(src: Path) -> None:
    orphan = PipelineData("orphan")
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(
            steps=[
                PythonScriptStep("prep.py", name="reader", arguments=["--in", orphan], source_directory=src)
            ]
        )
    [problem] = problems_of(excinfo)
    assert "step 'reader' reads PipelineData 'orphan'" in problem


def test_cycle_names_the_steps(src: Path) -> None:
    x, y = PipelineData("x"), PipelineData("y")
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(
            steps=[
                PythonScriptStep("prep.py", name="left", inputs=[y], outputs=[x], source_directory=src),
                PythonScriptStep("train.py", name="right", inputs=[x], outputs=[y], source_directory=src),
            ]
        )
    [problem] = problems_of(excinfo)
    assert "cycle" in problem and "'left'" in problem and "'right'" in problem


def test_a_step_cannot_read_what_it_writes(src: Path) -> None:
    data = PipelineData("loop")
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(
            steps=[
                PythonScriptStep("prep.py", name="self", inputs=[data], outputs=[data], source_directory=src)
            ]
        )
    assert any("reads 'loop', which it also writes" in p for p in problems_of(excinfo))


def test_two_pipeline_data_with_one_name(src: Path) -> None:
    first, second = PipelineData("dup"), PipelineData("dup")
    with pytest.raises(PipelineValidationError, match="two different PipelineData objects are named 'dup'"):
        Pipeline(
            steps=[
                PythonScriptStep("prep.py", name="a", outputs=[first], source_directory=src),
                PythonScriptStep("train.py", name="b", outputs=[second], source_directory=src),
            ]
        )


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("missing.py", "is not a file inside source_directory"),
        ("../outside.py", "contains a '..' segment"),
        ("/etc/passwd", "is absolute"),
        ("sub\\x.py", "backslash"),
        ("%2e%2e/outside.py", "'..' segment"),
    ],
)
def test_script_must_be_a_file_inside_the_source_directory(tmp_path: Path, script: str, reason: str) -> None:
    src = make_source(tmp_path / "src", "ok.py")
    (tmp_path / "outside.py").write_text("print('escaped')\n")
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(steps=[PythonScriptStep(script, name="s", source_directory=src)])
    [problem] = problems_of(excinfo)
    assert problem.startswith("steps[0].script_name: step 's'") and reason in problem


def test_script_symlinked_out_of_the_folder(tmp_path: Path) -> None:
    src = make_source(tmp_path / "src")
    (tmp_path / "real.py").write_text("print(1)\n")
    (src / "link.py").symlink_to(tmp_path / "real.py")
    with pytest.raises(PipelineValidationError, match="is not a file inside source_directory"):
        Pipeline(steps=[PythonScriptStep("link.py", source_directory=src)])


def test_missing_source_directory(tmp_path: Path) -> None:
    with pytest.raises(PipelineValidationError, match="is not a folder"):
        Pipeline(steps=[PythonScriptStep("x.py", source_directory=tmp_path / "nope")])


def test_one_parameter_name_with_two_defaults(src: Path) -> None:
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(
            steps=[
                PythonScriptStep(
                    "prep.py", name="a", arguments=["--n", PipelineParameter("n", 1)], source_directory=src
                ),
                PythonScriptStep(
                    "train.py", name="b", arguments=["--n", PipelineParameter("n", 2)], source_directory=src
                ),
            ]
        )
    [detail] = excinfo.value.details
    assert detail.target == "steps[1].arguments[1]"
    assert (
        "step 'b': parameter 'n' is declared as 2 (int) here and as 1 (int) at steps[0].arguments[1]"
        in detail.message
    )


def test_same_parameter_declared_twice_is_fine(src: Path) -> None:
    pipeline = Pipeline(
        steps=[
            PythonScriptStep(
                "prep.py", name="a", arguments=[PipelineParameter("n", 1)], source_directory=src
            ),
            PythonScriptStep(
                "train.py", name="b", arguments=[PipelineParameter("n", 1)], source_directory=src
            ),
        ]
    )
    assert list(pipeline.parameters) == ["n"]


def test_int_and_float_defaults_under_one_name_conflict(src: Path) -> None:
    with pytest.raises(PipelineValidationError, match="'n' is declared as 1.0 \\(float\\)"):
        Pipeline(
            steps=[
                PythonScriptStep(
                    "prep.py", name="a", arguments=[PipelineParameter("n", 1)], source_directory=src
                ),
                PythonScriptStep(
                    "train.py", name="b", arguments=[PipelineParameter("n", 1.0)], source_directory=src
                ),
            ]
        )


@pytest.mark.parametrize(
    ("argument", "fragment"),
    [
        (object(), "unsupported argument type object"),
        (None, "unsupported argument type NoneType"),
        (DataPath("store", "x"), "DataPath must be bound first"),
        (
            PipelineParameter("dp", DataPath("store", "x")),
            "datapath parameter 'dp' cannot be an argument by itself",
        ),
        ((DataPath("store", "x"), DataPathComputeBinding()), "needs a name"),
        ((PipelineParameter("s", "str"), DataPathComputeBinding()), "not string parameter 's'"),
        ("nul\x00", "no NUL"),
    ],
)
def test_bad_arguments_name_the_step_and_the_argument(src: Path, argument: object, fragment: str) -> None:
    step = PythonScriptStep("prep.py", name="prep", arguments=["--flag", argument], source_directory=src)
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(steps=[step])
    [detail] = excinfo.value.details
    assert detail.target == "steps[0].arguments[1]"
    assert detail.message.startswith("step 'prep': argument 1 (after '--flag')")
    assert fragment in detail.message


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("text", "str cannot be an input"),
        (DatasetRef(name="d"), "DatasetRef cannot be an input"),
        (PipelineParameter("ds", DatasetRef(name="d")), "dataset parameter 'ds' cannot be an input"),
    ],
)
def test_bad_inputs_name_the_step(src: Path, item: object, fragment: str) -> None:
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(steps=[PythonScriptStep("prep.py", name="prep", inputs=[item], source_directory=src)])
    [detail] = excinfo.value.details
    assert detail.target == "steps[0].inputs[0]" and fragment in detail.message


def test_two_inputs_with_one_name(src: Path) -> None:
    first = DataPath("store", "a").as_input("same")
    second = DataPath("store", "b").as_input("same")
    with pytest.raises(PipelineValidationError, match="two different inputs are named 'same'"):
        Pipeline(steps=[PythonScriptStep("prep.py", inputs=[first, second], source_directory=src)])


def test_outputs_must_be_pipeline_data(src: Path) -> None:
    with pytest.raises(PipelineValidationError, match="output 0 must be a PipelineData, not str"):
        Pipeline(steps=[PythonScriptStep("prep.py", outputs=["out"], source_directory=src)])


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": 1.5}, "timeout_seconds"),
        ({"allow_reuse": "yes"}, "allow_reuse"),
        ({"name": "bad\nname"}, "must not contain control characters"),
    ],
)
def test_step_settings_are_checked(src: Path, options: dict[str, object], fragment: str) -> None:
    with pytest.raises(PipelineValidationError, match=fragment):
        Pipeline(steps=[PythonScriptStep("prep.py", source_directory=src, **options)])  # type: ignore[arg-type]


def test_all_problems_are_reported_together(src: Path) -> None:
    orphan = PipelineData("orphan")
    with pytest.raises(PipelineValidationError) as excinfo:
        Pipeline(
            steps=[
                PythonScriptStep("missing.py", name="a", source_directory=src),
                PythonScriptStep("prep.py", name="b", arguments=[object()], source_directory=src),
                PythonScriptStep("train.py", name="c", inputs=[orphan], source_directory=src),
            ]
        )
    targets = [detail.target for detail in excinfo.value.details]
    assert targets == ["steps[0].script_name", "steps[1].arguments[0]", "steps[2].inputs.orphan"]
    assert "(and 2 more)" in excinfo.value.message


def test_script_excluded_from_the_snapshot(tmp_path: Path) -> None:
    src = make_source(tmp_path / "src", "main.py")
    (src / ".amlignore").write_text("main.py\n")
    pipeline = Pipeline(steps=[PythonScriptStep("main.py", name="main", source_directory=src)])
    with pytest.raises(PipelineValidationError, match="is excluded from the snapshot"):
        pipeline.to_definition()


# -- the example of the publishing guide ---------------------------------------------


def test_example_builds() -> None:
    # WHEN the CLI's way of loading the example runs
    pipeline = load_example().build()
    bundle = pipeline.bundle()
    definition = bundle.definition
    # THEN it is the guide's one-step pipeline with its int parameter
    assert len(definition.steps) == 1
    [parameter] = definition.parameters
    assert (parameter.name, parameter.type, parameter.default) == ("pipeline_arg", "int", 10)
    step = definition.steps[0]
    assert step.script_name == "compare.py"
    assert [o.name for o in step.outputs] == ["output_data"]
    validate_definition(definition)
    # AND the snapshot holds the step's files, not the authoring script (.amlignore)
    with zipfile.ZipFile(io.BytesIO(bundle.snapshots[step.snapshot])) as archive:
        assert archive.namelist() == [".amlignore", "compare.py", "data/data1.csv", "data/data2.csv"]


def test_example_step_runs_with_a_submitted_parameter(tmp_path: Path) -> None:
    # GIVEN the example's definition and its snapshot extracted as a worker would
    bundle = load_example().build().bundle()
    step = bundle.definition.steps[0]
    code = tmp_path / "code"
    names = extract_snapshot(bundle.snapshots[step.snapshot], code, expected_sha256=step.snapshot)
    assert names == [".amlignore", "compare.py", "data/data1.csv", "data/data2.csv"]
    # AND the command line built from the spec, with pipeline_arg submitted as "20"
    parameters = {p.name: p for p in bundle.definition.parameters}
    output_dir = tmp_path / "outputs" / "output_data"
    argv: list[str] = []
    for arg in step.arguments:
        if arg.kind == "literal":
            argv.append(arg.value)
        elif arg.kind == "parameter":
            argv.append(format_parameter(parameters[arg.name], "20"))
        elif arg.kind == "output":
            argv.append(str(output_dir))
    # WHEN the script runs in a child process
    result = subprocess.run(
        [sys.executable, step.script_name, *argv],
        cwd=code,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # THEN the value reached it, and it wrote its summary into the output folder
    assert result.returncode == 0, result.stderr
    assert "param1: 20" in result.stdout
    summary = json.loads((output_dir / "summary.json").read_text())
    assert summary["param1"] == 20
    assert (summary["comp_data1"]["rows"], summary["comp_data2"]["rows"]) == (5, 6)
    assert summary["differing_rows"] == 3
    assert summary["same_columns"] is True


def test_example_script_reads_folders_too(tmp_path: Path) -> None:
    left, right = tmp_path / "left", tmp_path / "right"
    left.mkdir()
    right.mkdir()
    (left / "part1.csv").write_text("a,b\n1,2\n")
    (right / "part1.csv").write_text("a,b\n1,2\n")
    (right / "part2.csv").write_text("a,b\n3,4\n")
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE / "compare.py"),
            "--comp_data1",
            str(left),
            "--comp_data2",
            str(right),
            "--output_data",
            str(tmp_path / "out"),
            "--param1",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["comp_data2"]["rows"], summary["differing_rows"]) == (2, 1)
