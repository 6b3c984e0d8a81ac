"""Step outputs back out: what a step wrote, listed and downloaded with the caller's token.

- `POST .../PipelineRuns/{runId}/Outputs`, body the node id path (`["<nodeId>"]`):
  `{outputName: NodeOutput}` as SDK v1's `StepRun.get_outputs()` reads it; the
  `Uri` in its `AzureBlobReference` is this service's listing of the output.
- `GET .../PipelineRuns/{runId}/Steps/{nodeId}/Outputs/{outputName}`: the
  output's files (path, size, download URL), paged.
- `GET .../files/{path}` under it: the bytes, with `Range` (206). An answer holds
  at most 32 MiB: a larger file is read in ranges (the client, the CLI and the
  Java and C# callers do), so it never sits whole in the app's memory. A GET
  without `Range` of a file over that size is a 400 that says so, never a
  truncated 200.
"""

from __future__ import annotations

from urllib.parse import quote

import azure.functions as func

from pipelines.api.answers import (
    AzureBlobReference,
    DataLocation,
    DataReference,
    NodeOutput,
    NodeOutputs,
    OutputFileEntity,
    OutputFiles,
)
from pipelines.api.http import RequestContext, byte_range, route
from pipelines.api.runs import step_of
from pipelines.authoring.paths import UnsafePathError, safe_relative_path
from pipelines.catalogue import PublishedPipelines
from pipelines.errors import BadRequestError, NotFoundError
from pipelines.runs.engine import RunState
from pipelines.runs.history import step_run_id
from pipelines.runs.logs import output_prefix
from pipelines.runs.model import OutputSummary, Step, TaskStatus
from pipelines.runs.outputs import MAX_FILES_PAGE, MAX_PART, InlineOutput, OutputFile, StepOutputs, output_source
from pipelines.runs.repository import RunRepository
from pipelines.store import get_account
from pipelines.text import whole_number

# Where step outputs are said to live (NodeOutput.AmlDataStoreName): Azure ML's name
# for the store of run artifacts. Here it is the app's `runs` container.
OUTPUT_STORE = "workspaceartifactstore"


def _output_url(ctx: RequestContext, run_id: str, node_id: str, output: str) -> str:
    return f"{ctx.workspace_url}/PipelineRuns/{quote(run_id)}/Steps/{quote(node_id)}/Outputs/{quote(output)}"


def _declared_outputs(state: RunState, step: Step) -> list[str]:
    definition = PublishedPipelines(get_account()).graph(state.run.workspace, state.run.graph_id)
    spec = definition.find_step(step.node_id)
    return [o.name for o in spec.outputs] if spec else list(step.outputs)


@route("get_step_outputs")
def get_step_outputs(ctx: RequestContext) -> NodeOutputs:
    """The outputs the step has written (none before it finished)."""
    state, step = step_of(ctx)
    if step.status is not TaskStatus.FINISHED:
        return NodeOutputs({})
    container = get_account().settings.container_name("runs")
    return NodeOutputs({
        name: _node_output(
            _output_url(ctx, state.run.id, step.node_id, name),
            container,
            output_prefix(state.run.workspace, *output_source(state.run, step.node_id), name).rstrip("/"),
            step.output_summaries.get(name),
        )
        for name in step.outputs
    })


def _node_output(url: str, container: str, path: str, summary: OutputSummary | None) -> NodeOutput:
    """One output as SDK v1 reads it: both `Uri` keys are this service's listing of it."""
    return NodeOutput(
        data_type_id="AnyDirectory",
        logical_size_in_bytes=summary.bytes if summary else None,
        physical_size_in_bytes=summary.bytes if summary else None,
        hash=summary.sha256 if summary else None,
        file_count=summary.files if summary else None,
        data_location=DataLocation(
            storage_type="AzureBlob",
            storage_id=None,
            uri=url,
            data_reference=DataReference(
                type="AzureBlob",
                azure_blob_reference=AzureBlobReference(
                    aml_data_store_name=OUTPUT_STORE,
                    container=container,
                    relative_path=path,
                    uri=url,
                    account=None,
                    sas_token=None,
                ),
            ),
        ),
    )


