"""The submit request body of the old service (docs/contract.md §2), parsed and resolved.

Keys are matched case-insensitively (clients send both `tags` and `Tags`);
values are checked for type; parameter values are coerced to the declared types
and every bad key is reported at once, in one 400, before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.authoring.coercion import coerce_parameter
from pipelines.authoring.definition import PipelineDefinition
from pipelines.errors import BadRequestError, ErrorDetail, InvalidParameterError
from pipelines.runs.experiments import experiment_name_problem

# Canonical names of the keys we read; the rest are accepted and ignored.
_KEYS = {
    k.lower(): k
    for k in (
        "ExperimentName", "Description", "RunSource", "RunType", "ParameterAssignments",
        "DataPathAssignments", "DataSetDefinitionValueAssignments", "Tags", "Properties",
        "ContinueRunOnStepFailure", "ScheduleId", "EnableNotification", "DisplayName",
        "AzDevOpsCallBackInfo", "ParentRunId",
    )
}
_TEXT_LIMIT = 4096


@dataclass
class SubmitRequest:
    experiment_name: str | None = None
    description: str | None = None
    run_source: str | None = None
    run_type: str | None = None
    parameter_assignments: dict[str, Any] = field(default_factory=dict)
    datapath_assignments: dict[str, Any] = field(default_factory=dict)
    dataset_assignments: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    continue_on_step_failure: bool | None = None
    schedule_id: str | None = None
    display_name: str | None = None
    parent_run_id: str | None = None


def parse_submit(body: Any) -> SubmitRequest:
    if not isinstance(body, Mapping):
        raise BadRequestError("the request body must be a JSON object")
    values: dict[str, Any] = {}
    for raw_key, value in body.items():
        canonical = _KEYS.get(str(raw_key).lower())
        if canonical is not None:
            values[canonical] = value
    problems: list[ErrorDetail] = []

    def text(name: str) -> str | None:
        value = values.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            problems.append(ErrorDetail("UserError", f"{name} must be a string", name))
            return None
        value = str(value)
        if len(value) > _TEXT_LIMIT:
            problems.append(ErrorDetail("UserError", f"{name} is over {_TEXT_LIMIT} characters", name))
        return value

    def obj(name: str) -> dict[str, Any]:
        value = values.get(name)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            problems.append(ErrorDetail("UserError", f"{name} must be a JSON object", name))
            return {}
        return dict(value)

    def strings(name: str) -> dict[str, str]:
        # Tags and properties are labels: scalars are kept as their text.
        result = {}
        for k, v in obj(name).items():
            if isinstance(v, (dict, list)):
                problems.append(ErrorDetail("UserError", f"{name}.{k} must be a string", f"{name}.{k}"))
            else:
                result[k] = "" if v is None else (v if isinstance(v, str) else _scalar_text(v))
        return result

    request = SubmitRequest(
        experiment_name=text("ExperimentName"),
        description=text("Description"),
        run_source=text("RunSource"),
        run_type=text("RunType"),
        parameter_assignments=obj("ParameterAssignments"),
        datapath_assignments=obj("DataPathAssignments"),
        dataset_assignments=obj("DataSetDefinitionValueAssignments"),
        tags=strings("Tags"),
        properties=strings("Properties"),
        schedule_id=text("ScheduleId"),
        display_name=text("DisplayName"),
        parent_run_id=text("ParentRunId"),
    )
    if request.experiment_name == "":
        request.experiment_name = None  # as if absent: the pipeline's name is used
    problem = experiment_name_problem(request.experiment_name) if request.experiment_name else None
    if problem:
        problems.append(ErrorDetail("UserError", f"ExperimentName {problem}", "ExperimentName"))
    flag = values.get("ContinueRunOnStepFailure")
    if flag is not None:
        if isinstance(flag, bool):
            request.continue_on_step_failure = flag
        elif isinstance(flag, str) and flag.lower() in ("true", "false"):
            request.continue_on_step_failure = flag.lower() == "true"
        else:
            problems.append(ErrorDetail("UserError", "ContinueRunOnStepFailure must be a boolean", "ContinueRunOnStepFailure"))
    if problems:
        raise BadRequestError(problems[0].message if len(problems) == 1 else "the request body has errors",
                              target=problems[0].target, details=problems)
    return request


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


# A resolver turns one data assignment into what the run records (issue 6 adds datasets).
DataResolver = Callable[[str, str, Any], Any]


@dataclass
class Resolved:
    parameters: dict[str, Any]
    datapaths: dict[str, Any]
    datasets: dict[str, Any]


def resolve(
    definition: PipelineDefinition,
    request: SubmitRequest,
    *,
    resolve_datapath: DataResolver,
    resolve_dataset: DataResolver,
) -> Resolved:
    """Every parameter's value for this run: assigned (coerced) or the default.

    Every unknown name, uncoercible value and bad data reference is collected
    and raised in one InvalidParameterError (docs/contract.md §2: strict).
    """
    specs = {p.name: p for p in definition.parameters}
    problems: list[ErrorDetail] = []
    parameters: dict[str, Any] = {}
    for name, value in request.parameter_assignments.items():
        spec = specs.get(name)
        target = f"ParameterAssignments.{name}"
        if spec is None:
            problems.append(ErrorDetail("InvalidParameter", f"{name!r} is not a parameter of this pipeline", target))
        elif spec.type in ("dataset", "datapath"):
            where = "DataSetDefinitionValueAssignments" if spec.type == "dataset" else "DataPathAssignments"
            problems.append(ErrorDetail("InvalidParameter", f"{name!r} is a {spec.type} parameter: assign it in {where}", target))
        else:
            try:
                parameters[name] = coerce_parameter(spec, value)
            except ValueError as exc:
                problems.append(ErrorDetail("InvalidParameter", f"{name!r}: {exc}", target))
    datapaths: dict[str, Any] = {}
    datasets: dict[str, Any] = {}
    for field_name, assignments, wanted, resolver, out in (
        ("DataPathAssignments", request.datapath_assignments, "datapath", resolve_datapath, datapaths),
        ("DataSetDefinitionValueAssignments", request.dataset_assignments, "dataset", resolve_dataset, datasets),
    ):
        for name, value in assignments.items():
            spec = specs.get(name)
            target = f"{field_name}.{name}"
            if spec is None:
                problems.append(ErrorDetail("InvalidParameter", f"{name!r} is not a parameter of this pipeline", target))
            elif spec.type != wanted and not (wanted == "dataset" and spec.type == "datapath"):
                problems.append(ErrorDetail("InvalidParameter", f"{name!r} is not a {wanted} parameter", target))
            else:
                try:
                    out[name] = resolver(name, spec.type, value)
                except BadRequestError as exc:
                    problems.append(ErrorDetail("InvalidParameter", exc.message, target))
    if problems:
        raise InvalidParameterError(
            problems[0].message if len(problems) == 1 else f"{len(problems)} parameter assignments are invalid",
            target=problems[0].target,
            details=problems,
        )
    for name, spec in specs.items():
        if spec.type in ("dataset", "datapath"):
            continue
        parameters.setdefault(name, spec.default)
    return Resolved(parameters=parameters, datapaths=datapaths, datasets=datasets)
