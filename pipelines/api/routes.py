"""Every HTTP route of the app and the permission it needs: the whole matrix in one place.

Blueprints register their handlers by name through `pipelines.api.http.route`,
which reads method, template and permission from here; a route that is not in
this table cannot be registered, and a test walks every registered HTTP
function to prove it refuses a request without a token.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.auth.permissions import Permission

# The workspace path of the old service (docs/contract.md §1).
WS = (
    "pipelines/v1.0/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}"
)

R = Permission.READ
S = Permission.SUBMIT
P = Permission.PUBLISH
A = Permission.ANONYMOUS


@dataclass(frozen=True)
class Route:
    name: str
    methods: tuple[str, ...]
    template: str
    permission: Permission


_TABLE: tuple[Route, ...] = (
    Route("health", ("GET",), "health", A),
    # -- published pipelines --------------------------------------------------
    Route("upload_snapshot", ("PUT",), WS + "/Snapshots/{snapshotHash}", P),
    Route("publish_pipeline", ("POST",), WS + "/Pipelines/Publish", P),
    Route("get_pipeline", ("GET",), WS + "/Pipelines/{pipelineId}", R),
    Route("list_pipelines", ("GET",), WS + "/Pipelines", R),
    Route("set_pipeline_status", ("PUT",), WS + "/Pipelines/{pipelineId}/status", P),
    # -- pipeline endpoints ---------------------------------------------------
    Route("create_endpoint", ("POST",), WS + "/PipelineEndpoints/Create", P),
    Route("get_endpoint", ("GET",), WS + "/PipelineEndpoints/Id/{endpointId}", R),
    Route("get_endpoint_by_name", ("GET",), WS + "/PipelineEndpoints/Name", R),
    Route("list_endpoints", ("GET",), WS + "/PipelineEndpoints", R),
    Route("update_endpoint", ("PUT",), WS + "/PipelineEndpoints/{endpointId}", P),
    Route("list_endpoint_pipelines", ("GET",), WS + "/PipelineEndpoints/{endpointId}/pipelines", R),
    # -- runs -----------------------------------------------------------------
    Route("submit_pipeline", ("POST",), WS + "/PipelineRuns/PipelineSubmit/{pipelineId}", S),
    Route(
        "submit_endpoint",
        ("POST",),
        WS + "/PipelineRuns/PipelineEndpointSubmit/Id/{endpointId}/{version?}",
        S,
    ),
    Route("submit_endpoint_by_name", ("POST",), WS + "/PipelineRuns/PipelineEndpointSubmit/Name", S),
    Route("get_run", ("GET",), WS + "/PipelineRuns/{runId}", R),
    Route("list_pipeline_runs", ("GET",), WS + "/PipelineRuns/Pipeline/{pipelineId}", R),
    Route("cancel_run", ("POST",), WS + "/PipelineRuns/{runId}/Cancel", S),
    Route("cancel_run_execution", ("DELETE",), WS + "/PipelineRuns/{runId}/Execution", S),
    Route("get_step_statuses", ("POST", "GET"), WS + "/PipelineRuns/{runId}/Graph/AllNodes/Status", R),
    Route("get_step_log", ("POST", "GET"), WS + "/PipelineRuns/{runId}/Graph/Shareable/{logType}", R),
    # -- datastores and datasets (issue 6) --------------------------------------
    Route("list_datastores", ("GET",), WS + "/Datastores", R),
    Route("create_datastore", ("POST",), WS + "/Datastores", P),
    Route("get_datastore", ("GET",), WS + "/Datastores/{datastoreName}", R),
    Route("register_datastore", ("PUT",), WS + "/Datastores/{datastoreName}", P),
    Route("remove_datastore", ("DELETE",), WS + "/Datastores/{datastoreName}", P),
    Route("upload_datastore_file", ("PUT",), WS + "/Datastores/{datastoreName}/files/{*path}", P),
    Route("list_datasets", ("GET",), WS + "/Datasets", R),
    Route("register_dataset", ("POST",), WS + "/Datasets", P),
    Route("get_dataset_by_name", ("GET",), WS + "/Datasets/Name", R),
    Route("get_dataset", ("GET",), WS + "/Datasets/{datasetId}", R),
    # -- event triggers -----------------------------------------------------------------
    Route("put_trigger", ("PUT",), WS + "/EventTriggers/{triggerName}", P),
    Route("get_trigger", ("GET",), WS + "/EventTriggers/{triggerName}", R),
    Route("list_triggers", ("GET",), WS + "/EventTriggers", R),
    Route("delete_trigger", ("DELETE",), WS + "/EventTriggers/{triggerName}", P),
    # -- schedules ----------------------------------------------------------------------
    Route("put_schedule", ("PUT",), WS + "/Schedules/{scheduleName}", P),
    Route("get_schedule", ("GET",), WS + "/Schedules/{scheduleName}", R),
    Route("list_schedules", ("GET",), WS + "/Schedules", R),
    Route("delete_schedule", ("DELETE",), WS + "/Schedules/{scheduleName}", P),
)

ROUTES: dict[str, Route] = {route.name: route for route in _TABLE}
