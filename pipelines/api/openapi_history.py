"""OpenAPI entries of the run-history family and of step outputs (see `pipelines.api.openapi`).

Their schemas are the wire models of `pipelines.api.history_contract` and `pipelines.api.answers`.
"""

from __future__ import annotations

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from pipelines.api.history_contract import (
    VIEW_TYPES,
    DeleteTagsResultDto,
    ExperimentDto,
    PaginatedExperimentDto,
    PaginatedRunDto,
    QueryParamsDto,
    RunDetailsDto,
    RunDto,
)
from pipelines.api.openapi_parts import JSON, Body, Op, any_case, obj, param, ref, segment, text, use
from pipelines.store.tables import KEY_PATTERN
from pipelines.text import (
    EXPERIMENT_NAME_PATTERN,
    EXPERIMENT_NAME_RULE,
    FREE_TEXT_PATTERN,
    MAX_DESCRIPTION,
    MAX_TAG_KEY,
    MAX_TAG_VALUE,
    MAX_TAGS,
    MAX_TAGS_STORED,
    NAME_TEXT_PATTERN,
)

MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = (
    (RunDto, "serialization"),
    (RunDetailsDto, "serialization"),
    (PaginatedRunDto, "serialization"),
    (ExperimentDto, "serialization"),
    (PaginatedExperimentDto, "serialization"),
    (DeleteTagsResultDto, "serialization"),
    (QueryParamsDto, "validation"),
)

_STATUS_WORDS = "NotStarted, Queued, Running, CancelRequested, Completed, Failed or Canceled."
NOTES: dict[tuple[str, str], str] = {
    ("RunDto", "status"): _STATUS_WORDS + " A run being canceled reads CancelRequested until its steps stop.",
    ("RunDto", "runType"): "azureml.PipelineRun for a pipeline run, azureml.StepRun for one of its steps.",
    ("RunDto", "runId"): "A step run's id is {pipeline run id}_{node id}.",
    ("RunDetailsDto", "logFiles"): "Log name to a URL that the same token reads (a step run's three logs).",
    ("TaskStatusEntity", "Status"): "The step run's status in the run-history family's words.",
    ("TaskStatusEntity", "RunId"): "The step run's id in the run-history family.",
}

PARAMETERS: dict[str, JSON] = {
    "Range": param("Range", "header", text(pattern="^bytes=\\d*-\\d*$"), (
        "One range of bytes: bytes=first-last, bytes=first- or bytes=-count. At most 32 MiB are answered"
        " (206, Content-Range says which).")),
}
QUERY: dict[str, tuple[JSON, str]] = {
    "$filter": (text(), "OData subset: eq ne gt ge lt le, and, or, ( ) on Status, RunType, RunId, ParentRunId,"
                        " RootRunId, Name, DisplayName, CreatedUtc, StartTimeUtc, EndTimeUtc, RunNumber,"
                        " Tags/{key}, Properties/{key}."),
    "$top": ({"type": "integer", "minimum": 1, "maximum": 1000}, "Page size (default PIPELINES_PAGE_SIZE)."),
    "$orderby": (text(), "CreatedUtc, StartTimeUtc, EndTimeUtc, RunNumber or RunId, then asc or desc; default:"
                         " the definition's order."),
    "$sortorder": (text(pattern=any_case("asc", "desc", "")), "The direction when $orderby names none (any case)."),
    "$continuationToken": (text(), "The last page's continuationToken."),
    "viewType": (text(pattern=any_case(*VIEW_TYPES, "")), "ActiveOnly (the default), All or ArchivedOnly, in any case:"
                 " experiments are never archived here."),
    "top": ({"type": "integer", "minimum": 1, "maximum": 1000}, "Files per page (default 1000)."),
}
KEY = segment(pattern=KEY_PATTERN)
PATH: dict[str, tuple[JSON, str]] = {
    "experimentName": (text(pattern=EXPERIMENT_NAME_PATTERN), "The run's ExperimentName: " + EXPERIMENT_NAME_RULE
                       + "; another name is a 400."),
    "experimentId": (KEY, "An experiment's experimentId."),
    "runId": (KEY, "A pipeline run id, or a step run id ({pipeline run id}_{node id}) on history routes."),
    "nodeId": (KEY, "The step's node id."),
    "outputName": (KEY, "The output's name (PipelineData name)."),
    "containerId": (KEY, "dcid.{runId}: the run's dataContainerId."),
}

