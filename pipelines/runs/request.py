"""The submit request body of the old service (docs/contract.md §2), parsed and resolved.

Keys are matched case-insensitively (clients send both `tags` and `Tags`);
values are checked for type; parameter values are coerced to the declared types
and every bad key is reported at once, in one 400, before anything is written.

Unknown top-level keys are accepted and ignored, as the old service did, so a
caller that sends extra fields keeps working (`read_submit` lists them, for the
`x-ms-ignored-keys` header); but a key that is a near miss of a known one
(`ParamAssignments`, `parameter_assignments`, `Tag`) is a 400 naming the key it
meant: ignoring it would run the pipeline with its defaults, silently
(`pipelines.runs.body_keys`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from pipelines.authoring.coercion import coerce_parameter
from pipelines.authoring.definition import PipelineDefinition
from pipelines.errors import BadRequestError, ErrorDetail, InvalidParameterError, NotFoundError
from pipelines.runs.body_keys import sort_keys
from pipelines.text import description_problem, experiment_name_problem, tags_problems

# Canonical names of the keys we read; the rest are accepted and ignored.
SUBMIT_KEYS = (
    "ExperimentName", "Description", "RunSource", "RunType", "ParameterAssignments",
    "DataPathAssignments", "DataSetDefinitionValueAssignments", "Tags", "Properties",
    "ContinueRunOnStepFailure", "ScheduleId", "EnableNotification", "DisplayName",
    "ParentRunId", "AllowStepReruns", "RegenerateOutputs",
)
# `AzDevOpsCallBackInfo` is not among them: a submit route reads it beside the request
# (pipelines/runs/devops.py), and names it ignored when it cannot be used; a schedule's or
# trigger's Request, which starts runs no DevOps job waits for, names it ignored.
_KEYS = {k.lower(): k for k in SUBMIT_KEYS}
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
    # Our addition: a step declared idempotent=False may run again after its worker was lost.
    allow_step_reruns: bool = False
    # SDK v1's regenerate_outputs: every step runs; none takes an earlier execution's outputs.
    regenerate_outputs: bool = False
    schedule_id: str | None = None
    display_name: str | None = None
    parent_run_id: str | None = None


def refuse(problems: list[ErrorDetail]) -> BadRequestError:
    """One 400 for every problem found: the first's message, or a count, and all in Details."""
    message = problems[0].message if len(problems) == 1 else "the request body has errors"
    return BadRequestError(message, target=problems[0].target, details=problems)


# -- parsing -------------------------------------------------------------------------------------------
class ParsedSubmit(NamedTuple):
    request: SubmitRequest
    ignored_keys: list[str]  # top-level keys accepted and ignored, as sent
    # What is wrong with the body, when `read_submit` was asked to collect it rather than raise
    # (a submit route adds what only the pipeline can tell, and names every bad key at once).
    problems: tuple[ErrorDetail, ...] = ()


def parse_submit(body: Any) -> SubmitRequest:
    """The submit body as a SubmitRequest; a 400 with every problem in Details."""
    return read_submit(body).request


def read_submit(
    body: Any, *, sample: Callable[[str], str] | None = None, parent_run_id: str | None = None,
    collect: bool = False,
) -> ParsedSubmit:
    """`parse_submit`, with the keys it ignored.

    `sample` is for a request kept to be sent later (an event trigger's), whose
    strings may hold placeholders: values are checked as `sample` makes them
    (each placeholder replaced by a stand-in), as far as they are known now.
    `parent_run_id`: the route's `?parentRunId=`, over the body's, checked as the body's is.
    `collect`: the problems found are returned (`ParsedSubmit.problems`), not raised.
    """
    if not isinstance(body, Mapping):
        raise BadRequestError("the request body must be a JSON object")
    values, ignored, problems = sort_keys(body, SUBMIT_KEYS)

    def text(name: str) -> str | None:
        value = values.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            problems.append(ErrorDetail("UserError", f"{name} must be a string", name))
            return None
        return str(value)

    def loose(name: str) -> str | None:
        # The contract takes any value here, never an error: a string or a number within the
        # limit is kept as its text; anything else is ignored, and named as ignored.
        value = values.get(name)
        kept = value if isinstance(value, str) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            kept = _scalar_text(value)
        if value is not None and (kept is None or len(kept) > _TEXT_LIMIT):
            ignored.append(name)
            return None
        return kept

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
        schedule_id=loose("ScheduleId"),
        display_name=loose("DisplayName"),
        parent_run_id=text("ParentRunId"),
    )
    if request.experiment_name == "":
        request.experiment_name = None  # as if absent: the pipeline's name is used
    def flag(name: str) -> bool | None:
        value = values.get(name)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        problems.append(ErrorDetail("UserError", f"{name} must be a boolean", name))
        return None

    request.continue_on_step_failure = flag("ContinueRunOnStepFailure")
    request.allow_step_reruns = bool(flag("AllowStepReruns"))
    request.regenerate_outputs = bool(flag("RegenerateOutputs"))
    if parent_run_id:
        request.parent_run_id = parent_run_id
    problems += text_problems(request, sample=sample)
    if problems:
        problems += shape_problems(request)
        if collect:
            return ParsedSubmit(request, ignored, tuple(problems))
        raise refuse(problems)
    # Assignments alone are left to `resolve`, which knows the pipeline's parameters: it names every
    # bad one at once, an unknown name as such whatever its value.
    return ParsedSubmit(request, ignored)


