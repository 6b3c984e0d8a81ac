"""The operations the OpenAPI document describes, one for each route of `pipelines.api.routes`.

Every route needs an entry in `OPERATIONS` (the generator, `pipelines.api.openapi`,
refuses to run otherwise), so a new route cannot go undocumented; the run-history
family's and the step outputs' entries are `pipelines.api.openapi_history`'s.
Bodies and answers name their schemas (`ref`): the wire models of `pipelines.api`.
"""

from __future__ import annotations

from pipelines.api import openapi_history as history
from pipelines.api.bodies import SUBMIT_TEXT_LIMIT
from pipelines.api.openapi_parts import JSON, Body, Op, any_case, array, param, pattern_of, ref, segment, text, use
from pipelines.catalogue import targets
from pipelines.data import datastores
from pipelines.store.tables import KEY_PATTERN
from pipelines.triggers.model import NAME

# -- parameters --------------------------------------------------------------------------------------
# A flag in a query string; an empty value is as absent (the host leaves `?x=` out).
FLAG = any_case("true", "false", "1", "0", "")
PAGE_SIZE: JSON = {"type": "integer", "minimum": 1, "maximum": 1000}
PARAMETERS: dict[str, JSON] = {
    "BatchSize": param("BatchSize", "header", PAGE_SIZE,
                       "Page size (the old client sends it on the endpoint list); default 1000, as much"
                       " as a page holds (SDK v1 sends none on the others and reads no continuation)."),
    "top": param("top", "query", PAGE_SIZE, "Page size; wins over BatchSize."),
    "continuationToken": param("continuationToken", "query", text(), "The last page's `x-ms-continuation`."),
    "activeOnly": param("activeOnly", "query", text(pattern=FLAG, default="true"),
                        "Hide deprecated and disabled entities (true, false, 1, 0, in any case)."),
    "activeOnlyAll": param("activeOnly", "query", text(pattern=FLAG, default="false"), (
        "Only the active ones (true, false, 1, 0, in any case); SDK v1's Schedule.list sends true. Absent: all.")),
    "IdempotencyKey": param("Idempotency-Key", "header", text(maxLength=256), (
        "The same key from the same caller within PIPELINES_IDEMPOTENCY_WINDOW_SECONDS answers the first run;"
        " with another body it is a 409.")),
    "ClientRequestId": param("x-ms-client-request-id", "header", text(maxLength=256),
                             "The idempotency key when Idempotency-Key is absent."),
    "parentRunId": param("parentRunId", "query", text(maxLength=SUBMIT_TEXT_LIMIT),
                         "Recorded on the run as ParentRunId, over the body's."),
    "pipelineVersion": param("pipelineVersion", "query", text(), (
        "The endpoint version to run; default: the endpoint's default. When the path names a version too,"
        " both must agree, else 400.")),
    "IfMatch": param("If-Match", "header", text(), "The endpoint's Etag; a stale one is a 412."),
    "overwrite": param("overwrite", "query", text(pattern=FLAG, default="false"),
                       "Replace what exists (true, false, 1, 0, in any case)."),
    "se": param("se", "query", text(pattern="^[0-9]+$"), "A signed log link's expiry (Unix seconds)."),
    "kid": param("kid", "query", text(pattern="^[0-9]{6}$"), "A signed log link's key (its month)."),
    "sig": param("sig", "query", text(), "A signed log link's signature."),
    **history.PARAMETERS,
}

# -- operations -------------------------------------------------------------------------------------
SUBMIT = Body(ref("SubmitRequest"), required=False,
              description="Parsed as JSON whatever the Content-Type says; no body is `{}`.")
SUBMIT_ERRORS = {404: "Unknown pipeline, endpoint, version or dataset.",
                 409: "A disabled pipeline or endpoint (`EntityDisabled`), or an idempotency key reused with"
                      " another body or still in progress (`UserError`)."}
IDEMPOTENCY = ("IdempotencyKey", "ClientRequestId", "parentRunId")
RUN = ref("PipelineRunEntity")
_AUTOMATION_PUT = (
    "When it is written active, its target must exist and be enabled, and its Request is checked against"
    " the target's current parameters and data inputs as a submit checks them (placeholders for what"
    " they can fill); a disabled one is checked when it is enabled. What it recorded of its firings"
    " (LastFiredTime, LastRunId, LastError, SkippedCount) is kept. Keys match in any case; a near miss of"
    " a known key is a 400 naming it; other unknown keys are ignored and listed in the"
    " `x-ms-ignored-keys` header (percent-encoded, comma-separated; `Request.<key>` for the request's)."
)
_AUTOMATION_ERRORS = {404: "Unknown target pipeline, endpoint or version.",
                      409: "The target pipeline or endpoint is disabled (`EntityDisabled`)."}
