"""The OpenAPI 3.1 document of the HTTP API, generated from the route table.

    python -m pipelines.api.openapi          # rewrite openapi.json at the repository root
    python -m pipelines.api.openapi --check  # exit 1 when the committed file is stale

Paths, methods and roles come from `pipelines.api.routes.ROUTES`; every route
needs an entry in `OPERATIONS` below (the generator refuses to run otherwise),
so a new route cannot go undocumented. Schemas come from the pydantic wire
models where handlers answer with them, and are written here, from the
handlers' code, where handlers read or answer plain dicts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import core_schema

from pipelines.api import automation_contract as automation
from pipelines.api import openapi_history as history
from pipelines.api.contract import PipelineEndpointEntity, PipelineEntity, PipelineRunEntity, TaskStatusEntity
from pipelines.api.data import DatasetEntity, DatastoreEntity, UploadEntity
from pipelines.api.openapi_parts import (
    FLAG,
    JSON,
    LABELS,
    NULLABLE_TEXT,
    STRINGS,
    Body,
    Op,
    array,
    obj,
    param,
    ref,
    text,
    use,
)
from pipelines.api.routes import ROUTES, Route
from pipelines.auth.permissions import GRANTS, Permission
from pipelines.authoring.definition import PipelineDefinition
from pipelines.generated import write_or_check

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "openapi.json"
SERVER = "http://127.0.0.1:7071"


class _AllRequired(GenerateJsonSchema):
    """Answers serialise every field, `None` included (contract.py): all of them are required."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        return self.mode == "serialization" or super().field_is_required(field, total)


# Wire models: answers in serialization mode, the published definition as it is read.
MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = (
    (PipelineEntity, "serialization"),
    (PipelineEndpointEntity, "serialization"),
    (PipelineRunEntity, "serialization"),
    (TaskStatusEntity, "serialization"),
    (DatastoreEntity, "serialization"),
    (UploadEntity, "serialization"),
    (DatasetEntity, "serialization"),
    (PipelineDefinition, "validation"),
    *history.MODELS,
    *automation.MODELS,
)

_ENTITY_STATUS = "0 Active, 1 Deprecated, 2 Disabled."
NOTES: dict[tuple[str, str], str] = {
    ("RunStatusEntity", "StatusCode"): "0 NotStarted, 1 Running, 2 Failed, 3 Finished, 4 Canceled.",
    ("TaskStatusEntity", "StatusCode"): "0 NotStarted, 1 Queued, 2 Running, 3 Failed, 4 Finished, 5 Canceled,"
    " 6 PartiallyExecuted, 7 Bypassed.",
    ("PipelineEntity", "EntityStatus"): _ENTITY_STATUS,
    ("PipelineEndpointEntity", "EntityStatus"): _ENTITY_STATUS,
    ("PipelineRunEntity", "EntityStatus"): _ENTITY_STATUS,
    ("PipelineEntity", "Url"): "The submit URL of this pipeline.",
    ("PipelineEndpointEntity", "Url"): "The submit URL of the endpoint's default version.",
    ("PipelineRunEntity", "DataSetDefinitionValueAssignments"): "Name to the DataSetAssignment resolved.",
    ("PipelineEntity", "DataSetDefinitionValueAssignments"): "Name to its default DataSetAssignment.",
}

STATUS_VALUE: JSON = {
    "anyOf": [{"type": "integer", "enum": [0, 1, 2]},
              text("Active, Deprecated or Disabled (any case), or the digit as a string.")],
}
DATASET_ASSIGNMENT: JSON = {
    "anyOf": [
        obj({"SavedDataSetReference": obj({"Id": text()}, ("Id",))}, ("SavedDataSetReference",)),
        obj({"DataSetReference": obj({"Id": text(), "Name": text(),
                                      "Version": {"type": ["string", "integer"]}})}, ("DataSetReference",)),
        obj({"LiteralValue": ref("DataPathEntity")}, ("LiteralValue",)),
    ],
    "description": "A registered dataset (by id, or by name and version: the latest when none) or a path.",
}