# Keys with rules of their own (Azure ML's, `pipelines.text`) rather than `_TEXT_LIMIT`.
_RULED = ("ExperimentName", "Description")
# Keys the contract takes with any value, never an error: what cannot be kept is dropped.
_LOOSE = ("ScheduleId", "DisplayName")
_TEXT_FIELDS = (
    ("ExperimentName", "experiment_name"), ("Description", "description"), ("RunSource", "run_source"),
    ("RunType", "run_type"), ("ScheduleId", "schedule_id"), ("DisplayName", "display_name"),
    ("ParentRunId", "parent_run_id"),
)


def text_problems(request: SubmitRequest, *, sample: Callable[[str], str] | None = None) -> list[ErrorDetail]:
    """What is wrong with the request's texts: too long, or against Azure ML's rules for an
    experiment name, a description and tags (`pipelines.text`), each naming its key.

    A request kept to be sent later is checked as `sample` makes its placeholders, and again
    once they are filled (`check_texts`): what fills them is known only then.
    """
    def filled(text: str) -> str:
        return sample(text) if sample else text

    problems = []
    for name, attribute in _TEXT_FIELDS:
        value = getattr(request, attribute)
        if value is not None and name not in (*_RULED, *_LOOSE) and len(value) > _TEXT_LIMIT:
            problems.append(ErrorDetail("UserError", f"{name} is over {_TEXT_LIMIT} characters", name))
    if request.experiment_name:
        problem = experiment_name_problem(filled(request.experiment_name))
        if problem:
            problems.append(ErrorDetail("UserError", f"ExperimentName {problem}", "ExperimentName"))
    if request.description is not None:
        problem = description_problem(filled(request.description))
        if problem:
            problems.append(ErrorDetail("UserError", f"Description {problem}", "Description"))
    tags = {key: filled(value) for key, value in request.tags.items()}
    problems += [ErrorDetail("UserError", message, target) for target, message in tags_problems(tags)]
    return problems


_PATH_SHAPE = '{"DataStoreName": "...", "RelativePath": "..."}'
_FORMS = {"saveddatasetreference": "SavedDataSetReference", "datasetreference": "DataSetReference",
          "literalvalue": "LiteralValue"}


def shape_problems(request: SubmitRequest) -> list[ErrorDetail]:
    """Data assignments of the documented shape (keys in any case), whatever they name: what they
    name is looked up when the run is resolved (`resolve`), a request kept for later included."""
    problems = [
        ErrorDetail("InvalidParameter", f"{name!r}: a value is a string, a number or a boolean",
                    f"ParameterAssignments.{name}")
        for name, value in request.parameter_assignments.items()
        if value is None or not isinstance(value, (str, int, float, bool))
    ]
    for name, value in request.datapath_assignments.items():
        if not _is_path(value):
            target = f"DataPathAssignments.{name}"
            problems.append(ErrorDetail("InvalidParameter", f"{target} must be {_PATH_SHAPE}", target))
    for name, value in request.dataset_assignments.items():
        target = f"DataSetDefinitionValueAssignments.{name}"
        form, reference = next(iter(value.items())) if isinstance(value, Mapping) and len(value) == 1 else ("", None)
        known = _FORMS.get(str(form).lower())
        if known is None or not isinstance(reference, Mapping):
            problems.append(ErrorDetail(
                "InvalidParameter", f"{target} must be one of {{\"SavedDataSetReference\": {{...}}}}, "
                f"{{\"DataSetReference\": {{...}}}} or {{\"LiteralValue\": {_PATH_SHAPE}}}", target))
            continue
        lowered = {str(k).lower(): v for k, v in reference.items()}
        ids = (lowered.get("id"), lowered.get("name"))
        if known == "LiteralValue" and not _is_path(reference):
            problems.append(ErrorDetail("InvalidParameter", f"{target}.LiteralValue must be {_PATH_SHAPE}", target))
        elif known == "SavedDataSetReference" and not (isinstance(ids[0], str) and ids[0]):
            problems.append(ErrorDetail("InvalidParameter", f"{target}.SavedDataSetReference needs the dataset's Id",
                                        target))
        elif known == "DataSetReference" and not all(item is None or isinstance(item, str) for item in ids):
            problems.append(
                ErrorDetail("InvalidParameter", f"{target}.DataSetReference: Id and Name are strings", target))
    return problems