def _inline(step: Step, output: str) -> InlineOutput | None:
    """The output's files when they are kept on the step's row (a reused step's row has a copy of
    its source's), with the time its source step ended; None: they are in Blob storage."""
    files = step.inline_outputs.get(output)
    if files is None:
        return None
    return InlineOutput(output, files, step.reused_from.ended if step.reused_from else step.ended)


def _output_of(ctx: RequestContext) -> tuple[RunState, Step, str]:
    """The run, step and output a path names: 404 naming whichever is unknown."""
    state = RunRepository(get_account()).load(ctx.workspace, ctx.param("runId"))
    node_id = ctx.param("nodeId")
    step = state.steps.get(node_id)
    if step is None:
        raise NotFoundError(f"run {state.run.id!r} has no step {node_id!r}", target="nodeId")
    output = ctx.param("outputName")
    if output not in _declared_outputs(state, step):
        raise NotFoundError(f"step {step.name!r} has no output {output!r}", target="outputName")
    if output not in step.outputs:
        raise NotFoundError(
            f"output {output!r} of step {step.name!r} is not written yet (the step is {step.status.name.lower()})",
            target="outputName",
        )
    return state, step, output


@route("list_run_output_files")
def list_run_output_files(ctx: RequestContext) -> OutputFiles:
    state, step, output = _output_of(ctx)
    raw_top = ctx.query("top")
    top = whole_number(raw_top) if raw_top else MAX_FILES_PAGE
    if top is None or not 1 <= top <= MAX_FILES_PAGE:
        raise BadRequestError(f"top must be a whole number from 1 to {MAX_FILES_PAGE}", target="top")
    files, marker = StepOutputs(get_account()).files(
        state.run.workspace, *output_source(state.run, step.node_id), output, page_size=top,
        marker=ctx.query("continuationToken"), inline=_inline(step, output),
    )
    base = _output_url(ctx, state.run.id, step.node_id, output)
    summary = step.output_summaries.get(output)
    return OutputFiles(
        name=output,
        run_id=state.run.id,
        step_run_id=step_run_id(state.run.id, step.node_id),
        node_id=step.node_id,
        step_name=step.name,
        file_count=summary.files if summary else None,
        total_size_in_bytes=summary.bytes if summary else None,
        hash=summary.sha256 if summary else None,
        files=[_file_entry(base, f) for f in files],
        continuation_token=marker,
    )


def _file_entry(base: str, file: OutputFile) -> OutputFileEntity:
    return OutputFileEntity(
        path=file.path,
        size=file.size,
        last_modified=file.last_modified.isoformat() if file.last_modified else None,
        url=f"{base}/files/{quote(file.path)}",
    )


@route("run_output_file")
def run_output_file(ctx: RequestContext) -> func.HttpResponse:
    state, step, output = _output_of(ctx)
    try:
        path = safe_relative_path(ctx.param("path"))
    except UnsafePathError as exc:
        raise BadRequestError(f"the file path {exc}", target="path") from None
    outputs = StepOutputs(get_account())
    run = state.run
    source = output_source(run, step.node_id)  # a reused step's outputs are where their run wrote them
    inline = _inline(step, output)
    file = outputs.stat(run.workspace, *source, output, path, inline)
    headers = {
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "ETag": file.etag or "",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}",
        "x-ms-request-id": ctx.request_id,
    }
    wanted = byte_range(ctx.header("Range"), file.size, most=MAX_PART)
    if wanted is None:
        if file.size > MAX_PART:
            raise BadRequestError(
                f"{path!r} has {file.size} bytes: ask for it in parts with a Range header"
                f" (bytes=first-last, at most {MAX_PART} bytes each)",
                target="Range",
            )
        body = outputs.read(run.workspace, *source, output, path, 0, file.size, inline)
        return func.HttpResponse(body, status_code=200, headers=headers)
    first, last = wanted
    body = outputs.read(run.workspace, *source, output, path, first, last - first + 1, inline)
    headers["Content-Range"] = f"bytes {first}-{last}/{file.size}"
    return func.HttpResponse(body, status_code=206, headers=headers)
