"""Compute targets (issue 16) in Python alone: a PUT body read, requirements against what a target
promises, what authoring records on a step, old definitions' graph ids, and which successor a
worker may take over."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pipelines.api.targets_contract import target_spec
from pipelines.authoring import Pipeline, PythonScriptStep
from pipelines.authoring.definition import PipelineDefinition, definition_json, parse_definition
from pipelines.authoring.requirements import app_packages, requirement_problem, unmet
from pipelines.authoring.validation import PipelineValidationError
from pipelines.catalogue.published import graph_id_of
from pipelines.catalogue.targets import NAME
from pipelines.errors import BadRequestError
from pipelines.runs import engine
from pipelines.runs.engine import Outcome, RunState
from pipelines.runs.model import Run, Step, TaskStatus
from pipelines.runs.service import steps_of

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def problems(body: Any) -> list[str | None]:
    with pytest.raises(BadRequestError) as raised:
        target_spec(body)
    return [d.target for d in raised.value.details]


def test_a_put_body_is_read_in_any_case_with_defaults_and_every_problem_named() -> None:
    spec = target_spec({"description": "GPUs", "PACKAGES": ["numpy==1.26.4"], "image": "r/x:1", "Name": "ignored"})
    assert (spec.description, spec.packages, spec.image) == ("GPUs", ("numpy==1.26.4",), "r/x:1")
    assert (spec.queue, spec.max_concurrent_steps, spec.max_step_timeout_seconds, spec.runs_on) == (None, 1, 7200, None)
    assert target_spec({"RunsOn": "app", "Description": "old cluster"}).runs_on == "app"
    assert problems({"MaxConcurrentSteps": 65, "MaxStepTimeoutSeconds": 59, "Colour": 1}) == [
        "Colour", "MaxConcurrentSteps", "MaxStepTimeoutSeconds"]
    assert problems({"MaxConcurrentSteps": True}) == ["MaxConcurrentSteps"]  # strict: no bool for an int
    assert problems({"Packages": ["numpy", "not a requirement!"]}) == ["Packages[1]"]
    assert problems({"Packages": ["pkg @ https://example.com/pkg.whl"]}) == ["Packages[0]"]
    assert problems({"Queue": "a--b"}) == ["Queue"]
    assert problems({"RunsOn": "app", "Packages": ["numpy"]}) == ["Packages"]
    assert target_spec({"RunsOn": "app", "Packages": [], "MaxConcurrentSteps": 1}).runs_on == "app"  # an answer back


def test_target_names_are_queue_name_safe() -> None:
    for good in ("gpu", "cpu-cluster", "a1", "a" * 32):
        assert NAME.match(good), good
    for bad in ("", "1gpu", "GPU", "gpu-", "g--pu", "g_pu", "a" * 33):
        assert not NAME.match(bad), bad


@pytest.mark.parametrize(("wanted", "promised", "missing"), [
    (["numpy"], ["numpy==1.26.4"], []),
    (["numpy>=1.20,<2"], ["numpy==1.26.4"], []),
    (["numpy>=2"], ["numpy==1.26.4"], ["numpy>=2"]),
    (["NumPy>=2"], ["numpy"], []),  # promised without a pin: any specifier is accepted
    (["numpy>=2"], ["numpy>=1"], []),  # a range is not a pin
    (["scikit_learn"], ["scikit-learn==1.5.0"], []),  # names compared canonicalised
    (["pandas"], ["numpy"], ["pandas"]),
    (["torch<2.2"], ["torch==2.2.0rc1"], ["torch<2.2"]),
])
def test_a_requirement_is_met_by_the_same_project_and_a_pin_that_satisfies_it(
    wanted: list[str], promised: list[str], missing: list[str]
) -> None:
    assert unmet(wanted, promised) == missing


def test_the_app_promises_its_requirements_txt() -> None:
    promised = app_packages()
    assert "pydantic==2.14.4" in promised and "packaging==26.4" in promised
    assert unmet(["pydantic>=2", "azure-data-tables"], promised) == []
    assert requirement_problem("numpy>=1") is None and requirement_problem(3) is not None


def test_authoring_records_the_target_and_requirements_of_a_step(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text("print(1)\n")
    cluster = SimpleNamespace(name="gpu")  # an SDK v1 compute object: its .name
    steps = [
        PythonScriptStep("s.py", name="on_app", source_directory=tmp_path),
        PythonScriptStep("s.py", name="named_app", source_directory=tmp_path, compute_target="app"),
        PythonScriptStep("s.py", name="on_gpu", source_directory=tmp_path, compute_target=cluster,
                         requirements=["numpy>=1.26"]),
    ]
    definition = Pipeline(steps=steps).to_definition()
    assert [(s.compute_target, s.requirements) for s in definition.steps] == [
        (None, []), (None, []), ("gpu", ["numpy>=1.26"])]
    with pytest.raises(TypeError, match="compute_target"):
        PythonScriptStep("s.py", source_directory=tmp_path, compute_target=42)
    with pytest.raises(TypeError, match="requirements"):
        PythonScriptStep("s.py", source_directory=tmp_path, requirements="numpy")  # type: ignore[arg-type]
    bad = PythonScriptStep("s.py", name="bad", source_directory=tmp_path, compute_target="GPU_Cluster",
                           requirements=["numpy ==="])
    with pytest.raises(PipelineValidationError) as raised:
        Pipeline(steps=[bad]).to_definition()
    assert {d.target for d in raised.value.details} >= {"steps[0].compute_target", "steps[0].requirements[0]"}


def test_a_definition_without_the_new_fields_loads_and_keeps_its_graph_id(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text("print(1)\n")
    definition = Pipeline(steps=[PythonScriptStep("s.py", name="a", source_directory=tmp_path)]).to_definition()
    old = definition_json(definition)  # what a client sends: no compute_target, no requirements
    assert "compute_target" not in old["steps"][0] and "requirements" not in old["steps"][0]
    loaded = parse_definition(old)
    assert loaded.steps[0].compute_target is None and loaded.steps[0].requirements == []
    assert graph_id_of(loaded) == graph_id_of(definition)
    moved = definition.model_copy(update={"steps": [definition.steps[0].model_copy(update={"compute_target": "t1"})]})
    assert graph_id_of(moved) != graph_id_of(definition)  # another target is another graph
    with pytest.raises(BadRequestError):
        parse_definition({**old, "steps": [{**old["steps"][0], "compute_target": "Not Valid"}]})


def two_steps(queue_of_b: str | None) -> RunState:
    definition = PipelineDefinition.model_validate({
        "steps": [{"id": n, "name": n, "script_name": "s.py", "snapshot": "0" * 64} for n in "ab"],
        "edges": [{"from_step": "a", "to_step": "b"}], "snapshot": "0" * 64})
    run = Run(id="r", workspace="ws", pipeline_id="p", graph_id="g")
    return RunState(run, steps_of(definition, {"b": queue_of_b}))


@pytest.mark.parametrize(("queue_of_b", "served", "hands_off"), [
    (None, None, True),  # both on the app: the hand-off of today
    ("steps-t1", None, False),  # b is t1's: the app's worker sends it to t1's queue
    ("steps-t1", "steps-t1", True),  # t1's worker finishing a t1 step takes a t1 successor
])
def test_a_worker_takes_over_only_a_successor_of_the_queue_it_serves(
    queue_of_b: str | None, served: str | None, hands_off: bool
) -> None:
    state = two_steps(queue_of_b)
    assert (state.steps["a"].queue, state.steps["b"].queue) == (None, queue_of_b)
    engine.initial(state, T0, 30)
    token, _ = engine.claim(state, "a", 1, "w", T0, 30)
    assert token is not None
    taken, t = engine.complete_and_continue(state, "a", token, Outcome(TaskStatus.FINISHED), T0, 30, "w",
                                            lambda node: state.on_queue(node, served))
    assert (taken is not None) is hands_off
    assert [m.node_id for m, _ in t.messages] == ([] if hands_off else ["b"])


class Row(dict[str, Any]):
    """A Table entity as the SDK gives it: a dict with its metadata."""

    metadata = {"etag": "e1"}


def test_a_step_row_keeps_its_queue() -> None:
    entity = Step(node_id="b", name="b", queue="steps-t1").to_entity("ws|r")
    assert Step.from_entity(Row(entity)).queue == "steps-t1"
    del entity["Queue"]
    assert Step.from_entity(Row(entity)).queue is None  # a row written before compute targets: the app's