RUN_DTO = ref("RunDto")
NODE = Body(ref("NodeIdPath"), required=False)
NODE_PARAMS = ("query:nodeId",)
RUN_404 = {404: "Unknown run (or a run of another experiment)."}
_LABEL_MAP: JSON = {
    "type": "object", "maxProperties": MAX_TAGS,
    "propertyNames": {"minLength": 1, "maxLength": MAX_TAG_KEY, "pattern": NAME_TEXT_PATTERN},
    "additionalProperties": {"anyOf": [
        {"type": "string", "maxLength": MAX_TAG_VALUE, "pattern": FREE_TEXT_PATTERN}, {"type": "null"}]}}
_LABEL_TEXT: JSON = {"anyOf": [{"type": "string", "maxLength": MAX_DESCRIPTION, "pattern": FREE_TEXT_PATTERN},
                               {"type": "null"}]}
RUN_PATCH = Body({"type": "object", "description": "SDK v1's CreateRunDto; its other keys are ignored and listed in"
                  " `x-ms-ignored-keys`.", "properties": {
                      "runId": {"description": "Ignored: the path names the run."},
                      "tags": {**_LABEL_MAP, "description": "Set (null: a tag without a value, kept as \"\")."},
                      "properties": {**_LABEL_MAP, "description": (
                          "Added: one that is there keeps its value (another is a 409), and the service's own"
                          " (azureml.*, runSource, runType, rerunOf) cannot be added.")},
                      "displayName": _LABEL_TEXT, "description": _LABEL_TEXT}})
_LABEL_ERRORS = {**RUN_404, 400: f"A step run (its pipeline run has its tags); a key or value over Azure ML's limits"
                 f" (keys {MAX_TAG_KEY}, values {MAX_TAG_VALUE:,} characters, no control character); a change"
                 f" that makes the run hold over {MAX_TAGS} tags or properties, or over {MAX_TAGS_STORED:,}"
                 " characters of either as JSON; a property of the service's (azureml.*, ...).",
                 409: "A property that is set, with another value."}
