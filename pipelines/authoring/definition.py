"""The published pipeline definition: what a worker needs to run a pipeline.

This is the project's own format (snake_case keys), produced by
`Pipeline.to_definition()` on the author's machine and sent to the publish
route, which must treat it as untrusted: `parse_definition` checks its shape,
`validate_definition` that it holds together (everything that can be checked
without the code files). The publish route calls both, in that order.
Nothing from the author's machine (absolute paths, user names, mtimes)
belongs in it.

`definition.schema.json` beside this file is generated from these models
(`python -m pipelines.authoring.schema`); a test keeps it current.
"""

from __future__ import annotations

import graphlib
import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from pipelines.authoring.names import NODE_ID_PATTERN, display_name_problem
from pipelines.authoring.paths import UnsafePathError, is_canonical_relative_path, safe_relative_path
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
from pipelines.errors import BadRequestError, ErrorDetail

SCHEMA_VERSION: Literal[1] = 1

ParameterType = Literal["string", "int", "float", "bool", "dataset", "datapath"]
SCALAR_PARAMETER_TYPES: frozenset[str] = frozenset({"string", "int", "float", "bool"})
InputKind = Literal["step_output", "dataset", "datapath"]
InputMode = Literal["mount", "download"]

# Bounds on untrusted input: generous for real pipelines, small enough that a
# hostile definition cannot make the publish route chew for long.
# A run and its step rows commit in one Table entity-group transaction, which
# holds at most 100 operations: the run row plus 99 steps.
MAX_STEPS = 99
MAX_PARAMETERS = 500
MAX_ITEMS_PER_STEP = 1000
MAX_LITERAL_LENGTH = 8192
MAX_DESCRIPTION_LENGTH = 10_000
# Parameter values cross Java `long`, C# `long` and Table storage Int64 on the
# way: larger integers would be silently mangled by one of them.
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
MAX_STRING_VALUE = MAX_LITERAL_LENGTH

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
NodeId = Annotated[str, Field(pattern=NODE_ID_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=255)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,255}$")]


class _Model(BaseModel):
    # strict: a definition is produced by our own code, so "1" for an int or
    # "true" for a bool means it was tampered with or hand-written wrongly.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class DatasetValue(_Model):
    """A registered dataset: by id, or by name and version (None: the latest)."""

    id: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    name: Name | None = None
    version: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> DatasetValue:
        if (self.id is None) == (self.name is None):
            raise ValueError("a dataset is given either by id or by name, not both or neither")
        if self.id is not None and self.version is not None:
            raise ValueError("a version goes with a dataset name, not an id")
        return self


class DataPathValue(_Model):
    """A path on a datastore."""

    datastore: Identifier
    path: Annotated[str, Field(min_length=1, max_length=1024)]

    @field_validator("path")
    @classmethod
    def _safe_path(cls, value: str) -> str:
        # The worker joins this onto a container or a folder: it must stay inside.
        try:
            return safe_relative_path(value)
        except UnsafePathError as exc:
            raise ValueError(str(exc)) from None


def _value_kind(value: Any) -> str | None:
    """Pick the union member from the value itself, so a bad value gets one error, not six."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, DatasetValue):
        return "dataset"
    if isinstance(value, DataPathValue):
        return "datapath"
    if isinstance(value, dict):
        return "datapath" if "datastore" in value or "path" in value else "dataset"
    return None


ParameterValue = Annotated[
    Annotated[StrictBool, Tag("bool")]
    | Annotated[StrictInt, Tag("int")]
    | Annotated[StrictFloat, Tag("float")]
    | Annotated[StrictStr, Tag("string")]
    | Annotated[DatasetValue, Tag("dataset")]
    | Annotated[DataPathValue, Tag("datapath")],
    Discriminator(
        _value_kind,
        custom_error_type="invalid_value",
        custom_error_message="must be a string, a number, a boolean, a dataset or a datapath",
    ),
]

FixedValue = Annotated[
    Annotated[DatasetValue, Tag("dataset")] | Annotated[DataPathValue, Tag("datapath")],
    Discriminator(
        _value_kind,
        custom_error_type="invalid_value",
        custom_error_message="must be a dataset or a datapath",
    ),
]


def default_problem(type_: str, value: object) -> str | None:
    """Why `value` cannot be the default of a parameter of `type_`, or None."""
    if isinstance(value, int) and not isinstance(value, bool) and not INT_MIN <= value <= INT_MAX:
        return f"default {value} is outside the 64-bit integer range"
    if isinstance(value, str) and ("\x00" in value or len(value) > MAX_STRING_VALUE):
        return f"default string must hold no NUL and at most {MAX_STRING_VALUE} characters"
    ok = {
        "string": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        # An integral JSON number is a fine float default (some serializers write 10).
        "float": isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
        "bool": isinstance(value, bool),
        "dataset": isinstance(value, DatasetValue),
        "datapath": isinstance(value, DataPathValue),
    }.get(type_)
    if ok is None:
        return f"has an unknown type {type_!r}"
    if not ok:
        return f"default {value!r} is not {_TYPE_NAMES[type_]}"
    return None


_TYPE_NAMES = {
    "string": "a string",
    "int": "an integer",
    "float": "a finite number",
    "bool": "a boolean",
    "dataset": "a dataset",
    "datapath": "a datapath",
}


class ParameterSpec(_Model):
    """A PipelineParameter: its type is fixed at publish, its value per run."""

    name: Name
    type: ParameterType
    default: ParameterValue

    @model_validator(mode="after")
    def _default_matches_type(self) -> ParameterSpec:
        problem = default_problem(self.type, self.default)
        if problem:
            raise ValueError(problem)
        return self


class LiteralArg(_Model):
    kind: Literal["literal"] = "literal"
    value: Annotated[str, Field(max_length=MAX_LITERAL_LENGTH)]


class ParameterArg(_Model):
    """Replaced by the run's value of the parameter, formatted by `format_parameter`."""

    kind: Literal["parameter"] = "parameter"
    name: Name