BYTES = {"type": "string", "contentMediaType": "application/octet-stream"}

OPERATIONS: dict[str, Op] = {
    "health": Op("Storage health", ref("Health"), "200 when table, blob and queue storage answer.",
                 responses={"503": {"description": "A storage service does not answer (Status Unhealthy).",
                                    "headers": {"x-ms-request-id": use("headers", "RequestId")},
                                    "content": {"application/json": {"schema": ref("Health")}}}}),
    "upload_snapshot": Op(
        "Upload a code snapshot", ref("SnapshotUploaded"),
        "Stored once under its sha256; checked against traversal, links and zip bombs.",
        Body({"type": "string", "contentMediaType": "application/zip"}, "application/zip",
             description="The zip bytes (any Content-Type), at most PIPELINES_MAX_SNAPSHOT_BYTES (100 MiB)."),
    ),
    "publish_pipeline": Op("Publish a pipeline", ref("PipelineEntity"), body=Body(ref("PublishRequest"))),
    "get_pipeline": Op("Get a published pipeline", ref("PipelineEntity"), errors={404: "Unknown pipeline."}),
    "list_pipelines": Op("List published pipelines", array("PipelineEntity"), params=("activeOnly",),
                         paged=True),
    "set_pipeline_status": Op("Set a published pipeline's status", ref("PipelineEntity"),
                              body=Body(ref("PipelineStatusRequest")),
                              errors={404: "Unknown pipeline.",
                                      409: "Disabling the default version of a runnable pipeline endpoint:"
                                           " the answer names the endpoints."}),
    "create_endpoint": Op("Create a pipeline endpoint", ref("PipelineEndpointEntity"),
                          body=Body(ref("CreateEndpointRequest")),
                          errors={404: "Unknown PipelineId.", 409: "The name is taken (`UserError`)."}),
    "get_endpoint": Op("Get a pipeline endpoint", ref("PipelineEndpointEntity"),
                       errors={404: "Unknown endpoint."}),
    "get_endpoint_by_name": Op("Get a pipeline endpoint by name", ref("PipelineEndpointEntity"),
                               params=("query:name",), errors={404: "Unknown endpoint."}),
    "list_endpoints": Op("List pipeline endpoints", array("PipelineEndpointEntity"), params=("activeOnly",),
                         paged=True),
    "update_endpoint": Op(
        "Update a pipeline endpoint", ref("PipelineEndpointEntity"),
        "Default version, version list, name, description, status, properties, tags.",
        Body(ref("UpdateEndpointRequest")), ("IfMatch",),
        {404: "Unknown endpoint or pipeline.", 409: "The new name is taken (`UserError`).",
         412: "The Etag (body or If-Match) is stale: read the endpoint again."},
    ),
    "list_endpoint_pipelines": Op("The published pipelines behind an endpoint", array("PipelineEntity"),
                                  "The whole list, not paged.", params=("activeOnly",),
                                  errors={404: "Unknown endpoint."}),
    "get_endpoint_swagger": Op(
        "A pipeline endpoint's Swagger document (its SwaggerUrl)",
        {"type": "object", "required": ["swagger", "info", "paths"],
         "properties": {"swagger": {"const": "2.0"}, "info": {"type": "object"}, "paths": {"type": "object"}}},
        "Swagger 2.0, as Azure ML's was: one operation, the submit of the default version, with that version's"
        " parameters (types and defaults) as the keys of ParameterAssignments; for tools that build a client or a"
        " connector from Swagger.",
        errors={404: "Unknown endpoint."}),
    "submit_pipeline": Op("Run a published pipeline", RUN, body=SUBMIT, params=IDEMPOTENCY,
                          errors=SUBMIT_ERRORS, headers=("IgnoredKeys",)),
    "submit_endpoint": Op("Run a pipeline endpoint (its default version, or the version given)", RUN,
                          body=SUBMIT, params=("pipelineVersion", *IDEMPOTENCY), errors=SUBMIT_ERRORS,
                          headers=("IgnoredKeys",)),
    "submit_endpoint_by_name": Op("Run a pipeline endpoint by name", RUN, body=SUBMIT,
                                  params=("query:name", "pipelineVersion", *IDEMPOTENCY),
                                  errors=SUBMIT_ERRORS, headers=("IgnoredKeys",)),
    "get_run": Op("Get a run", RUN, errors={404: "Unknown run."}),
    "list_pipeline_runs": Op("Runs of a published pipeline, newest first", array("PipelineRunEntity"),
                             paged=True, errors={404: "Unknown pipeline."}),
    "rerun_run": Op(
        "Rerun a run", RUN,
        "Our addition: a new run of the run's published version with its parameters (changed as the body says)"
        " and data. Its steps that finished in the first run are created Finished with the same outputs when"
        " their reuse key is unchanged (ReuseInfo says so); the others run. The new run's RerunOf names the first.",
        Body(ref("RerunRequest"), required=False, description="Parsed as JSON; no body is `{}`."),
        ("IdempotencyKey", "ClientRequestId"),
        {404: "Unknown run.", 409: "Its pipeline or endpoint is disabled (`EntityDisabled`), or an idempotency key"
         " reused with another body or still in progress (`UserError`)."},
        headers=("IgnoredKeys",),
    ),
    "cancel_run": Op("Cancel a run", RUN, "Answers the run after the cancel.", errors={404: "Unknown run."}),
    "cancel_run_execution": Op("Cancel a run", RUN, "Answers the run after the cancel.",
                               errors={404: "Unknown run."}),
    "list_data_types": Op(
        "The data types of Azure ML's pipelines service", array("DataTypeEntity"),
        "What every azureml-pipeline-core object reads before it is made (SDK v1's"
        " `ensure_default_datatypes`): the eleven types it requires, fixed."),
    "get_aml_datastore": Op(
        "A datastore as Azure ML's datastore service answers it", ref("AmlDatastoreDto"),
        "For SDK v1's `Datastore.get`, which `StepRun.get_output_data()` calls: `workspaceartifactstore` (the store"
        " of step outputs) or a datastore of the workspace. No key and no SAS are given (`credentialType` None):"
        " outputs are read through this service.",
        errors={404: "Unknown datastore."}),
    "get_run_events": Op(
        "A run's events and their deliveries", array("RunEventEntity"),
        "Our addition: the run's CloudEvents so far (docs/contract.md §7), each with where it was delivered,"
        " is pending, or was given up on. Empty when no sink is configured and its endpoint names no webhook.",
        errors={404: "Unknown run."}),
    "get_step_statuses": Op("Step statuses of a run", ref("StepStatuses"), errors={404: "Unknown run."}),
    "get_step_log": Op(
        "A step's log", {"type": "string"},
        "The step is named by `?nodeId=` or, on POST, by the body. Each attempt of the step keeps its own "
        "logs: `?attempt=` reads an earlier one. Without Range: the log as text, its last 8 MiB when it is "
        "longer (a first line says how much is not shown). With Range: those bytes of the log as written "
        "(206, Content-Range says which of how many), any part of it, as a reader that follows it asks. "
        "The links of a step run's history details (`logFiles`) carry `se`, `kid` and `sig`: a GET of one "
        "without an Authorization header reads that log for an hour, as SDK v1 reads them; with a token, "
        "the token decides.",
        Body(ref("NodeIdPath"), required=False), ("query:nodeId", "query:attempt", "Range", "se", "kid", "sig"),
        {400: "`attempt` is not one of the step's attempts so far.", 404: "Unknown run, step or log type.",
         416: "A Range outside the log (an empty log has no byte to give), or several."},
        media="text/plain", responses=history.LOG_PART,
    ),
    "list_datastores": Op("List datastores", array("DatastoreEntity"), paged=True),
    "create_datastore": Op("Register a datastore", ref("DatastoreEntity"), body=Body(ref("DatastoreRequest")),
                           params=("overwrite",),
                           errors={409: "Registered with another container, without Overwrite."}),
    "get_datastore": Op("Get a datastore", ref("DatastoreEntity"), errors={404: "Unknown datastore."}),
    "register_datastore": Op("Register a datastore by name", ref("DatastoreEntity"),
                             body=Body(ref("DatastoreRequest")),
                             params=("overwrite",),
                             errors={409: "Registered with another container, without Overwrite."}),
    "remove_datastore": Op("Remove a datastore", ref("DatastoreEntity"),
                           "Forgets it (its files stay) and answers it; workspaceblobstore is a 400.",
                           errors={404: "Unknown datastore.",
                                   409: "Runnable published pipelines use it (`DatastoreInUse`)."}),
    "upload_datastore_file": Op(
        "Upload a file to a datastore", ref("UploadEntity"),
        "Whole, or in parts: `?uploadId=&part=0..n-1`, then `?uploadId=&parts=n` commits them.",
        Body(BYTES, "application/octet-stream", description="The bytes, at most 32 MiB per request."),
        ("overwrite", "query:uploadId", "query:part", "query:parts"),
        {404: "Unknown datastore.", 409: "The file exists and overwrite is not set."},
    ),
    "list_datasets": Op("List datasets, by name, newest version first", array("DatasetEntity"),
                        params=("query:datasetFilter",), paged=True),
    "register_dataset": Op("Register a dataset (a new version of its name)", ref("DatasetEntity"),
                           body=Body(ref("DatasetRequest")),
                           errors={409: "The name exists and CreateNewVersion is false."}),
    "get_dataset_by_name": Op("Get a dataset by name and version", ref("DatasetEntity"),
                              params=("query:datasetName", "query:version"),
                              errors={404: "Unknown dataset or version."}),
    "get_dataset": Op("Get a dataset", ref("DatasetEntity"), errors={404: "Unknown dataset."}),
    "put_trigger": Op(
        "Create or replace an event trigger", ref("EventTriggerEntity"), _AUTOMATION_PUT,
        body=Body(ref("EventTriggerRequest")), errors=_AUTOMATION_ERRORS),
    "get_trigger": Op("Get an event trigger", ref("EventTriggerEntity"), errors={404: "Unknown trigger."}),
    "list_triggers": Op("List event triggers", array("EventTriggerEntity"), "The whole list, not paged."),
    "delete_trigger": Op("Delete an event trigger", ref("TriggerDeleted"), errors={404: "Unknown trigger."}),
    "put_schedule": Op(
        "Create or replace a schedule", ref("ScheduleEntity"), _AUTOMATION_PUT,
        body=Body(ref("ScheduleRequest")), errors=_AUTOMATION_ERRORS),
    "get_schedule": Op("Get a schedule", ref("ScheduleEntity"), errors={404: "Unknown schedule."}),
    "list_schedules": Op("List schedules", array("ScheduleEntity"), "The whole list, not paged.",
                         params=("activeOnlyAll",)),
    "delete_schedule": Op("Delete a schedule", ref("TriggerDeleted"), errors={404: "Unknown schedule."}),
    "create_schedule": Op(
        "Create a schedule (SDK v1's Schedule.create)", ref("ScheduleEntity"),
        "The body's `Name` names it (its `Id` then); a schedule of that name is a 409 and is left as it is."
        " The body is a PUT's, in SDK v1's keys too: `PipelineSubmissionInfo` for `Request`, and `Schedule`"
        " in `Recurrence` (one hour, minute and week day). A datastore schedule is a 400. " + _AUTOMATION_PUT,
        body=Body(ref("ScheduleCreationRequest")),
        errors={**_AUTOMATION_ERRORS, 409: "A schedule of that name exists (`UserError`), or the target is"
                " disabled (`EntityDisabled`)."}),
    "list_pipeline_schedules": Op("Schedules of a published pipeline", array("ScheduleEntity"),
                                  "Those naming it by `PipelineId`; not paged.", params=("activeOnlyAll",)),
    "list_endpoint_schedules": Op("Schedules of a pipeline endpoint", array("ScheduleEntity"),
                                  "Those naming it by `PipelineEndpointId`; not paged.", params=("activeOnlyAll",)),
    "list_schedule_runs": Op("Runs a schedule started, newest first", array("PipelineRunEntity"), paged=True,
                             errors={404: "Unknown schedule."}),
    "get_last_schedule_run": Op(
        "The run of a schedule's last firing", {"anyOf": [RUN, {"type": "null"}]},
        "`null` when no firing started a run yet (or its run is gone).", errors={404: "Unknown schedule."}),
    "list_compute_targets": Op("List compute targets", array("ComputeTargetEntity"),
                               "`app` (the app itself) first, then the workspace's by name; not paged."),
    "get_compute_target": Op("Get a compute target", ref("ComputeTargetEntity"), errors={404: "Unknown target."}),
    "put_compute_target": Op(
        "Create or replace a compute target", ref("ComputeTargetEntity"),
        "Keys match in any case; an unknown key is a 400 naming it (the answer's own keys are ignored). `app` is"
        " the app itself and cannot be written. Runs under way keep the queues their steps recorded.",
        body=Body(ref("ComputeTargetRequest"))),
    "delete_compute_target": Op(
        "Delete a compute target", ref("TriggerDeleted"),
        errors={404: "Unknown target.", 409: "Published pipelines that are not disabled use it (`Details` names"
                " each)."}),
    **history.OPERATIONS,
    "studio": Op("The studio's page", {"type": "string"}, "The web page (docs/studio.md); its data calls carry"
                 " the user's token.", media="text/html"),
    "studio_files": Op("A file of the studio", {"type": "string"}, "A built file (JavaScript, CSS), `config.json`"
                       " (sign-in settings, nothing secret), or the page for any other path without a dot.",
                       errors={404: "No such file."}, media="text/html",
                       responses={"200": {"description": "The file; its Content-Type says what it is.",
                                          "headers": {"x-ms-request-id": use("headers", "RequestId")},
                                          "content": {"text/html": {"schema": {"type": "string"}},
                                                      "text/javascript": {"schema": {"type": "string"}},
                                                      "text/css": {"schema": {"type": "string"}},
                                                      "application/json": {"schema": {"type": "object"}}}}}),
}