HAND_WRITTEN: dict[str, JSON] = {
    "Error": obj(
        {
            "Error": obj(
                {"Code": text(), "Message": text(), "Target": NULLABLE_TEXT, "Details": array("ErrorDetail")},
                ("Code", "Message", "Target", "Details"),
            ),
            "Correlation": obj({"RequestId": text()}, ("RequestId",)),
        },
        ("Error", "Correlation"),
        "Every error answer (docs/contract.md §4).",
    ),
    "ErrorDetail": obj({"Code": text(), "Message": text(), "Target": NULLABLE_TEXT},
                       ("Code", "Message", "Target")),
    "EntityStatusValue": STATUS_VALUE,
    "SubmitRequest": obj(
        {
            "ExperimentName": text("Groups runs; default: the pipeline's name.", maxLength=4096),
            "Description": text("Default: the pipeline's name.", maxLength=4096),
            "RunSource": text("Who started it; default API.", maxLength=4096),
            "RunType": {"type": ["string", "integer"], "description": "Default HTTP."},
            "ParameterAssignments": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
                "description": "PipelineParameter name to value, coerced to its declared type ('20', 20).",
            },
            "DataPathAssignments": {"type": "object", "additionalProperties": ref("DataPathEntity")},
            "DataSetDefinitionValueAssignments": {
                "type": "object", "additionalProperties": ref("DataSetAssignment"),
            },
            "Tags": LABELS,
            "Properties": LABELS,
            "ContinueRunOnStepFailure": {
                "type": ["boolean", "string"],
                "description": "true or false (or the strings): overrides the pipeline's.",
            },
            "ScheduleId": text(),
            "DisplayName": text(),
            "ParentRunId": {"type": "string", "description": "Recorded on the run; ?parentRunId= wins."},
            "EnableNotification": {"description": "Accepted and ignored."},
            "AzDevOpsCallBackInfo": {"description": "Accepted and never stored (it holds a token)."},
        },
        description=(
            "The submit body of every submit route (docs/contract.md §2). Keys are matched case-insensitively"
            " (`tags` and `Tags`); `{}` or no body is valid. An unknown or uncoercible assignment is a 400"
            " listing every bad key in `Details`. A top-level key that is a near miss of a known one"
            " (`ParamAssignments`) is a 400 naming the key it meant; other unknown keys are accepted and"
            " named in the answer's `x-ms-ignored-keys` header."
        ),
    ),
    "DataSetAssignment": DATASET_ASSIGNMENT,
    "PublishRequest": obj(
        {
            "Name": text(), "Description": text(), "Version": {"type": ["string", "number"]},
            "Definition": ref("PipelineDefinition"),
            "Properties": LABELS,
            "ContinueRunOnStepFailure": {"type": "boolean", "description": "Overrides the definition's."},
        },
        ("Definition",),
        "Every snapshot the definition names must be uploaded first (`PUT .../Snapshots/{sha256}`).",
    ),
    "SnapshotUploaded": obj(
        {"Hash": text(), "Size": {"type": "integer"}, "Files": {"type": "integer"},
         "Created": {"type": "boolean", "description": "false when the same snapshot was stored before."}},
        ("Hash", "Size", "Files", "Created"),
    ),
    "PipelineStatusRequest": {
        "anyOf": [ref("EntityStatusValue"), obj({"EntityStatus": ref("EntityStatusValue"),
                                                   "Status": ref("EntityStatusValue")})],
        "description": 'The JSON string "Active", "Deprecated" or "Disabled" (or 0, 1, 2).',
    },
    "CreateEndpointRequest": obj(
        {"Name": text("Unique in the workspace."), "Description": text(),
         "PipelineId": text("Becomes version 0."), "Properties": STRINGS, "tags": STRINGS},
        ("Name", "PipelineId"),
    ),
    "UpdateEndpointRequest": obj(
        {
            "Id": text("Must match the path when given."), "Name": text(), "Description": NULLABLE_TEXT,
            "DefaultVersion": {"type": ["string", "integer"], "description": "A version of the list."},
            "PipelineVersionList": {
                "type": "array", "minItems": 1,
                "items": obj({"Version": {"type": ["string", "integer", "null"],
                                          "description": "Absent: the next number."},
                              "PipelineId": text()}, ("PipelineId",)),
                "description": "An existing version never changes its pipeline; a pipeline appears once.",
            },
            "EntityStatus": ref("EntityStatusValue"),
            "Etag": text("Must match the stored one, else 412 (wins over If-Match)."),
            "Properties": STRINGS, "tags": STRINGS,
        },
        description="The whole entity, read-modify-write; keys absent from the body keep their value.",
    ),
    "StepStatuses": {"type": "object", "additionalProperties": ref("TaskStatusEntity"),
                     "description": "Node id to the step's status."},
    "NodeIdPath": {
        "anyOf": [{"type": "array", "items": {"type": "string"}, "minItems": 1}, {"type": "string"}],
        "description": 'The node id path, e.g. ["<nodeId>"]; its last element is the step.',
    },
    "DatastoreRequest": obj(
        {
            "Name": text("Required on POST; on PUT it must match the path when given."),
            "ContainerName": text("A container: 3 to 63 lowercase letters, digits and single dashes."),
            "AccountUrl": text("https://NAME.blob.core.windows.net; absent: the app's own account."),
            "Description": text(), "Overwrite": FLAG, "CreateIfNotExists": FLAG,
        },
        ("ContainerName",),
        "The same registration again answers the datastore unchanged; another one needs Overwrite.",
    ),
    "DatasetRequest": obj(
        {
            "Name": text(), "DatasetType": text("Tabular or File (any case)."),
            "Paths": {"anyOf": [array("DataPathEntity"), ref("DataPathEntity")],
                      "description": "Files, folders or globs (*, ?, [...], **) on datastores."},
            "Separator": text("Tabular: one character; default ','.", maxLength=1),
            "Header": {"type": "boolean", "description": "Tabular: a header line; default true."},
            "Encoding": text("Tabular: a text encoding; default utf-8."),
            "Description": text(), "Tags": STRINGS,
            "CreateNewVersion": {**FLAG, "description": "Default true; false: 409 when the name exists."},
            "Validate": {**FLAG, "description": "Default true: the paths must match files."},
        },
        ("Name", "DatasetType", "Paths"),
    ),
    "TriggerDeleted": obj({"Name": text(), "Deleted": {"const": True}}, ("Name", "Deleted")),
    "Health": obj(
        {"Status": {"enum": ["Healthy", "Unhealthy"]},
         "Configuration": text('"valid", else "invalid: ..." (the app\'s log names the settings)'),
         "Storage": obj({s: text('"ok", else "unavailable ..."') for s in ("table", "blob", "queue")},
                        ("table", "blob", "queue")),
         "Version": text("The app's version.")},
        ("Status", "Configuration", "Storage", "Version"),
    ),
}