def _is_path(value: Any) -> bool:
    if not isinstance(value, Mapping):
        return False
    lowered = {str(k).lower(): v for k, v in value.items()}
    return isinstance(lowered.get("datastorename"), str) and isinstance(lowered.get("relativepath"), str)


def check_texts(request: SubmitRequest) -> None:
    """A 400 when a request (its placeholders filled) has a text no submit would take."""
    problems = text_problems(request)
    if problems:
        raise refuse(problems)


def texts(request: SubmitRequest) -> Iterator[tuple[str, str]]:
    """Every string of the request, with the key that holds it (`Tags.owner`,
    `DataPathAssignments.input.RelativePath`): where a template's placeholders can be."""
    for name, attribute in _TEXT_FIELDS:
        value = getattr(request, attribute)
        if value is not None:
            yield name, value
    for name, mapping in (
        ("ParameterAssignments", request.parameter_assignments),
        ("DataPathAssignments", request.datapath_assignments),
        ("DataSetDefinitionValueAssignments", request.dataset_assignments),
        ("Tags", request.tags),
        ("Properties", request.properties),
    ):
        for key, value in mapping.items():
            yield from _strings_in(value, f"{name}.{key}")


def _strings_in(value: Any, target: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield target, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings_in(item, f"{target}[{index}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings_in(item, f"{target}.{key}")


def map_texts(
    request: SubmitRequest,
    text: Callable[[str, str], str],
    parameter: Callable[[str, Any], Any] | None = None,
) -> SubmitRequest:
    """A copy with every string `s` at key `k` (as `texts` names them) made `text(k, s)`;
    a parameter's value `v` is made `parameter(k, v)` when that is given."""
    changed: dict[str, Any] = {
        attribute: text(name, value)
        for name, attribute in _TEXT_FIELDS
        if (value := getattr(request, attribute)) is not None
    }
    for name, attribute in _TEXT_FIELDS:
        if name in _LOOSE and len(changed.get(attribute) or "") > _TEXT_LIMIT:
            changed[attribute] = None  # filled past the limit: dropped, as a submit drops it

    def each(name: str, mapping: Mapping[str, Any]) -> dict[str, Any]:
        return {key: _map_strings(value, f"{name}.{key}", text) for key, value in mapping.items()}

    params = request.parameter_assignments
    changed.update(
        parameter_assignments=(
            {key: parameter(f"ParameterAssignments.{key}", v) for key, v in params.items()}
            if parameter else each("ParameterAssignments", params)
        ),
        datapath_assignments=each("DataPathAssignments", request.datapath_assignments),
        dataset_assignments=each("DataSetDefinitionValueAssignments", request.dataset_assignments),
        tags={key: text(f"Tags.{key}", v) for key, v in request.tags.items()},
        properties={key: text(f"Properties.{key}", v) for key, v in request.properties.items()},
    )
    return replace(request, **changed)


def _map_strings(value: Any, target: str, text: Callable[[str, str], str]) -> Any:
    if isinstance(value, str):
        return text(target, value)
    if isinstance(value, list):
        return [_map_strings(item, f"{target}[{index}]", text) for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        return {key: _map_strings(item, f"{target}.{key}", text) for key, item in value.items()}
    return value


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
            message = f"{name!r} is a {spec.type} parameter: assign it in {where}"
            problems.append(ErrorDetail("InvalidParameter", message, target))
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
                problems.append(
                    ErrorDetail("InvalidParameter", f"{name!r} is not a parameter of this pipeline", target)
                )
            elif spec.type != wanted and not (wanted == "dataset" and spec.type == "datapath"):
                problems.append(ErrorDetail("InvalidParameter", f"{name!r} is not a {wanted} parameter", target))
            else:
                try:
                    out[name] = resolver(name, spec.type, value)
                except BadRequestError as exc:
                    problems.append(ErrorDetail("InvalidParameter", exc.message, target))
                except NotFoundError as exc:
                    problems.append(ErrorDetail(NotFoundError.code, exc.message, target))
    if problems and all(p.code == NotFoundError.code for p in problems):
        # Only registrations that do not exist (a dataset, a version of it): the contract's 404
        # (docs/contract.md §4); with any other bad key, one 400 lists them all.
        first = problems[0]
        raise NotFoundError(
            first.message if len(problems) == 1 else f"{len(problems)} datasets are not registered",
            target=first.target, details=problems,
        )
    if problems:
        raise invalid_assignments(problems)
    for name, spec in specs.items():
        if spec.type in ("dataset", "datapath"):
            continue
        parameters.setdefault(name, spec.default)
    return Resolved(parameters=parameters, datapaths=datapaths, datasets=datasets)


def invalid_assignments(problems: list[ErrorDetail]) -> InvalidParameterError:
    """The 400 of a submit's bad assignments: every one in Details."""
    return InvalidParameterError(
        problems[0].message if len(problems) == 1 else f"{len(problems)} parameter assignments are invalid",
        target=problems[0].target,
        details=problems,
    )