# name: (schema, note), or (schema, note, the parameter's name) where two routes' `?name=` differ
QUERY: dict[str, tuple[JSON, str] | tuple[JSON, str, str]] = {
    "name": (text(pattern=KEY_PATTERN), "The name (the key `Name` works too)."),
    "nodeId": (text(pattern=KEY_PATTERN), "The step's node id."),
    "attempt": (text(pattern="^[1-9][0-9]{0,5}$"), "The attempt (1, 2, ...; `Attempts` of the step's status); "
                "default: the latest."),
    "uploadId": (text(pattern="^[0-9a-f]{32}$"), "Names a multi-part upload."),
    "part": ({"type": "integer", "minimum": 0}, "Stage this part (with uploadId)."),
    "parts": ({"type": "integer", "minimum": 1}, "Commit this many staged parts (with uploadId)."),
    "datasetFilter": (text(), "Only this name's versions (a name no dataset can have lists none).", "name"),
    "datasetName": (text(pattern=KEY_PATTERN), "The dataset's name.", "name"),
    "version": (text(pattern="^(?:[Ll][Aa][Tt][Ee][Ss][Tt]|[1-9][0-9]{0,9})$"),
                "A whole number from 1, or latest (the default; any case)."),
    **history.QUERY,
}
REQUIRED_QUERY = {("get_endpoint_by_name", "name"), ("submit_endpoint_by_name", "name"),
                  ("get_dataset_by_name", "name")}
