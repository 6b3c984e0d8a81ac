"""Routes of runs: the four submit forms, rerun, status, step statuses, logs, cancel."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

import azure.functions as func

from pipelines.api.answers import StepStatuses, StepStatusWord
from pipelines.api.automation_contract import ignored_keys_header
from pipelines.api.contract import (
    AttemptEntity,
    PipelineRunEntity,
    RunStatusEntity,
    TaskReuseInfoEntity,
    TaskStatusEntity,
    wire_time,
)
from pipelines.api.http import Reply, RequestContext, byte_range, json_response, route
from pipelines.api.paging import page_request, paged
from pipelines.authoring.definition import StepSpec
from pipelines.catalogue import PublishedPipelines
from pipelines.errors import BadRequestError, ErrorDetail, NotFoundError, PipelinesError, ServiceUnavailableError
from pipelines.runs import devops as devops_body
from pipelines.runs import joblog
from pipelines.runs.engine import RunState
from pipelines.runs.history import experiment_id, step_run_id, step_status_word
from pipelines.runs.loglinks import SIGNED, LogLinks
from pipelines.runs.logs import LOG_KINDS, MAX_ANSWER_BYTES, StepLogs
from pipelines.runs.model import TASK_STATUS_NAMES, AttemptRecord, ReusedFrom, Run, RunStatus, Step
from pipelines.runs.request import SubmitRequest, read_submit, refuse
from pipelines.runs.rerun import read_rerun, rerun
from pipelines.runs.service import RunService, Target, idempotency_key_of, request_fingerprint
from pipelines.store import get_account

log = logging.getLogger("pipelines.api")


def service() -> RunService:
    return RunService(get_account())


def display(value: Any) -> str:
    """A parameter value as the old service showed it: Python's text of the value."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def dataset_assignment(value: dict[str, Any]) -> dict[str, Any]:
    """What the run resolved, in the request's own shape (docs/contract.md §2)."""
    if value.get("kind") == "dataset":
        reference = {"Id": value.get("id"), "Name": value.get("name"), "Version": str(value.get("version"))}
        return {"DataSetReference": reference}
    return {"LiteralValue": datapath_assignment(value)}


def datapath_assignment(value: dict[str, Any]) -> dict[str, Any]:
    return {"DataStoreName": value.get("datastore"), "RelativePath": value.get("path")}


def run_entity(run: Run) -> PipelineRunEntity:
    return PipelineRunEntity(
        id=run.id,
        description=run.description,
        status=RunStatusEntity(
            status_code=int(run.status),
            status_detail=run.detail,
            creation_time=wire_time(run.created),
            end_time=wire_time(run.ended),
        ),
        graph_id=run.graph_id,
        is_submitted=True,
        has_errors=run.has_errors or run.status is RunStatus.FAILED,
        has_warnings=run.has_warnings,
        parameter_assignments={k: display(v) for k, v in run.parameters.items()},
        data_set_definition_value_assignments={k: dataset_assignment(v) for k, v in run.data_assignments.items()},
        run_history_experiment_name=run.experiment_name,
        pipeline_id=run.pipeline_id,
        run_source=run.run_source,
        run_type=run.run_type,
        total_run_steps=run.total_steps,
        schedule_id=run.schedule_id,
        tags=run.tags,
        properties=run.properties,
        entity_status=0,
        etag=run.etag,
        created_date=wire_time(run.created),
        last_modified_date=wire_time(run.modified or run.created),
        pipeline_endpoint_id=run.endpoint_id,
        pipeline_version=run.pipeline_version,
        data_path_assignments={k: datapath_assignment(v) for k, v in run.datapath_assignments.items()},
        parent_run_id=run.parent_run_id,
        start_time=wire_time(run.started),
        rerun_of=run.rerun_of,
        reused_step_count=len(run.reused),
    )


