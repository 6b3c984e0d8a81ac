"""Every HTTP route of the app and the permission it needs: the whole matrix in one place.

`pipelines.api.functions` registers one HTTP function per route, with the
method, template and permission written here; the handler that answers it is the
function of the route's name in the module of its section, declared there with
`pipelines.api.http.route` and imported on the route's first request. A route
that is not in this table cannot be registered, and a test walks every
registered HTTP function to prove it refuses a request without a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from pipelines.auth.permissions import Permission

# The workspace path of the old service (docs/contract.md §1), and the same scope
# in the run-history family (§6) and the artifact family SDK v1 lists logs from.
SCOPE = (
    "subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}"
)
WS = "pipelines/v1.0/" + SCOPE
HS = "history/v1.0/" + SCOPE
AS = "artifact/v2.0/" + SCOPE
DS = "datastore/v1.0/" + SCOPE

ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")  # what Azure Functions routes

R = Permission.READ
S = Permission.SUBMIT
P = Permission.PUBLISH
AD = Permission.ADMIN
A = Permission.ANONYMOUS


@dataclass(frozen=True)
class Route:
    name: str
    methods: tuple[str, ...]
    template: str
    permission: Permission
    # It creates runs: their first steps' messages go out through a queue output binding,
    # which wakes the host's poller of the steps queue (pipelines/api/functions.py).
    starts_runs: bool = False
    # A route of its own (False: one of the "fallback" section, which the OpenAPI document leaves out).
    documented: bool = True
    # A second role the caller needs too: writing a schedule or an event trigger sets up runs
    # that start later in no caller's name, so it takes the role that starts runs besides Publish.
    also: Permission | None = None

    @property
    def needs(self) -> tuple[Permission, ...]:
        """Every role the caller needs (each one granted by a role it holds, `GRANTS`)."""
        return (self.permission,) if self.also is None else (self.permission, self.also)


# Sections by the module that answers them (`HANDLER_MODULES`): the function of the route's name
# in `pipelines.api.<section>`, imported on the route's first request (`pipelines.api.functions`).
_SECTIONS: dict[str, tuple[Route, ...]] = {
    "health": (
        Route("health", ("GET",), "health", A),
    ),
    "catalogue": (
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
        Route("get_endpoint_swagger", ("GET",), WS + "/PipelineEndpoints/{endpointId}/swagger.json", R),
    ),
    "runs": (
        Route("submit_pipeline", ("POST",), WS + "/PipelineRuns/PipelineSubmit/{pipelineId}", S, starts_runs=True),
        Route(
            "submit_endpoint",
            ("POST",),
            WS + "/PipelineRuns/PipelineEndpointSubmit/Id/{endpointId}/{version?}",
            S,
            starts_runs=True,
        ),
        Route(
            "submit_endpoint_by_name", ("POST",), WS + "/PipelineRuns/PipelineEndpointSubmit/Name", S, starts_runs=True
        ),
        Route("get_run", ("GET",), WS + "/PipelineRuns/{runId}", R),
        Route("list_pipeline_runs", ("GET",), WS + "/PipelineRuns/Pipeline/{pipelineId}", R),
        Route("rerun_run", ("POST",), WS + "/PipelineRuns/{runId}/Rerun", S, starts_runs=True),
        Route("cancel_run", ("POST",), WS + "/PipelineRuns/{runId}/Cancel", S),
        Route("cancel_run_execution", ("DELETE",), WS + "/PipelineRuns/{runId}/Execution", S),
        Route("get_step_statuses", ("POST", "GET"), WS + "/PipelineRuns/{runId}/Graph/AllNodes/Status", R),
        Route("get_step_log", ("POST", "GET"), WS + "/PipelineRuns/{runId}/Graph/Shareable/{logType}", R),
        Route("get_step_status", ("POST", "GET"), WS + "/PipelineRuns/{runId}/Graph/Node/Status", R),
        Route("get_step_status_code", ("POST", "GET"), WS + "/PipelineRuns/{runId}/Graph/Node/StatusCode", R),
    ),
    "outputs": (
        # -- step outputs back out --------------------------------------------------------------
        Route("get_step_outputs", ("POST", "GET"), WS + "/PipelineRuns/{runId}/Outputs", R),
        Route("list_run_output_files", ("GET",), WS + "/PipelineRuns/{runId}/Steps/{nodeId}/Outputs/{outputName}", R),
        Route(
            "run_output_file", ("GET",), WS + "/PipelineRuns/{runId}/Steps/{nodeId}/Outputs/{outputName}/files/{*path}",
            R,
        ),
    ),
    "history": (
        # -- run history (docs/contract.md §6), as SDK v1's generated client calls it ------------
        Route("history_get_run", ("GET",), HS + "/experiments/{experimentName}/runs/{runId}", R),
        Route("history_get_workspace_run", ("GET",), HS + "/runs/{runId}", R),
        Route("history_get_run_by_experiment_id", ("GET",), HS + "/experimentids/{experimentId}/runs/{runId}", R),
        Route("history_get_run_details", ("GET",), HS + "/experiments/{experimentName}/runs/{runId}/details", R),
        Route("history_get_workspace_run_details", ("GET",), HS + "/runs/{runId}/details", R),
        Route("history_get_children", ("GET",), HS + "/experiments/{experimentName}/runs/{runId}/children", R),
        Route("history_query_runs", ("POST",), HS + "/experiments/{experimentName}/runs:query", R),
        Route(
            "history_metrics_wait", ("GET",), HS + "/experiments/{experimentName}/runs/{runId}/metricsingest/wait", R
        ),
        Route("history_list_experiments", ("GET",), HS + "/experiments", R),
        Route("history_query_experiments", ("POST",), HS + "/experiments:query", R),
        Route("history_get_experiment", ("GET",), HS + "/experiments/{experimentName}", R),
        Route("history_create_experiment", ("POST",), HS + "/experiments/{experimentName}", S),
        Route("history_get_experiment_by_id", ("GET",), HS + "/experimentids/{experimentId}", R),
        Route("history_list_run_artifacts", ("GET",), AS + "/artifacts/prefix/contentinfo/ExperimentRun/{containerId}/{*path}", R),  # noqa: E501
        Route("history_list_all_run_artifacts", ("GET",), AS + "/artifacts/ExperimentRun/{containerId}", R),
    ),
    "data": (
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
    ),
    "triggers": (
        Route("put_trigger", ("PUT",), WS + "/EventTriggers/{triggerName}", P, also=S),
        Route("get_trigger", ("GET",), WS + "/EventTriggers/{triggerName}", R),
        Route("list_triggers", ("GET",), WS + "/EventTriggers", R),
        Route("delete_trigger", ("DELETE",), WS + "/EventTriggers/{triggerName}", P),
    ),
    "schedules": (
        Route("put_schedule", ("PUT",), WS + "/Schedules/{scheduleName}", P, also=S),
        Route("get_schedule", ("GET",), WS + "/Schedules/{scheduleName}", R),
        Route("list_schedules", ("GET",), WS + "/Schedules", R),
        Route("delete_schedule", ("DELETE",), WS + "/Schedules/{scheduleName}", P),
        # -- SDK v1's `Schedule` calls, besides the four above (a schedule's id is its name) ---------
        Route("create_schedule", ("POST",), WS + "/Schedules/Create", P, also=S),
        Route("list_pipeline_schedules", ("GET",), WS + "/Schedules/Pipeline/{pipelineId}", R),
        Route("list_endpoint_schedules", ("GET",), WS + "/Schedules/PipelineEndpoint/{endpointId}", R),
        Route("list_schedule_runs", ("GET",), WS + "/PipelineRuns/Schedule/{scheduleName}", R),
        Route("get_last_schedule_run", ("GET",), WS + "/PipelineRuns/Schedule/{scheduleName}/Last", R),
    ),
    "targets": (
        # -- compute targets: where steps run, and their queues (issue 16) ---------------------------
        Route("list_compute_targets", ("GET",), WS + "/ComputeTargets", R),
        Route("get_compute_target", ("GET",), WS + "/ComputeTargets/{targetName}", R),
        Route("put_compute_target", ("PUT",), WS + "/ComputeTargets/{targetName}", AD),
        Route("delete_compute_target", ("DELETE",), WS + "/ComputeTargets/{targetName}", AD),
    ),
    "events": (
        # -- a run's events and where they were delivered (docs/contract.md §7) ----------------
        Route("get_run_events", ("GET",), WS + "/PipelineRuns/{runId}/Events", R),
    ),
    "run_labels": (
        # -- what a caller changes on a run (tags, added properties, names) and on an experiment ---------
        Route("history_patch_run", ("PATCH",), HS + "/experiments/{experimentName}/runs/{runId}", S),
        Route("history_patch_run_by_experiment_id", ("PATCH",), HS + "/experimentids/{experimentId}/runs/{runId}", S),
        Route("history_delete_run_tags", ("DELETE",), HS + "/experiments/{experimentName}/runs/{runId}/tags", S),
        Route("history_update_experiment", ("PATCH",), HS + "/experimentids/{experimentId}", S),
        Route("history_delete_experiment_tags", ("POST",), HS + "/experimentids/{experimentId}/tags:delete", S),
    ),
    "aml": (
        # -- what SDK v1's own clients read to make their objects (pipelines/api/aml.py) -------------
        Route("list_data_types", ("GET",), WS + "/DataTypes", R),
        Route("get_aml_datastore", ("GET",), DS + "/datastores/{datastoreName}", R),
    ),
    "studio": (
        # -- the studio's page: static files only, anonymous; its data calls carry the user's token ----
        Route("studio", ("GET",), "studio", A),
        Route("studio_files", ("GET",), "studio/{*path}", A),
    ),
    "fallback": (
        # -- under the service's prefixes, a path no route above takes, or a method its route does not:
        # the contract's error JSON (404, or 405 with Allow) rather than the host's empty 404. The host
        # tries a catch-all after every route whose segment there is a literal (`pipelines.devhost.routing`),
        # so these come last; /admin and /runtime (the host's own) are not under them.
        *(Route(f"unknown_{prefix}_path", ALL_METHODS, prefix + "/{*rest}", R, documented=False)
          for prefix in ("pipelines", "history", "artifact", "datastore")),
    ),
}

ROUTES: dict[str, Route] = {route.name: route for routes in _SECTIONS.values() for route in routes}
# The routes of their own, fallbacks aside: what the OpenAPI document describes.
DOCUMENTED: dict[str, Route] = {name: route for name, route in ROUTES.items() if route.documented}
# The module of `pipelines.api` whose `@route(name)` function answers each route: its section above.
HANDLER_MODULES: dict[str, str] = {
    route.name: f"pipelines.api.{section}" for section, routes in _SECTIONS.items() for route in routes
}


def methods_at(path: str) -> tuple[str, ...]:
    """The methods of the routes (fallbacks aside) whose template matches `path` (a URL's path,
    the route prefix being empty) as the host matches them (literal segments ignoring case and
    percent-encoding, a parameter one segment that is not empty, an optional one or a catch-all
    the rest), of the templates the host tries first there: a literal segment before a
    parameter (`PipelineEndpoints/Name` before `PipelineEndpoints/{endpointId}`), as the
    OpenAPI document lists a path's methods."""
    segments = [unquote(segment) for segment in path.strip("/").split("/")]
    matching = [route for route in DOCUMENTED.values() if _matches(route.template, segments)]
    if not matching:
        return ()
    first = min(_rank(route.template) for route in matching)
    found = {method for route in matching if _rank(route.template) == first for method in route.methods}
    return tuple(method for method in ALL_METHODS if method in found)


def _rank(template: str) -> tuple[int, ...]:
    return tuple(2 if part.startswith("{*") else 1 if part.startswith("{") else 0 for part in template.split("/"))


def _matches(template: str, segments: list[str]) -> bool:
    parts = template.split("/")
    for index, part in enumerate(parts):
        if part.startswith("{*"):
            return True
        if index >= len(segments):
            return all(rest.startswith("{") and rest.endswith("?}") for rest in parts[index:])
        if part.startswith("{"):
            if not segments[index]:
                return False
        elif part.lower() != segments[index].lower():
            return False
    return len(segments) == len(parts)
