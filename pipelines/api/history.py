"""Routes of the run-history family (`/history/v1.0/...`, docs/contract.md §6).

What SDK v1 (`Run.get_details()`, `get_children()`, `Experiment.get_runs()`,
`Run.get(ws, id)`) and compiled clients (the Dynamics 365 forecasting client polls
`runs/{id}/details` and lists active runs with `runs:query`) read. Everything
here is read-only but creating an empty experiment, which SDK v1's
`Experiment(ws, name)` does for a name it has not seen; what a caller changes on a
run is `pipelines.api.run_labels`'.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from pipelines.api.answers import ArtifactListing
from pipelines.api.contract import wire_time
from pipelines.api.history_contract import (
    CreatedBy,
    ErrorResponse,
    ExperimentDto,
    PaginatedExperimentDto,
    PaginatedRunDto,
    QueryParamsDto,
    RootError,
    RunDetailsDto,
    RunDto,
)
from pipelines.api.http import RequestContext, route
from pipelines.catalogue import PublishedPipelines
from pipelines.errors import BadRequestError, NotFoundError
from pipelines.runs.engine import RunState
from pipelines.runs.experiments import Experiment, Experiments
from pipelines.runs.history import TARGET, HistoryRecord
from pipelines.runs.loglinks import LogLinks
from pipelines.runs.model import Step
from pipelines.runs.query import EXPERIMENT_FIELDS, matches, parse_filter
from pipelines.runs.reader import MAX_TOP, HistoryReader, Query
from pipelines.store import get_account
from pipelines.text import whole_number
from pipelines.vocabulary import now

# A step's logs, named as Azure ML named a step run's logs: SDK v1 streams the
# last `azureml-logs/NN_*.txt` in name order, which is the script's output.
STEP_LOG_FILES = {
    "azureml-logs/55_job_log.txt": "JobLog",
    "azureml-logs/65_stderr.txt": "STDERR",
    "azureml-logs/70_driver_log.txt": "STDOUT",
}


def reader() -> HistoryReader:
    return HistoryReader(get_account())


# -- answers ----------------------------------------------------------------------------------------------
def run_dto(ctx: RequestContext, record: HistoryRecord) -> RunDto:
    cancel_uri = None
    if not record.finished:
        # SDK v1's Run.cancel() posts here; a step's is its pipeline run's (a step is not
        # canceled alone), where the SDK would otherwise post a Canceled event this service
        # does not take.
        cancel_uri = f"{ctx.workspace_url}/PipelineRuns/{record.root_run_id}/Cancel"
    return RunDto(
        run_id=record.run_id,
        parent_run_id=record.parent_run_id,
        root_run_id=record.root_run_id,
        experiment_id=record.experiment_id,
        run_number=record.run_number,
        name=record.name,
        display_name=record.display_name,
        description=record.description,
        status=record.status,
        created_utc=wire_time(record.created),
        start_time_utc=wire_time(record.started),
        end_time_utc=wire_time(record.ended),
        run_type=record.run_type,
        target=TARGET,
        properties=record.properties,
        tags=record.tags,
        error=error_response(record),
        data_container_id=f"dcid.{record.run_id}",
        cancel_uri=cancel_uri,
        created_by=(
            CreatedBy(user_object_id=record.submitted_by, user_name=record.submitted_by_name or record.submitted_by)
            if record.submitted_by else None
        ),
    )


def error_response(record: HistoryRecord) -> ErrorResponse | None:
    if record.error is None:
        return None
    return ErrorResponse(
        error=RootError(code=record.error.code, message=record.error.message),
        time=wire_time(record.ended),
    )


def details_dto(ctx: RequestContext, record: HistoryRecord, state: RunState) -> RunDetailsDto:
    run = state.run
    definition = PublishedPipelines(get_account()).graph(run.workspace, run.graph_id)
    inputs: list[dict[str, Any]] = []
    log_files: dict[str, str] = {}
    warnings: list[dict[str, str]] = []
    if record.node_id is None:
        parameters = {name: str(value) for name, value in run.parameters.items()}
        run_definition: dict[str, Any] = {
            "pipelineId": run.pipeline_id,
            "graphId": run.graph_id,
            "pipelineEndpointId": run.endpoint_id,
            "pipelineVersion": run.pipeline_version,
            "parameterAssignments": parameters,
            "target": TARGET,
        }
        consumed = set(run.data_assignments)
    else:
        spec = definition.step(record.node_id)
        run_definition = {
            "script": spec.script_name,
            "target": TARGET,
            "maxRetries": spec.max_retries,
            "idempotent": spec.idempotent,
            "freshInterpreter": spec.fresh_interpreter,
            "timeoutSeconds": spec.timeout_seconds,
            "inputs": [i.name for i in spec.inputs],
            "outputs": [o.name for o in spec.outputs],
            "environment": {"name": "function-app", "python": {"userManagedDependencies": True}},
        }
        consumed = {i.parameter for i in spec.inputs if i.parameter in run.data_assignments}
        warnings = attempt_warnings(state.steps[record.node_id])
        base = f"{ctx.workspace_url}/PipelineRuns/{quote(run.id)}/Graph/Shareable"
        links, node = LogLinks(get_account()), record.node_id
        # Signed: SDK v1 reads them without a token, as it read Azure ML's blob SAS URLs.
        log_files = {name: links.sign(f"{base}/{kind}?nodeId={quote(node)}", run.workspace, run.id, node, kind)
                     for name, kind in STEP_LOG_FILES.items()}
    for name in sorted(consumed):
        dataset = run.data_assignments[name]
        if dataset.get("kind") != "dataset":
            continue
        inputs.append(
            {
                "identifier": {"savedId": dataset.get("id"), "registeredId": dataset.get("id"),
                               "registeredVersion": str(dataset.get("version"))},
                "consumptionType": "RunInput",
                "inputDetails": {"inputName": name, "mechanism": "Download", "pathOnCompute": None},
            }
        )
    return RunDetailsDto(
        run_id=record.run_id,
        target=TARGET,
        status=record.status,
        start_time_utc=wire_time(record.started),
        end_time_utc=wire_time(record.ended),
        error=error_response(record),
        warnings=warnings,
        properties=record.properties,
        input_datasets=inputs,
        run_definition=run_definition,
        log_files=log_files,
    )


def attempt_warnings(step: Step) -> list[dict[str, str]]:
    """RunDetailsWarningDto entries: each earlier execution of the step that did not end
    by its script (a lost worker, a retry), so a step run twice says so in its details."""
    return [
        {
            "source": "pipelines",
            "message": f"attempt {a.number} {a.outcome.lower()} ({a.reason})" + (f": {a.detail}" if a.detail else ""),
        }
        for a in step.attempts
        if a.reason is not None
    ]


def experiment_dto(experiment: Experiment) -> ExperimentDto:
    return ExperimentDto(
        experiment_id=experiment.id,
        name=experiment.name,
        description=experiment.description,
        created_utc=wire_time(experiment.created),
        last_created_run_utc=wire_time(experiment.last_run),
        archived_time=wire_time(experiment.archived),
        tags=experiment.tags,
    )


# -- one run ---------------------------------------------------------------------------------------------
def _one(ctx: RequestContext, experiment: str | None) -> RunDto:
    record, state = reader().find(ctx.workspace, ctx.param("runId"), experiment)
    return run_dto(ctx, record)


@route("history_get_run")
def history_get_run(ctx: RequestContext) -> RunDto:
    return _one(ctx, ctx.experiment_name)


@route("history_get_workspace_run")
def history_get_workspace_run(ctx: RequestContext) -> RunDto:
    return _one(ctx, None)


@route("history_get_run_by_experiment_id")
def history_get_run_by_experiment_id(ctx: RequestContext) -> RunDto:
    experiment = Experiments(get_account()).by_id(ctx.workspace, ctx.param("experimentId"))
    return _one(ctx, experiment.name)


def _details(ctx: RequestContext, experiment: str | None) -> RunDetailsDto:
    record, state = reader().find(ctx.workspace, ctx.param("runId"), experiment)
    return details_dto(ctx, record, state)


@route("history_get_run_details")
def history_get_run_details(ctx: RequestContext) -> RunDetailsDto:
    return _details(ctx, ctx.experiment_name)


@route("history_get_workspace_run_details")
def history_get_workspace_run_details(ctx: RequestContext) -> RunDetailsDto:
    return _details(ctx, None)


@route("history_metrics_wait")
def history_metrics_wait(ctx: RequestContext) -> dict[str, Any]:
    """SDK v1 waits here after a cancel for metrics to be ingested: runs here keep no
    metrics in flight, so there is nothing to wait for once the run exists."""
    reader().find(ctx.workspace, ctx.param("runId"), ctx.experiment_name)
    return {}


# -- lists of runs -----------------------------------------------------------------------------------------
def _top(raw: Any, target: str) -> int | None:
    if raw is None or raw == "":
        return None
    number = raw if isinstance(raw, int) and not isinstance(raw, bool) else whole_number(str(raw))
    if number is None or not 1 <= number <= MAX_TOP:
        raise BadRequestError(f"{target} must be a whole number from 1 to {MAX_TOP}", target=target)
    return number


def _paginated(ctx: RequestContext, records: list[HistoryRecord], token: str | None) -> PaginatedRunDto:
    return PaginatedRunDto(value=[run_dto(ctx, r) for r in records], continuation_token=token)


@route("history_get_children")
def history_get_children(ctx: RequestContext) -> PaginatedRunDto:
    history = reader()

    def arg(name: str) -> str | None:
        return ctx.query("$" + name) or ctx.query(name)

    query = Query.of(arg("filter"), arg("orderby"), arg("sortorder"), _top(arg("top"), "$top"), history.default_top)
    page = history.children(
        ctx.workspace, ctx.experiment_name, ctx.param("runId"), query, arg("continuationToken")
    )
    return _paginated(ctx, page.records, page.continuation)


def _query_body(ctx: RequestContext) -> QueryParamsDto:
    """The body's keys matched in any case (`orderBy` is `orderby`), as a submit's are: a key
    that only differs in case from a known one would otherwise be ignored without a word."""
    known = {
        (field.alias or name).lower(): field.alias or name for name, field in QueryParamsDto.model_fields.items()
    }
    body: dict[str, Any] = {}
    for key, value in ctx.json_object().items():
        name = known.get(key.lower(), key)
        if name in body:
            raise BadRequestError(f"{name} is given twice, in different cases", target=name)
        body[name] = value
    try:
        return QueryParamsDto.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadRequestError(f"{where}: {first['msg']}", target=where) from None


@route("history_query_runs")
def history_query_runs(ctx: RequestContext) -> PaginatedRunDto:
    body = _query_body(ctx)
    history = reader()
    query = Query.of(body.filter, body.orderby, None, _top(body.top, "top"), history.default_top)
    page = history.query(ctx.workspace, ctx.experiment_name, query, body.continuation_token)
    return _paginated(ctx, page.records, page.continuation)


# -- experiments -------------------------------------------------------------------------------------------
@route("history_get_experiment")
def history_get_experiment(ctx: RequestContext) -> ExperimentDto:
    return experiment_dto(Experiments(get_account()).get(ctx.workspace, ctx.experiment_name))


@route("history_get_experiment_by_id")
def history_get_experiment_by_id(ctx: RequestContext) -> ExperimentDto:
    return experiment_dto(Experiments(get_account()).by_id(ctx.workspace, ctx.param("experimentId")))


@route("history_create_experiment")
def history_create_experiment(ctx: RequestContext) -> ExperimentDto:
    name = ctx.experiment_name
    experiments = Experiments(get_account())
    experiments.note(ctx.workspace, name, now())
    return experiment_dto(experiments.get(ctx.workspace, name))


def _experiments(ctx: RequestContext, filter_text: str | None, view_type: str | None) -> PaginatedExperimentDto:
    view = (view_type or "ActiveOnly").strip().lower()
    if view not in ("activeonly", "all", "archivedonly"):
        raise BadRequestError("viewType must be ActiveOnly, All or ArchivedOnly", target="viewType")
    tree = parse_filter(filter_text, EXPERIMENT_FIELDS)
    found = [e for e in Experiments(get_account()).list(ctx.workspace)
             if view == "all" or (e.archived is not None) == (view == "archivedonly")]
    return PaginatedExperimentDto(
        value=[experiment_dto(e) for e in found if matches(tree, e)], continuation_token=None
    )


@route("history_list_experiments")
def history_list_experiments(ctx: RequestContext) -> PaginatedExperimentDto:
    return _experiments(ctx, ctx.query("$filter") or ctx.query("filter"), ctx.query("viewType"))


@route("history_query_experiments")
def history_query_experiments(ctx: RequestContext) -> PaginatedExperimentDto:
    body = _query_body(ctx)
    return _experiments(ctx, body.filter, body.view_type)


# -- the artifact listing SDK v1's get_details() makes -------------------------------------------------------
@route("history_list_run_artifacts")
def history_list_run_artifacts(ctx: RequestContext) -> ArtifactListing:
    """SDK v1's `Run.get_details()` lists `user_logs` and `system_logs` of the run's
    data container here and fails unless the answer is 200."""
    return _no_artifacts(ctx)


@route("history_list_all_run_artifacts")
def history_list_all_run_artifacts(ctx: RequestContext) -> ArtifactListing:
    """SDK v1's `Run.get_file_names()` lists every artifact of the run's data container here."""
    return _no_artifacts(ctx)


def _no_artifacts(ctx: RequestContext) -> ArtifactListing:
    """This service keeps no artifacts beside the logs that `details` already names: the
    listing is empty for a run that exists, 404 for one that does not."""
    container = ctx.param("containerId")
    run_id = container[len("dcid."):] if container.startswith("dcid.") else ""
    if not run_id:
        raise NotFoundError(f"no run has the data container {container!r}", target="containerId")
    reader().find(ctx.workspace, run_id)
    return ArtifactListing(value=[], continuation_token=None)
