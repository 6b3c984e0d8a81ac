"""Rerun: a new run of the same published version, with the same parameters and data.

`POST .../PipelineRuns/{runId}/Rerun`, body optional `{"ParameterAssignments": {...}}`:
the new run is submitted as the first was (experiment, description, tags, properties,
the data it resolved, by dataset id and path), its parameters changed by the body. Its
steps that finished in the first run are created Finished with the same outputs when
their reuse key is unchanged (`pipelines.runs.reuse.plan`); the failed, canceled and
never-started ones run, and so does every step whose key a changed parameter or changed
data moved. The new run records which run it reran (`RerunOf`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.auth.permissions import Principal
from pipelines.errors import BadRequestError, ErrorDetail
from pipelines.runs.body_keys import sort_keys
from pipelines.runs.data import as_assignments
from pipelines.runs.model import Run
from pipelines.runs.request import SubmitRequest, refuse
from pipelines.runs.service import RunService, Target

RERUN_KEYS = ("ParameterAssignments",)


def read_rerun(body: Any) -> tuple[dict[str, Any], list[str]]:
    """The parameter changes of a rerun body, and the top-level keys it ignored. A body that
    is not an object, a near miss of `ParameterAssignments`, or a value that is not a
    string, a number or a boolean is a 400 naming the key."""
    if not isinstance(body, Mapping):
        raise BadRequestError("the request body must be a JSON object")
    values, ignored, problems = sort_keys(body, RERUN_KEYS)
    changes = values.get("ParameterAssignments")
    if changes is None:
        changes = {}
    elif not isinstance(changes, Mapping):
        problems.append(ErrorDetail("UserError", "ParameterAssignments must be a JSON object", "ParameterAssignments"))
        changes = {}
    for name, value in changes.items():
        if value is None or not isinstance(value, (str, int, float, bool)):
            problems.append(ErrorDetail("InvalidParameter", f"{name!r}: a value is a string, a number or a boolean",
                                        f"ParameterAssignments.{name}"))
    if problems:
        raise refuse(problems)
    return dict(changes), ignored


def rerun(
    runs: RunService,
    workspace: str,
    run_id: str,
    changes: Mapping[str, Any],
    *,
    principal: Principal | None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> Run:
    """Submit the rerun of `run_id` (404 unknown; 409 when its pipeline or endpoint is disabled;
    400 naming an unknown or uncoercible parameter, as a submit)."""
    earlier = runs.state(workspace, run_id)
    first = earlier.run
    pipeline = runs.pipelines.get(workspace, first.pipeline_id)
    pipeline.ensure_runnable()
    target = Target(pipeline, first.endpoint_id, first.pipeline_version)
    if first.endpoint_id:
        endpoint = runs.endpoints.get(workspace, first.endpoint_id)
        endpoint.ensure_runnable()
        target = Target(pipeline, endpoint.id, first.pipeline_version, endpoint.webhooks)
    datapaths, datasets = as_assignments(first)
    request = SubmitRequest(
        experiment_name=first.experiment_name,
        description=first.description,
        run_source=first.run_source,
        run_type=first.run_type,
        parameter_assignments={**first.parameters, **changes},
        datapath_assignments=datapaths,
        dataset_assignments=datasets,
        tags=dict(first.tags),
        properties=dict(first.properties),
        continue_on_step_failure=first.continue_on_step_failure,
        allow_step_reruns=first.allow_step_reruns,
        regenerate_outputs=first.regenerate_outputs,
        display_name=first.display_name,
    )
    return runs.submit(
        workspace, target, request, principal=principal,
        parent_run_id=first.parent_run_id, idempotency_key=idempotency_key, fingerprint=fingerprint,
        rerun_of=earlier,
    )