def schemas() -> dict[str, JSON]:
    """Components: every wire model (and the models it refers to), then the hand-written ones."""
    found: dict[str, JSON] = {}

    def add(name: str, schema: JSON) -> None:
        if found.get(name, schema) != schema:
            raise ValueError(f"two different schemas are called {name!r}")
        found[name] = schema

    for model, mode in MODELS:
        schema = model.model_json_schema(
            by_alias=True, ref_template="#/components/schemas/{model}", mode=mode,
            schema_generator=_AllRequired,
        )
        for name, sub in [*schema.pop("$defs", {}).items(), (model.__name__, schema)]:
            for member in sub.get("properties", {}).values():
                member.pop("title", None)  # pydantic's "Graphid" and the like: noise beside the key
            add(name, sub)
    for name, schema in (HAND_WRITTEN | history.HAND_WRITTEN).items():
        add(name, schema)
    for (name, key), note in (NOTES | history.NOTES).items():
        found[name]["properties"][key]["description"] = note
    for (name, key), target in automation.LINKS.items():
        member = found[name]["properties"][key]
        found[name]["properties"][key] = {"allOf": [ref(target)], **({"description": member["description"]}
                                                                   if "description" in member else {})}
    return dict(sorted(found.items()))


# -- parameters, headers and responses -------------------------------------------------------------
PAGE_SIZE: JSON = {"type": "integer", "minimum": 1, "maximum": 1000}
PARAMETERS: dict[str, JSON] = {
    "BatchSize": param("BatchSize", "header", PAGE_SIZE,
                       "Page size (the old client sends it); default PIPELINES_PAGE_SIZE (100)."),
    "top": param("top", "query", PAGE_SIZE, "Page size; wins over BatchSize."),
    "continuationToken": param("continuationToken", "query", text(), "The last page's `x-ms-continuation`."),
    "activeOnly": param("activeOnly", "query", {"type": "boolean", "default": True},
                        "Hide deprecated and disabled entities (true, false, 1, 0)."),
    "IdempotencyKey": param("Idempotency-Key", "header", text(maxLength=256), (
        "The same key from the same caller within PIPELINES_IDEMPOTENCY_WINDOW_SECONDS answers the first run;"
        " with another body it is a 409.")),
    "ClientRequestId": param("x-ms-client-request-id", "header", text(maxLength=256),
                             "The idempotency key when Idempotency-Key is absent."),
    "parentRunId": param("parentRunId", "query", text(), "Recorded on the run as ParentRunId."),
    "pipelineVersion": param("pipelineVersion", "query", text(), (
        "The endpoint version to run; default: the endpoint's default. When the path names a version too,"
        " both must agree, else 400.")),
    "IfMatch": param("If-Match", "header", text(), "The endpoint's Etag; a stale one is a 412."),
    "overwrite": param("overwrite", "query", {"type": "boolean", "default": False}, "Replace what exists."),
    **history.PARAMETERS,
}
HEADERS: dict[str, JSON] = {
    "RequestId": {"description": "The request id, as in Correlation.RequestId.", "schema": text()},
    "Continuation": {"description": "Present when more remain: pass it back as ?continuationToken=.",
                     "schema": text()},
    "IgnoredKeys": {"description": "The body's top-level keys that nothing read (accepted, as Azure ML accepted"
                                   " them): percent-encoded, comma-separated.", "schema": text(),
                    "x-header": "x-ms-ignored-keys"},
    "WWWAuthenticate": {"description": 'Bearer error="...", error_description="..."', "schema": text()},
}
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Malformed JSON, wrong types, a bad workspace name, path or parameter (`UserError`,"
                        " `InvalidParameter`); `Details` lists every bad key."),
    401: ("Unauthorized", "No, expired or invalid token (`Unauthorized`)."),
    403: ("Forbidden", "The token lacks the role this operation needs (`Forbidden`)."),
    404: ("NotFound", "Unknown entity (`NotFound`)."),
    409: ("Conflict", "A conflict with the stored state (`UserError`, `EntityDisabled`)."),
    412: ("PreconditionFailed", "A stale Etag (`PreconditionFailed`)."),
    413: ("PayloadTooLarge", "The body is over the size limit (`PayloadTooLarge`)."),
    500: ("InternalError", "Anything unexpected (`InternalError`); the body holds only a request id."),
    416: ("RangeNotSatisfiable", "A Range outside the file, or more than one (`RangeNotSatisfiable`)."),
    503: ("ServiceUnavailable", "Storage does not answer (`ServiceUnavailable`)."),
}