# -- submit -------------------------------------------------------------------------------------
def _submit(ctx: RequestContext, resolve_target: Any) -> Reply:
    """Every submit route: the run as written; the keys the body held that nothing read
    (accepted, as Azure ML accepted them) are named in `x-ms-ignored-keys`."""
    body = ctx.json(empty={})
    parsed = read_submit(body, parent_run_id=ctx.query("parentRunId"), collect=True)
    request = parsed.request
    runs = service()
    if parsed.problems:
        raise refuse([*parsed.problems, *_assignment_problems(runs, ctx, resolve_target, request, parsed.problems)])
    # The one key a submit reads beside its request (read_submit names it ignored, as a
    # schedule's or trigger's Request does, where it means nothing).
    sent = [key for key in parsed.ignored_keys if key.lower() == devops_body.BODY_KEY.lower()]
    devops = devops_body.read_callback(body[sent[0]], allow_local_http=runs.settings.webhooks_allow_local_http) if (
        sent) else None
    ignored = [key for key in parsed.ignored_keys if key not in sent] if devops is not None else parsed.ignored_keys
    target: Target = resolve_target(runs)
    run = runs.submit(
        ctx.workspace,
        target,
        request,
        principal=ctx.principal,
        parent_run_id=request.parent_run_id,
        idempotency_key=idempotency_key_of(ctx.request.headers),
        fingerprint=request_fingerprint(
            ctx.route.name, target.pipeline.id + "|" + (target.version or ""), ctx.request.get_body() or b""
        ),
        devops=devops,
    )
    if sent and devops is None and body[sent[0]] is not None:
        log.warning("run %s: %s cannot be used (a key missing or empty, or a plan URL that is not https or in a"
                    " reserved domain): no Azure DevOps job will be told of its end", run.id, devops_body.BODY_KEY)
    return Reply(run_entity(run), headers=ignored_keys_header(ignored))


def _assignment_problems(
    runs: RunService, ctx: RequestContext, resolve_target: Any, request: SubmitRequest, found: Sequence[ErrorDetail],
) -> list[ErrorDetail]:
    """For a body refused for its other keys: what is wrong with its assignments too, that only
    the pipeline tells (none when the pipeline itself is not to be had: the body's 400 stands)."""
    try:
        target: Target = resolve_target(runs)
    except PipelinesError:
        return []
    named = {problem.target for problem in found}
    return [problem for problem in runs.assignment_problems(ctx.workspace, target, request)
            if problem.target not in named]


@route("submit_pipeline")
def submit_pipeline(ctx: RequestContext) -> Reply:
    return _submit(ctx, lambda runs: runs.pipeline_target(ctx.workspace, ctx.param("pipelineId")))


def _version(ctx: RequestContext) -> str | None:
    in_path = ctx.optional_param("version")
    in_query = ctx.query("pipelineVersion")
    if in_path is not None and in_query not in (None, "") and in_path != in_query:
        raise BadRequestError(
            f"the version in the path ({in_path!r}) and pipelineVersion ({in_query!r}) disagree",
            target="pipelineVersion",
        )
    return in_path if in_path is not None else (in_query or None)


@route("submit_endpoint")
def submit_endpoint(ctx: RequestContext) -> Reply:
    return _submit(
        ctx,
        lambda runs: runs.endpoint_target(
            ctx.workspace, endpoint_id=ctx.param("endpointId"), name=None, version=_version(ctx)
        ),
    )


@route("submit_endpoint_by_name")
def submit_endpoint_by_name(ctx: RequestContext) -> Reply:
    name = ctx.query("name")
    if not name:
        raise BadRequestError("the endpoint name is required: ?name=", target="name")
    return _submit(
        ctx, lambda runs: runs.endpoint_target(ctx.workspace, endpoint_id=None, name=name, version=_version(ctx))
    )


# -- read -----------------------------------------------------------------------------------------
@route("get_run")
def get_run(ctx: RequestContext) -> PipelineRunEntity:
    return run_entity(service().get(ctx.workspace, ctx.param("runId")))