# Ids and names that are looked up: a Table key holds none of / \\ # ? | nor a control character
# (that is a 400); any other value that names nothing is a 404.
KEY = segment(pattern=KEY_PATTERN)
TRIGGER_NAME = pattern_of(NAME)
DATASTORE_NAME = pattern_of(datastores.NAME)
TARGET_NAME = targets.NAME_PATTERN  # the rule without its length, which maxLength says
MAX_TARGET_NAME = 32
PATH: dict[str, tuple[JSON, str]] = {
    "subscriptionId": (segment(), "Accepted as given, not interpreted."),
    "resourceGroupName": (segment(), "Accepted as given, not interpreted."),
    "workspaceName": (text(pattern="^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"), "A namespace, not a boundary."),
    "pipelineId": (KEY, "A published pipeline's Id."),
    "endpointId": (KEY, "A pipeline endpoint's Id."),
    "version": (KEY, "An endpoint version (\"0\", \"1\", ...)."),
    "logType": ({"enum": ["STDOUT", "STDERR", "JobLog"]}, "Any case."),
    "snapshotHash": (text(pattern="^[0-9a-fA-F]{64}$"), "The sha256 of the zip."),
    "path": (segment(), "Catch-all: the rest of the URL, slashes included (the route's `{*path}`)."),
    "triggerName": (text(pattern=TRIGGER_NAME), "The trigger's name."),
    "scheduleName": (text(pattern=TRIGGER_NAME), "The schedule's name."),
    "datastoreName": (text(pattern=DATASTORE_NAME), "A datastore's name."),
    "datasetId": (KEY, "A dataset's Id."),
    "targetName": (text(pattern=TARGET_NAME, maxLength=MAX_TARGET_NAME),
                   "A compute target's name (`app`: the app itself)."),
    **history.PATH,
}