def error_response(status: int, description: str) -> JSON:
    headers: JSON = {"x-ms-request-id": use("headers", "RequestId")}
    if status == 401:
        headers["WWW-Authenticate"] = use("headers", "WWWAuthenticate")
    return {"description": description, "headers": headers,
            "content": {"application/json": {"schema": ref("Error")}}}


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
    "cancel_run": Op("Cancel a run", RUN, "Answers the run after the cancel.", errors={404: "Unknown run."}),
    "cancel_run_execution": Op("Cancel a run", RUN, "Answers the run after the cancel.",
                               errors={404: "Unknown run."}),
    "get_step_statuses": Op("Step statuses of a run", ref("StepStatuses"), errors={404: "Unknown run."}),
    "get_step_log": Op(
        "A step's log", {"type": "string"}, "The step is named by `?nodeId=` or, on POST, by the body.",
        Body(ref("NodeIdPath"), required=False), ("query:nodeId",),
        {404: "Unknown run, step or log type."}, media="text/plain",
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
                        params=("query:name",), paged=True),
    "register_dataset": Op("Register a dataset (a new version of its name)", ref("DatasetEntity"),
                           body=Body(ref("DatasetRequest")),
                           errors={409: "The name exists and CreateNewVersion is false."}),
    "get_dataset_by_name": Op("Get a dataset by name and version", ref("DatasetEntity"),
                              params=("query:name", "query:version"),
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
    "list_schedules": Op("List schedules", array("ScheduleEntity"), "The whole list, not paged."),
    "delete_schedule": Op("Delete a schedule", ref("TriggerDeleted"), errors={404: "Unknown schedule."}),
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

QUERY: dict[str, tuple[JSON, str]] = {
    "name": (text(), "The name (the key `Name` works too)."),
    "nodeId": (text(), "The step's node id."),
    "uploadId": (text(), "Names a multi-part upload."),
    "part": ({"type": "integer", "minimum": 0}, "Stage this part (with uploadId)."),
    "parts": ({"type": "integer", "minimum": 1}, "Commit this many staged parts (with uploadId)."),
    "version": (text(), "A whole number, or latest (the default)."),
    **history.QUERY,
}
REQUIRED_QUERY = {("get_endpoint_by_name", "name"), ("submit_endpoint_by_name", "name"),
                  ("get_dataset_by_name", "name")}
PATH: dict[str, tuple[JSON, str]] = {
    "subscriptionId": (text(), "Accepted as given, not interpreted."),
    "resourceGroupName": (text(), "Accepted as given, not interpreted."),
    "workspaceName": (text(pattern="^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"), "A namespace, not a boundary."),
    "version": (text(), "An endpoint version (\"0\", \"1\", ...)."),
    "logType": ({"enum": ["STDOUT", "STDERR", "JobLog"]}, "Any case."),
    "snapshotHash": (text(pattern="^[0-9a-fA-F]{64}$"), "The sha256 of the zip."),
    "path": (text(), "Catch-all: the rest of the URL, slashes included (the route's `{*path}`)."),
    "triggerName": (text(pattern="^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"), "The trigger's name."),
    **history.PATH,
}


# -- the document ------------------------------------------------------------------------------------
def roles_granting(needed: Permission) -> list[str]:
    return [role.value for role, grants in GRANTS.items() if needed in grants]


def paths_of(template: str) -> list[str]:
    """The OpenAPI paths of a Functions route template: `{x?}` gives two, `{*x}` becomes `{x}`."""
    template = re.sub(r"\{\*(\w+)\}", r"{\1}", "/" + template)
    optional = re.search(r"/\{(\w+)\?\}", template)
    if optional is None:
        return [template]
    return [template[: optional.start()] + template[optional.end():],
            template[: optional.start()] + "/{" + optional.group(1) + "}" + template[optional.end():]]


def parameters_of(route: Route, path: str, op: Op) -> list[JSON]:
    found: list[JSON] = []
    for name in re.findall(r"\{(\w+)\}", path):
        schema, note = PATH.get(name, (text(), ""))
        found.append(param(name, "path", schema, note, required=True))
    for name in op.params + (("top", "BatchSize", "continuationToken") if op.paged else ()):
        if name.startswith("query:"):
            schema, note = QUERY[name[6:]]
            found.append(param(name[6:], "query", schema, note, (route.name, name[6:]) in REQUIRED_QUERY))
        else:
            found.append(use("parameters", name))
    return found


def operation(route: Route, method: str, path: str, op: Op, operation_id: str) -> JSON:
    anonymous = route.permission is Permission.ANONYMOUS
    headers = {"x-ms-request-id": use("headers", "RequestId")}
    if op.paged:
        headers["x-ms-continuation"] = use("headers", "Continuation")
    for name in op.headers:
        headers[HEADERS[name]["x-header"]] = use("headers", name)
    answer = "OK."
    if op.answer.get("type") == "array":
        answer = "A bare JSON array" + (": a page; x-ms-continuation when more remain." if op.paged else ".")
    responses: JSON = {"200": {"description": answer, "headers": headers,
                               "content": {op.media: {"schema": op.answer}}}}
    with_body = op.body is not None and method in ("POST", "PUT")
    statuses = {500: ""} if anonymous else {400: "", 401: "", 403: "", 500: "", 503: ""}
    statuses |= ({413: ""} if with_body else {}) | dict(op.errors)
    for status in sorted(statuses):
        name = ERRORS[status][0]
        responses[str(status)] = ({**use("responses", name), "description": statuses[status]}
                                  if statuses[status] else use("responses", name))
    responses |= op.responses
    role = route.permission.value
    description = op.description + (" " if op.description else "") + (
        "No token needed (anonymous)." if anonymous
        else f"Needs the role {role} (held by {', '.join(roles_granting(route.permission))}).")
    result: JSON = {"operationId": operation_id, "summary": op.summary, "description": description,
                    "x-required-role": role, "parameters": parameters_of(route, path, op)}
    if with_body and op.body is not None:
        result["requestBody"] = {"required": op.body.required, "description": op.body.description,
                                 "content": {op.body.media: {"schema": op.body.schema}}}
    result["responses"] = responses
    result["security"] = [] if anonymous else [{"bearer": [route.permission.value]}]
    return result


def document() -> JSON:
    missing, stale = set(ROUTES) - set(OPERATIONS), set(OPERATIONS) - set(ROUTES)
    if missing or stale:
        raise SystemExit(f"openapi.py OPERATIONS: document {sorted(missing)}, drop {sorted(stale)}")
    paths: dict[str, JSON] = {}
    for route in ROUTES.values():
        op = OPERATIONS[route.name]
        variants = paths_of(route.template)
        for index, path in enumerate(variants):
            for method in route.methods:
                operation_id = route.name + ("_with_version" if index else "")
                operation_id += f"_{method.lower()}" if len(route.methods) > 1 else ""
                paths.setdefault(path, {})[method.lower()] = operation(route, method, path, op, operation_id)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Published pipelines on Azure Functions",
            "version": "1.0",
            "description": (
                "The wire contract of Azure ML SDK v1 published pipelines and pipeline endpoints"
                " (docs/contract.md), and the project's own routes. Generated from"
                " pipelines/api/routes.py by `python -m pipelines.api.openapi`: do not edit by hand."
                " Success is always 200; list routes answer bare JSON arrays."
            ),
        },
        "servers": [{"url": SERVER, "description": "The local host (`make run`)."}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": (
                    "An Entra ID access token: `Authorization: Bearer <token>`. `Authorization: Token <jwt>`"
                    " (what Microsoft's Java sample sends) is accepted too. Roles come from `roles` (app"
                    " roles) or `scp` (scopes); an operation's list names the role it needs."
                ),
            }},
            "schemas": schemas(),
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "responses": {name: error_response(status, why) for status, (name, why) in ERRORS.items()},
        },
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    return write_or_check(OPENAPI_PATH, render(), "python -m pipelines.api.openapi", argv)


if __name__ == "__main__":
    raise SystemExit(main())
