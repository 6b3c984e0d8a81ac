"""The published pipeline definition: what a worker needs to run a pipeline.

This is the project's own format (snake_case keys), produced by
`Pipeline.to_definition()` on the author's machine and sent to the publish
route, which must treat it as untrusted: `parse_definition` checks its shape,
`pipelines.authoring.checks.validate_definition` that it holds together
(everything that can be checked without the code files). The publish route
calls both, in that order.
Nothing from the author's machine (absolute paths, user names, mtimes)
belongs in it.

`definition.schema.json` beside this file is generated from these models
(`python -m pipelines.authoring.schema`); a test keeps it current.
"""

from __future__ import annotations

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

from pipelines.authoring.names import NODE_ID_PATTERN
from pipelines.authoring.paths import UnsafePathError, safe_relative_path
from pipelines.authoring.requirements import MAX_REQUIREMENTS, requirement_problem
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
# A compute target's name (pipelines.catalogue.targets): 1 to 32 lowercase letters, digits and single
# dashes, from a letter.
COMPUTE_TARGET_PATTERN = r"^[a-z](?:-?[a-z0-9])*$"
MAX_COMPUTE_TARGET_NAME = 32


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
    # False: a run whose worker was lost after the script exited 0 fails the step instead of
    # running it again (the script's effects happened; only its result was not recorded).
    idempotent: bool = True
    timeout_seconds: Annotated[int, Field(gt=0)] | None = None
    # True: the script runs in a new interpreter of its own (`python -m pipelines.runtime.launch`)
    # rather than a process forked from the worker's warm launcher.
    fresh_interpreter: bool = False
    # The compute target it runs on (issue 16); None: the app itself (the target "app").
    compute_target: Annotated[str, Field(pattern=COMPUTE_TARGET_PATTERN, max_length=MAX_COMPUTE_TARGET_NAME)] | None = (
        None
    )
    # Pip requirements its target must promise (its `Packages`); checked at publish.
    requirements: Annotated[list[str], Field(max_length=MAX_REQUIREMENTS)] = []

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, value: list[str]) -> list[str]:
        for text in value:
            problem = requirement_problem(text)
            if problem:
                raise ValueError(f"requirement {problem}")
        return value


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

    def find_step(self, node_id: str) -> StepSpec | None:
        """The step of this id, or None."""
        return next((s for s in self.steps if s.id == node_id), None)

    def step(self, node_id: str) -> StepSpec:
        """The step of this id; KeyError when the pipeline has none (a row of another graph)."""
        found = self.find_step(node_id)
        if found is None:
            raise KeyError(f"the pipeline has no step {node_id!r}")
        return found


# Step fields added after definitions were first published (issue 16: a step's compute target and
# requirements): left out at their defaults, so a definition published before keeps its graph id.
_LATER_STEP_DEFAULTS: dict[str, Any] = {"compute_target": None, "requirements": []}


def definition_json(definition: PipelineDefinition) -> dict[str, Any]:
    """The definition as JSON, without the later fields at their defaults (see above): what a client
    sends and what the graph id hashes, so an older server takes it and older graphs keep their ids."""
    data = definition.model_dump(mode="json")
    for step in data["steps"]:
        for name, default in _LATER_STEP_DEFAULTS.items():
            if name in step and step[name] == default:
                del step[name]
    return data


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
