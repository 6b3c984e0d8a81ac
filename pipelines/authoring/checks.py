"""Whether a parsed definition holds together: `validate_definition`.

Everything that can be checked without the code files, reported at once:
parameters and their defaults, steps and their arguments, inputs and outputs,
edges (data and ordering), the graph's acyclicity and order, the snapshot
identity. `pipelines.authoring.definition` parses the shape first.
"""

from __future__ import annotations

import graphlib

from pipelines.authoring.definition import (
    SCALAR_PARAMETER_TYPES,
    DataPathValue,
    DatasetValue,
    EdgeSpec,
    InputArg,
    InputSpec,
    LiteralArg,
    ParameterArg,
    ParameterSpec,
    PipelineDefinition,
    StepSpec,
    default_problem,
)
from pipelines.authoring.names import display_name_problem
from pipelines.authoring.paths import is_canonical_relative_path
from pipelines.authoring.snapshot import combined_snapshot_hash
from pipelines.authoring.validation import (
    INVALID_ARGUMENT,
    INVALID_GRAPH,
    INVALID_INPUT,
    INVALID_OUTPUT,
    INVALID_PARAMETER,
    INVALID_SNAPSHOT,
    INVALID_STEP,
    Problems,
)

# -- semantic checks ----------------------------------------------------------------


def validate_definition(defn: PipelineDefinition) -> None:
    """Check everything that does not need the files; raise `PipelineValidationError`.

    The publish route runs this on untrusted input after `parse_definition`.
    Every problem is reported, each with a JSON path as its target.
    """
    problems = Problems()
    parameters = _check_parameters(defn, problems)
    steps_by_id = _check_steps(defn, parameters, problems)
    _check_edges(defn, steps_by_id, problems)
    _check_snapshot(defn, problems)
    problems.raise_if_any("the pipeline definition")


def _check_parameters(defn: PipelineDefinition, problems: Problems) -> dict[str, ParameterSpec]:
    declared: dict[str, ParameterSpec] = {}
    for index, spec in enumerate(defn.parameters):
        where = f"parameters[{index}]"
        reason = display_name_problem(spec.name)
        if reason:
            problems.add(INVALID_PARAMETER, f"parameter name {spec.name!r} {reason}", f"{where}.name")
        if spec.name in declared:
            problems.add(INVALID_PARAMETER, f"parameter {spec.name!r} is declared twice", f"{where}.name")
        reason = default_problem(spec.type, spec.default)
        if reason:
            problems.add(INVALID_PARAMETER, f"parameter {spec.name!r}: {reason}", f"{where}.default")
        declared.setdefault(spec.name, spec)
    return declared


def _check_steps(
    defn: PipelineDefinition, parameters: dict[str, ParameterSpec], problems: Problems
) -> dict[str, tuple[int, StepSpec]]:
    by_id: dict[str, tuple[int, StepSpec]] = {}
    names: set[str] = set()
    for index, step in enumerate(defn.steps):
        where = f"steps[{index}]"
        label = f"step {step.name!r}"
        if step.id in by_id:
            problems.add(INVALID_STEP, f"{label}: id {step.id!r} is used by two steps", f"{where}.id")
        by_id.setdefault(step.id, (index, step))
        reason = display_name_problem(step.name)
        if reason:
            problems.add(INVALID_STEP, f"step name {step.name!r} {reason}", f"{where}.name")
        if step.name in names:
            problems.add(INVALID_STEP, f"{label}: two steps have this name", f"{where}.name")
        names.add(step.name)
        if not is_canonical_relative_path(step.script_name):
            problems.add(
                INVALID_STEP,
                f"{label}: script_name {step.script_name!r} is not a safe relative path",
                f"{where}.script_name",
            )
        _check_step_io(step, where, label, parameters, problems)
    return by_id


def _check_step_io(
    step: StepSpec,
    where: str,
    label: str,
    parameters: dict[str, ParameterSpec],
    problems: Problems,
) -> None:
    inputs: dict[str, InputSpec] = {}
    for index, spec in enumerate(step.inputs):
        target = f"{where}.inputs[{index}]"
        if spec.name in inputs:
            problems.add(INVALID_INPUT, f"{label}: input {spec.name!r} is declared twice", target)
        inputs.setdefault(spec.name, spec)
        reason = _input_problem(spec, parameters)
        if reason:
            problems.add(INVALID_INPUT, f"{label}: input {spec.name!r} {reason}", target)
    outputs: set[str] = set()
    for index, output in enumerate(step.outputs):
        target = f"{where}.outputs[{index}]"
        if output.name in outputs:
            problems.add(INVALID_OUTPUT, f"{label}: output {output.name!r} is declared twice", target)
        if output.name in inputs:
            problems.add(INVALID_OUTPUT, f"{label}: {output.name!r} is both an input and an output", target)
        outputs.add(output.name)
    for index, arg in enumerate(step.arguments):
        target = f"{where}.arguments[{index}]"
        if isinstance(arg, LiteralArg):
            if "\x00" in arg.value:
                problems.add(INVALID_ARGUMENT, f"{label}: argument {index} contains a NUL character", target)
        elif isinstance(arg, ParameterArg):
            declared = parameters.get(arg.name)
            if declared is None:
                problems.add(
                    INVALID_ARGUMENT,
                    f"{label}: argument {index} uses undeclared parameter {arg.name!r}",
                    target,
                )
            elif declared.type not in SCALAR_PARAMETER_TYPES:
                problems.add(
                    INVALID_ARGUMENT,
                    f"{label}: argument {index} uses {declared.type} parameter {arg.name!r} directly;"
                    " bind it as an input",
                    target,
                )
        elif isinstance(arg, InputArg):
            if arg.name not in inputs:
                problems.add(
                    INVALID_ARGUMENT, f"{label}: argument {index} names unknown input {arg.name!r}", target
                )
        elif arg.name not in outputs:
            problems.add(
                INVALID_ARGUMENT, f"{label}: argument {index} names unknown output {arg.name!r}", target
            )