@route("list_pipeline_runs")
def list_pipeline_runs(ctx: RequestContext) -> Reply:
    size, token = page_request(ctx)
    runs, next_token = service().list_for_pipeline(
        ctx.workspace, ctx.param("pipelineId"), page_size=size, continuation=token
    )
    return paged([run_entity(r) for r in runs], next_token)


def task_status(run: Run, step: Step) -> TaskStatusEntity:
    return TaskStatusEntity(
        status_code=int(step.status),
        status_detail=step.detail,
        creation_time=wire_time(step.created),
        schedule_time=wire_time(step.scheduled),
        start_time=wire_time(step.started),
        end_time=wire_time(step.ended),
        run_id=step_run_id(run.id, step.node_id),
        reuse_info=reuse_info(run, step.reused_from),
        name=step.name,
        attempt=step.attempt,
        exit_code=step.exit_code,
        metrics=step.metrics,
        status=step_status_word(step, run),
        parents=list(step.parents),
        attempts=[attempt_entity(a) for a in step.attempts],
    )


def reuse_info(run: Run, source: ReusedFrom | None) -> TaskReuseInfoEntity | None:
    if source is None:
        return None
    return TaskReuseInfoEntity(
        experiment_id=experiment_id(run.workspace, source.experiment) if source.experiment else None,
        node_id=source.node_id,
        run_id=step_run_id(source.run_id, source.node_id),
        node_start_time=wire_time(source.started),
        node_end_time=wire_time(source.ended),
        pipeline_run_id=source.run_id,
    )


def attempt_entity(record: AttemptRecord) -> AttemptEntity:
    return AttemptEntity(
        attempt=record.number,
        worker=record.worker,
        start_time=wire_time(record.started),
        end_time=wire_time(record.ended),
        outcome=record.outcome,
        reason=record.reason,
        exit_code=record.exit_code,
        script_exit_time=wire_time(record.script_exited),
        detail=record.detail,
    )


@route("get_step_statuses")
def get_step_statuses(ctx: RequestContext) -> StepStatuses:
    state = service().state(ctx.workspace, ctx.param("runId"))
    return StepStatuses({step.node_id: task_status(state.run, step) for step in state.steps.values()})


def step_of(ctx: RequestContext) -> tuple[RunState, Step]:
    """The run and the step a node-id-path request names (404 for either unknown)."""
    state = service().state(ctx.workspace, ctx.param("runId"))
    node_id = _node_id(ctx)
    step = state.steps.get(node_id)
    if step is None:
        raise NotFoundError(f"run {state.run.id!r} has no step {node_id!r}", target="nodeId")
    return state, step


@route("get_step_status")
def get_step_status(ctx: RequestContext) -> TaskStatusEntity:
    state, step = step_of(ctx)
    return task_status(state.run, step)


@route("get_step_status_code")
def get_step_status_code(ctx: RequestContext) -> StepStatusWord:
    """The step's status as the JSON string SDK v1's `StepRun.get_status()` reads ("Finished")."""
    _, step = step_of(ctx)
    # Validated rather than constructed: TASK_STATUS_NAMES is typed `str`, the model a Literal of its words.
    return StepStatusWord.model_validate(TASK_STATUS_NAMES[step.status])


def _node_id(ctx: RequestContext) -> str:
    """The node id path: a JSON list of strings in a POST body, or `?nodeId=` (our choice)."""
    from_query = ctx.query("nodeId")
    if from_query:
        return from_query
    body = ctx.json(empty=[])
    if isinstance(body, str):
        body = [body]
    if not isinstance(body, list) or not body or not all(isinstance(p, str) for p in body):
        raise BadRequestError('the body must be the node id path, e.g. ["<nodeId>"], or pass ?nodeId=', target="nodeId")
    return str(body[-1])


def _log_link(ctx: RequestContext) -> str | None:
    """Why the request's signed link does not open this log (None: it does); `details` gives
    such links to SDK v1, which reads `logFiles` without a token (pipelines/runs/loglinks.py)."""
    return LogLinks(get_account()).verify(
        {name: ctx.query(name) or "" for name in SIGNED}, ctx.workspace, ctx.param("runId"),
        ctx.query("nodeId") or "", ctx.param("logType"))