class InputArg(_Model):
    """Replaced by the local path where the worker staged the step's input `name`."""

    kind: Literal["input"] = "input"
    name: Identifier


class OutputArg(_Model):
    """Replaced by the local folder the step writes its output `name` into."""

    kind: Literal["output"] = "output"
    name: Identifier


ArgSpec = Annotated[
    LiteralArg | ParameterArg | InputArg | OutputArg,
    Field(discriminator="kind"),
]


class InputSpec(_Model):
    """One input of a step.

    - `step_output`: the output `source_output` of step `source_step`.
    - `dataset` / `datapath`: the value of the parameter `parameter` for the
      run, or the `fixed` value when the author gave no parameter.
    """

    name: Identifier
    kind: InputKind
    source_step: NodeId | None = None
    source_output: Identifier | None = None
    parameter: Name | None = None
    fixed: FixedValue | None = None
    mode: InputMode = "mount"


class OutputSpec(_Model):
    name: Identifier
    # The datastore the author asked for (PipelineData(datastore=...)); None:
    # the worker's default. Kept so a later phase can honour it.
    datastore: Identifier | None = None


class StepSpec(_Model):
    id: NodeId
    name: Name
    script_name: Annotated[str, Field(min_length=1, max_length=1024)]
    snapshot: Sha256Hex
    arguments: Annotated[list[ArgSpec], Field(max_length=MAX_ITEMS_PER_STEP)] = []
    inputs: Annotated[list[InputSpec], Field(max_length=MAX_ITEMS_PER_STEP)] = []
    outputs: Annotated[list[OutputSpec], Field(max_length=MAX_ITEMS_PER_STEP)] = []
    allow_reuse: bool = True
    max_retries: Annotated[int, Field(ge=0, le=100)] = 0
    timeout_seconds: Annotated[int, Field(gt=0)] | None = None


class EdgeSpec(_Model):
    """Data flows from an output of one step into an input of another; an edge without
    output and input only orders the steps (SDK v1's `step.run_after(other)`)."""

    from_step: NodeId
    from_output: Identifier | None = None
    to_step: NodeId
    to_input: Identifier | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> EdgeSpec:
        if (self.from_output is None) != (self.to_input is None):
            raise ValueError("an edge names both an output and an input, or neither (an ordering edge)")
        return self

    @property
    def orders_only(self) -> bool:
        return self.from_output is None


class PipelineDefinition(_Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION_LENGTH)] | None = None
    continue_on_step_failure: bool = False
    parameters: Annotated[list[ParameterSpec], Field(max_length=MAX_PARAMETERS)] = []
    # In a topological order: every step comes after the steps it consumes from.
    steps: Annotated[list[StepSpec], Field(min_length=1, max_length=MAX_STEPS)]
    edges: Annotated[list[EdgeSpec], Field(max_length=MAX_STEPS * MAX_ITEMS_PER_STEP)] = []
    # sha256 over the sorted distinct step snapshot hashes: the code identity.
    snapshot: Sha256Hex


def definition_json_schema() -> dict[str, Any]:
    """The JSON Schema of `PipelineDefinition` (what `definition.schema.json` holds)."""
    schema = PipelineDefinition.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "PipelineDefinition"
    return schema


# -- parsing ----------------------------------------------------------------------

_TAGGED_PARENTS = frozenset({"default", "fixed"})


def _json_path(loc: Sequence[int | str]) -> str:
    """('steps', 0, 'arguments', 2, 'literal', 'value') -> 'steps[0].arguments[2].value'.

    Union tags that pydantic puts in `loc` (the arg kind, the value kind) are
    dropped: they name a branch of our models, not a key of the JSON.
    """
    out = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        previous = loc[index - 1] if index else None
        before = loc[index - 2] if index > 1 else None
        if previous in _TAGGED_PARENTS or (isinstance(previous, int) and before == "arguments"):
            continue
        out += f".{part}" if out else part
    return out or "$"


def _message(text: str) -> str:
    # pydantic prefixes the messages of our own validators; the prefix says nothing.
    return text.removeprefix("Value error, ")


def parse_definition(obj: Any) -> PipelineDefinition:
    """Parse untrusted JSON (text, bytes or already-decoded) into a definition.

    Raises `BadRequestError` with one detail per problem, each targeting the
    JSON path. Call `validate_definition` next: parsing checks shape only.
    """
    try:
        if isinstance(obj, (str, bytes, bytearray)):
            return PipelineDefinition.model_validate_json(obj)
        return PipelineDefinition.model_validate(obj)
    except ValidationError as exc:
        details = [
            ErrorDetail(code="InvalidField", message=_message(error["msg"]), target=_json_path(error["loc"]))
            for error in exc.errors(include_url=False)
        ]
        first = details[0]
        raise BadRequestError(
            f"the pipeline definition is malformed: {first.target}: {first.message}"
            + (f" (and {len(details) - 1} more)" if len(details) > 1 else ""),
            target=first.target,
            details=details,
        ) from None


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