def _input_problem(spec: InputSpec, parameters: dict[str, ParameterSpec]) -> str | None:
    if spec.kind == "step_output":
        if spec.source_step is None or spec.source_output is None:
            return "of kind step_output needs source_step and source_output"
        if spec.parameter is not None or spec.fixed is not None:
            return "of kind step_output takes no parameter or fixed value"
        return None
    if spec.source_step is not None or spec.source_output is not None:
        return f"of kind {spec.kind} takes no source_step or source_output"
    if (spec.parameter is None) == (spec.fixed is None):
        return f"of kind {spec.kind} needs either a parameter or a fixed value"
    if spec.parameter is not None:
        declared = parameters.get(spec.parameter)
        if declared is None:
            return f"uses undeclared parameter {spec.parameter!r}"
        if declared.type != spec.kind:
            return f"of kind {spec.kind} uses parameter {spec.parameter!r} of type {declared.type}"
        return None
    expected = DatasetValue if spec.kind == "dataset" else DataPathValue
    if not isinstance(spec.fixed, expected):
        return f"of kind {spec.kind} has a fixed value of the wrong kind"
    return None


def _check_data_edge(
    edge: EdgeSpec, index: int, sink: StepSpec, seen: dict[tuple[str, str], int], problems: Problems
) -> None:
    """An edge that carries data feeds one input, once, as that input says."""
    target = f"edges[{index}]"
    assert edge.to_input is not None
    key = (edge.to_step, edge.to_input)
    if key in seen:
        problems.add(INVALID_GRAPH, f"edge {index}: input {edge.to_input!r} of step {sink.name!r} is fed twice", target)
    seen[key] = index
    matching = [spec for spec in sink.inputs if spec.name == edge.to_input]
    if not matching:
        problems.add(INVALID_GRAPH, f"edge {index}: step {sink.name!r} has no input {edge.to_input!r}", target)
    elif (matching[0].kind, matching[0].source_step, matching[0].source_output) != (
        "step_output",
        edge.from_step,
        edge.from_output,
    ):
        problems.add(INVALID_GRAPH, f"edge {index} disagrees with input {edge.to_input!r} of step {sink.name!r}",
                     target)


def _check_edges(
    defn: PipelineDefinition, steps: dict[str, tuple[int, StepSpec]], problems: Problems
) -> None:
    graph: dict[str, set[str]] = {step.id: set() for step in defn.steps}
    seen: dict[tuple[str, str], int] = {}
    backwards: list[tuple[int, str, str]] = []
    for index, edge in enumerate(defn.edges):
        target = f"edges[{index}]"
        source = steps.get(edge.from_step)
        sink = steps.get(edge.to_step)
        if source is None:
            problems.add(INVALID_GRAPH, f"edge {index} comes from unknown step {edge.from_step!r}", target)
        elif not edge.orders_only and edge.from_output not in {output.name for output in source[1].outputs}:
            problems.add(
                INVALID_GRAPH,
                f"edge {index}: step {source[1].name!r} has no output {edge.from_output!r}",
                target,
            )
        if sink is None:
            problems.add(INVALID_GRAPH, f"edge {index} goes to unknown step {edge.to_step!r}", target)
            continue
        if edge.orders_only:
            if edge.from_step == edge.to_step:
                problems.add(INVALID_GRAPH, f"edge {index}: step {sink[1].name!r} cannot run after itself", target)
        else:
            _check_data_edge(edge, index, sink[1], seen, problems)
        if source is not None:
            graph[edge.to_step].add(edge.from_step)
            if source[0] >= sink[0]:
                backwards.append((index, source[1].name, sink[1].name))
    # Every step_output input needs exactly the edge that feeds it.
    for index, step in enumerate(defn.steps):
        for position, spec in enumerate(step.inputs):
            if spec.kind == "step_output" and (step.id, spec.name) not in seen:
                problems.add(
                    INVALID_GRAPH,
                    f"step {step.name!r}: input {spec.name!r} has no edge feeding it",
                    f"steps[{index}].inputs[{position}]",
                )
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        names = " -> ".join(repr(steps[node][1].name) for node in exc.args[1])
        problems.add(INVALID_GRAPH, f"the steps form a cycle: {names}", "edges")
        return  # a cycle always runs backwards somewhere: one problem, not two
    for index, upstream, downstream in backwards:
        problems.add(
            INVALID_GRAPH,
            f"edge {index}: step {downstream!r} is listed before its upstream step {upstream!r};"
            " steps must be in a topological order",
            f"edges[{index}]",
        )


def _check_snapshot(defn: PipelineDefinition, problems: Problems) -> None:
    expected = combined_snapshot_hash(step.snapshot for step in defn.steps)
    if defn.snapshot != expected:
        problems.add(
            INVALID_SNAPSHOT,
            "snapshot is not the combined hash of the step snapshots",
            "snapshot",
        )