@route("get_step_log", link=_log_link)
def get_step_log(ctx: RequestContext) -> func.HttpResponse:
    kind = ctx.param("logType")
    canonical = {k.lower(): k for k in LOG_KINDS}.get(kind.lower())
    if canonical is None:
        raise NotFoundError(f"no log called {kind!r}: STDOUT, STDERR or JobLog", target="logType")
    state, step = step_of(ctx)
    attempt = attempt_of(ctx, step)
    headers = {"Content-Type": "text/plain; charset=utf-8", "Accept-Ranges": "bytes", "x-ms-request-id": ctx.request_id}
    logs, kept = StepLogs(get_account()), step.inline_logs.get(str(attempt))
    where = (state.run.workspace, state.run.id, step.node_id, attempt, canonical)
    if (ctx.header("Range") or "").strip():
        # A part of the log as written, in bytes: the start of a log longer than an answer without
        # Range holds, or what a reader that follows the log has not read yet.
        rendered = joblog.render(step, attempt, _spec_of(state, step)).encode() if canonical == "JobLog" else None
        size = len(rendered) if rendered is not None else logs.size(*where, kept=kept)
        # (a header was sent: byte_range answers a range or raises the 416)
        first, last = cast(tuple[int, int], byte_range(ctx.header("Range"), size, most=MAX_ANSWER_BYTES))
        body = (rendered[first:last + 1] if rendered is not None
                else logs.read_bytes(*where, offset=first, length=last - first + 1, kept=kept))
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return func.HttpResponse(body, status_code=206, headers=headers)
    if canonical == "JobLog":
        text = joblog.render(step, attempt, _spec_of(state, step))
    else:
        text = logs.read(*where, kept=kept)
    return json_response(text, 200, headers)


def _spec_of(state: RunState, step: Step) -> StepSpec | None:
    """The step as published (what it runs); None when its definition cannot be had (the job
    log then says "its script"); storage that is away is still a 503."""
    try:
        graph = PublishedPipelines(get_account()).graph(state.run.workspace, state.run.graph_id)
    except ServiceUnavailableError:
        raise
    except PipelinesError:
        return None
    return graph.find_step(step.node_id)


def attempt_of(ctx: RequestContext, step: Step) -> int:
    """`?attempt=N` (1 to the step's current attempt): that attempt's log; else the latest."""
    sent = ctx.query("attempt")
    if sent is None:
        return step.attempt
    if not sent.isascii() or not sent.isdigit() or not 1 <= int(sent) <= step.attempt:
        raise BadRequestError(
            f"attempt must be a number from 1 to {step.attempt} (the step's attempts so far)", target="attempt"
        )
    return int(sent)


# -- rerun ------------------------------------------------------------------------------------------
@route("rerun_run")
def rerun_run(ctx: RequestContext) -> Reply:
    """A new run of the run's published version with its parameters and data (some parameters
    changed, if the body says so): its finished steps are taken, the rest run."""
    changes, ignored = read_rerun(ctx.json(empty={}))
    run_id = ctx.param("runId")
    run = rerun(
        service(), ctx.workspace, run_id, changes, principal=ctx.principal,
        idempotency_key=idempotency_key_of(ctx.request.headers),
        fingerprint=request_fingerprint(ctx.route.name, run_id, ctx.request.get_body() or b""),
    )
    return Reply(run_entity(run), headers=ignored_keys_header(ignored))


# -- cancel -----------------------------------------------------------------------------------------
@route("cancel_run")
def cancel_run(ctx: RequestContext) -> PipelineRunEntity:
    return run_entity(service().cancel(ctx.workspace, ctx.param("runId")))


@route("cancel_run_execution")
def cancel_run_execution(ctx: RequestContext) -> PipelineRunEntity:
    return run_entity(service().cancel(ctx.workspace, ctx.param("runId")))
