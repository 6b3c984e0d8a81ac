"""Wire models of compute targets (issue 16; the project's own routes, `ComputeTargets`): the PUT
body, read into the catalogue's `TargetSpec`, and the answer, `ComputeTargetEntity`.

Keys match in any case (docs/contract.md §2). The keys of an answer that a body does not set
(`Name`, `BuiltIn`, the dates) are ignored, so an answer can be sent back as it is; any other
unknown key is a 400 naming it. Every problem is reported at once, in one 400.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from pydantic.json_schema import JsonSchemaMode, WithJsonSchema

from pipelines.api.contract import Wire, wire_time
from pipelines.authoring.requirements import MAX_REQUIREMENTS, requirement_problem
from pipelines.catalogue.targets import (
    APP,
    CONCURRENCY,
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT,
    QUEUE_PATTERN,
    TIMEOUT,
    ComputeTarget,
    TargetSpec,
)
from pipelines.errors import BadRequestError, ErrorDetail

MAX_TEXT = 1024
_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
_ANSWER_KEYS = frozenset({"name", "builtin", "createddate", "lastmodifieddate"})


def _alias_or_own(schema: dict[str, Any]) -> None:
    """A target of its own, or an alias of the app (`RunsOn` "app") with nothing of its own."""
    schema["anyOf"] = [
        {"properties": {"RunsOn": {"type": "null"}}},
        {"required": ["RunsOn"], "properties": {
            "RunsOn": {"const": APP}, "Queue": {"type": "null"}, "Image": {"maxLength": 0},
            "Packages": {"maxItems": 0}, "MaxConcurrentSteps": {"const": DEFAULT_CONCURRENCY},
            "MaxStepTimeoutSeconds": {"const": DEFAULT_TIMEOUT}}},
    ]


# What the schema documents of a requirement: a name and plain version specifiers. The service takes
# any requirement `packaging` parses (markers, extras, `~=`, pre-releases), URLs aside.
REQUIREMENT_PATTERN = (
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
    r"(?: ?(?:==|!=|<=|>=|<|>) ?[0-9]{1,6}(?:\.[0-9]{1,6}){0,3}"
    r"(?: ?, ?(?:==|!=|<=|>=|<|>) ?[0-9]{1,6}(?:\.[0-9]{1,6}){0,3})*)?$"
)


class ComputeTargetRequest(BaseModel):
    """The body of `PUT .../ComputeTargets/{targetName}`."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, json_schema_extra=_alias_or_own)
    description: Annotated[StrictStr, Field(max_length=MAX_TEXT)] | None = Field(None, alias="Description")
    queue: Annotated[StrictStr, Field(min_length=3, max_length=63, pattern=QUEUE_PATTERN)] | None = Field(
        None, alias="Queue",
        description="The storage queue its steps go to; default `{PIPELINES_STEPS_QUEUE}-{name}`. Not one of the"
                    " app's own queues.")
    image: Annotated[StrictStr, Field(max_length=MAX_TEXT, pattern=_NO_CONTROL)] = Field(
        "", alias="Image", description="The container image its workers run (a reference; may be empty).")
    packages: Annotated[list[Annotated[StrictStr, Field(min_length=1, max_length=200), WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": 200, "pattern": REQUIREMENT_PATTERN})]],
                        Field(max_length=MAX_REQUIREMENTS)] = Field(
        [], alias="Packages", description="Pip requirements its environment promises (`numpy==1.26.4`, `torch`).")
    max_concurrent_steps: Annotated[StrictInt, Field(ge=CONCURRENCY[0], le=CONCURRENCY[1])] = Field(
        DEFAULT_CONCURRENCY, alias="MaxConcurrentSteps", description="Steps one worker runs at once.")
    max_step_timeout_seconds: Annotated[StrictInt, Field(ge=TIMEOUT[0], le=TIMEOUT[1])] = Field(
        DEFAULT_TIMEOUT, alias="MaxStepTimeoutSeconds", description="The longest a step may run on it.")
    runs_on: Literal["app"] | None = Field(
        None, alias="RunsOn",
        description='"app": an alias of the app (its steps go to the steps queue); then no Queue, Image,'
                    " Packages or limits of its own.")


class ComputeTargetEntity(Wire):
    """A compute target, as every ComputeTargets route answers it."""

    name: str = Field(alias="Name")
    description: str | None = Field(alias="Description")
    queue: str = Field(alias="Queue")
    image: str = Field(alias="Image")
    packages: list[str] = Field(alias="Packages")
    max_concurrent_steps: int = Field(alias="MaxConcurrentSteps")
    max_step_timeout_seconds: int = Field(alias="MaxStepTimeoutSeconds")
    runs_on: str | None = Field(alias="RunsOn")
    built_in: bool = Field(alias="BuiltIn", description="true for `app`, the app itself (not changed nor deleted).")
    created_date: str | None = Field(alias="CreatedDate")
    last_modified_date: str | None = Field(alias="LastModifiedDate")


MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = (
    (ComputeTargetRequest, "validation"),
    (ComputeTargetEntity, "serialization"),
)
_KEYS = {field.alias.lower(): field.alias for field in ComputeTargetRequest.model_fields.values() if field.alias}
_OWN = ("Image", "Packages", "MaxConcurrentSteps", "MaxStepTimeoutSeconds")
_DEFAULTS = {"MaxConcurrentSteps": DEFAULT_CONCURRENCY, "MaxStepTimeoutSeconds": DEFAULT_TIMEOUT}


def target_entity(target: ComputeTarget) -> ComputeTargetEntity:
    return ComputeTargetEntity(
        name=target.name, description=target.description, queue=target.queue, image=target.image,
        packages=list(target.packages), max_concurrent_steps=target.max_concurrent_steps,
        max_step_timeout_seconds=target.max_step_timeout_seconds, runs_on=target.runs_on,
        built_in=target.built_in, created_date=wire_time(target.created),
        last_modified_date=wire_time(target.modified),
    )


def target_spec(body: dict[str, Any]) -> TargetSpec:
    """The PUT body as the catalogue takes it; one 400 listing every problem."""
    problems: list[ErrorDetail] = []
    values: dict[str, Any] = {}
    for raw_key, value in body.items():
        canonical = _KEYS.get(raw_key.lower())
        if canonical is not None and canonical not in values:
            values[canonical] = value
        elif canonical is None and raw_key.lower() not in _ANSWER_KEYS:
            problems.append(ErrorDetail("UnknownKey", f"{raw_key!r} is not a key of a compute target", raw_key))
    parsed: ComputeTargetRequest | None = None
    try:
        parsed = ComputeTargetRequest.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "$"
            where = where.replace(".", "[", 1) + "]" if where.startswith("Packages.") else where
            problems.append(ErrorDetail("InvalidField", f"{where}: {error['msg']}", where))
    if parsed is not None:
        for position, text in enumerate(parsed.packages):
            problem = requirement_problem(text)
            if problem:
                problems.append(ErrorDetail("InvalidField", f"Packages[{position}] {problem}",
                                            f"Packages[{position}]"))
        if parsed.runs_on == APP:
            # Values at their defaults are no settings of its own (an alias's answer can be sent back;
            # its Queue, the steps queue, is the catalogue's to check).
            given = [key for key in _OWN if values.get(key) not in (None, "", [], _DEFAULTS.get(key))]
            if given:
                message = f'a target with RunsOn "app" is an alias of the app: it takes no {", ".join(given)}'
                problems.append(ErrorDetail("InvalidField", message, given[0]))
    if problems or parsed is None:
        raise BadRequestError(
            "the compute target is not valid: " + "; ".join(p.message for p in problems),
            target=problems[0].target if problems else None, details=problems,
        )
    return TargetSpec(
        description=parsed.description, queue=parsed.queue, image=parsed.image, packages=tuple(parsed.packages),
        max_concurrent_steps=parsed.max_concurrent_steps, max_step_timeout_seconds=parsed.max_step_timeout_seconds,
        runs_on=parsed.runs_on,
    )