CHILDREN = ("query:$filter", "query:$top", "query:$orderby", "query:$sortorder", "query:$continuationToken")
_PARTIAL: JSON = {
    "206": {"description": "The bytes of the range asked for (at most 32 MiB); Content-Range says which.",
            "headers": {"x-ms-request-id": use("headers", "RequestId"),
                        "Content-Range": {"schema": text(), "description": "bytes first-last/size"}},
            "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                "contentMediaType": "application/octet-stream"}}}},
}

LOG_PART: JSON = {
    "206": {"description": "The bytes of the range asked for (at most 8 MiB); Content-Range says which of how many.",
            "headers": _PARTIAL["206"]["headers"],
            "content": {"text/plain": {"schema": {"type": "string"}}}},
}

OPERATIONS: dict[str, Op] = {
    "get_step_status": Op("One step's status", ref("TaskStatusEntity"),
                          "The step is named by `?nodeId=` or, on POST, by the body.", NODE, NODE_PARAMS,
                          {404: "Unknown run or step."}),
    "get_step_status_code": Op("One step's status as a word", ref("StepStatusWord"),
                               "The JSON string SDK v1's StepRun.get_status() reads (\"Finished\").",
                               NODE, NODE_PARAMS, {404: "Unknown run or step."}),
    "get_step_outputs": Op("One step's outputs", ref("NodeOutputs"),
                           "As SDK v1's StepRun.get_outputs() reads them; each Uri lists the output's files.",
                           NODE, NODE_PARAMS, {404: "Unknown run or step."}),
    "list_run_output_files": Op("The files of a step's output", ref("OutputFiles"),
                                params=("query:top", "continuationToken"),
                                errors={404: "Unknown run, step or output, or the output is not written yet."}),
    "run_output_file": Op(
        "A file of a step's output", {"type": "string", "contentMediaType": "application/octet-stream"},
        "Without Range: the whole file, up to 32 MiB (a larger one is a 400 asking for ranges).",
        params=("Range",), media="application/octet-stream", responses=_PARTIAL,
        errors={400: "An unsafe path (.., encoded or not), or a file over 32 MiB asked for without Range.",
                404: "Unknown run, step, output or file.", 416: "A Range outside the file, or several."},
    ),
    "history_get_run": Op("A run (pipeline run or step run)", RUN_DTO, errors=RUN_404),
    "history_patch_run": Op("Tag a run, add properties, name it (SDK v1's run.tag(), add_properties())", RUN_DTO,
                            "The pipeline run as it is after the change.", RUN_PATCH, errors=_LABEL_ERRORS),
    "history_patch_run_by_experiment_id": Op("Tag a run, by its experiment's id", RUN_DTO, body=RUN_PATCH,
                                             errors={**_LABEL_ERRORS, 404: "Unknown experiment or run."}),
    "history_update_experiment": Op(
        "Archive, reactivate or tag an experiment (SDK v1's experiment.archive(), reactivate(), set_tags())",
        ref("ExperimentDto"), "An archived experiment is listed by viewType ArchivedOnly or All, and takes runs as"
        " before. Other keys are ignored and listed in `x-ms-ignored-keys`.",
        Body({"type": "object", "description": "SDK v1's ModifyExperimentDto.", "properties": {
            "name": {"type": "null", "description": "Experiments are not renamed: another name is a 400, its own"
                     " is read as nothing."},
            "archive": {"type": ["boolean", "null"], "description": "true archives, false reactivates."},
            "description": _LABEL_TEXT, "tags": {**_LABEL_MAP, "description": "Set (null: kept as \"\")."}}}),
        errors={404: "Unknown experiment.", 400: "Another name, or a description or tags over the submit's limits."}),
    "history_delete_experiment_tags": Op(
        "Remove an experiment's tags (SDK v1's experiment.remove_tags())", ref("DeleteTagsResultDto"),
        "Keys it does not have are no matter.",
        Body({"type": "object", "required": ["tags"], "description": "SDK v1's DeleteTagsCommandDto.",
              "properties": {"tags": {"type": "array", "items": {"type": "string"}, "description": "The keys."}}}),
        errors={404: "Unknown experiment."}),
    "history_delete_run_tags": Op(
        "Remove a run's tags (SDK v1's run.remove_tags())", RUN_DTO, "Keys it does not have are no matter.",
        Body({"type": "array", "items": {"type": "string"}, "description": "The tags' keys."}), errors=_LABEL_ERRORS),
    "history_get_workspace_run": Op("A run by id alone", RUN_DTO, errors={404: "Unknown run."}),
    "history_get_run_by_experiment_id": Op("A run, by its experiment's id", RUN_DTO,
                                           errors={404: "Unknown experiment or run."}),
    "history_get_run_details": Op("A run's details", ref("RunDetailsDto"), errors=RUN_404),
    "history_get_workspace_run_details": Op("A run's details by id alone", ref("RunDetailsDto"),
                                            errors={404: "Unknown run."}),
    "history_get_children": Op("A run's children: a pipeline run's step runs", ref("PaginatedRunDto"),
                               "In the published definition's order unless $orderby says otherwise.",
                               params=CHILDREN, errors=RUN_404),
    "history_query_runs": Op(
        "Query an experiment's runs", ref("PaginatedRunDto"),
        "Pipeline runs and step runs (`ParentRunId eq null` keeps pipeline runs). Newest first; a filter on"
        " unfinished statuses reads only the runs in flight. A page may hold fewer than `top` runs and still"
        " carry a continuationToken: follow it until it is null.",
        Body(ref("QueryParamsDto"), required=False), errors={404: "Unknown experiment."},
    ),
    "history_metrics_wait": Op("Wait for a run's metrics", obj({}),
                               "Answers at once: runs here keep no metrics in flight.", errors=RUN_404),
    "history_list_experiments": Op("The experiments of the workspace", ref("PaginatedExperimentDto"),
                                   params=("query:$filter", "query:viewType")),
    "history_query_experiments": Op("Query experiments", ref("PaginatedExperimentDto"),
                                    "Filter on name, experimentId, createdUtc.",
                                    Body(ref("QueryParamsDto"), required=False)),
    "history_get_experiment": Op("An experiment", ref("ExperimentDto"), errors={404: "Unknown experiment."}),
    "history_create_experiment": Op("Create an experiment (no run yet)", ref("ExperimentDto"),
                                    "An existing one is answered as it is.",
                                    errors={400: "The name is not a valid experiment name."}),
    "history_get_experiment_by_id": Op("An experiment by id", ref("ExperimentDto"),
                                       errors={404: "Unknown experiment."}),
    "history_list_run_artifacts": Op("A run's artifacts under a prefix", ref("ArtifactListing"),
                                     "SDK v1's get_details() lists user_logs and system_logs here.",
                                     errors={404: "Unknown run."}),
    "history_list_all_run_artifacts": Op("A run's artifacts", ref("ArtifactListing"),
                                         "SDK v1's Run.get_file_names() lists them here: none, the logs are"
                                         " named by the run's details.",
                                         errors={404: "Unknown run."}),
}
