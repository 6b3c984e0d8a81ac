"""Request bodies of the pipelines family and of datastores and datasets, as wire models.

What the handlers read (`pipelines.runs.request`, `pipelines.api.catalogue`,
`pipelines.api.endpoint_requests`, `pipelines.api.data_requests`, `pipelines.api.runs`),
in the keys the contract writes: OpenAPI documents them from here
(`pipelines.api.openapi`); `tests/unit/test_request_bodies.py` holds the keys the
endpoint and data parsers read to these models' aliases. The handlers match
keys in any case and ignore unknown ones (`extra="ignore"` here). A key that
may be left out is `omissible`, and its null is documented: the handlers read it
as absent (or, as an endpoint's Description, as none). The document says what
the server takes, no more and no less: tests/integration/test_schemathesis.py
sends both sides of every rule written here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.config import JsonDict
from pydantic.json_schema import JsonSchemaMode, WithJsonSchema

from pipelines.api.data import DataPathEntity
from pipelines.api.openapi_parts import any_case, pattern_of
from pipelines.authoring.definition import PipelineDefinition
from pipelines.catalogue import webhooks
from pipelines.catalogue.endpoints import MAX_TEXT as ENDPOINT_TEXT
from pipelines.catalogue.endpoints import NAME as ENDPOINT_NAME
from pipelines.data import datasets, datastores
from pipelines.store.tables import KEY_PATTERN
from pipelines.text import (
    DESCRIPTION_RULE,
    EXPERIMENT_NAME,
    EXPERIMENT_NAME_RULE,
    FREE_TEXT_PATTERN,
    MAX_DESCRIPTION,
    MAX_TAG_KEY,
    MAX_TAG_VALUE,
    MAX_TAGS,
    NAME_TEXT_PATTERN,
    TAG_KEY_RULE,
    TAG_VALUE_RULE,
    TAGS_RULE,
)

SUBMIT_TEXT_LIMIT = 4096  # pipelines.runs.request._TEXT_LIMIT
LABELS_NOTE = "Scalars are kept as text."
FLAG_NOTE = "true or false (also the strings, or 1 and 0, in any case; \"\" is false)."

# Tags and Properties of a submit or a publish: scalars, each kept as its text.
Labels = dict[str, str | int | float | bool | None]
# true, false, "true", "false", "1", "0" in any case, "" (pipelines.api.data_requests.flag).
FLAG_TEXT = any_case("true", "false", "1", "0", "")
Flag = bool | Annotated[str, Field(pattern=FLAG_TEXT)] | None
# ContinueRunOnStepFailure, AllowStepReruns (pipelines.runs.request): a boolean, or "true" or "false" in any case.
TrueFalse = bool | Annotated[str, Field(pattern=any_case("true", "false"))] | None
# A submit's texts (pipelines.runs.request.text): a string, or a number kept as its text.
SubmitText = Annotated[str, Field(max_length=SUBMIT_TEXT_LIMIT)] | float | None
# An id that is looked up (a Table key: pipelines.store.tables.key).
Key = Annotated[str, Field(pattern=KEY_PATTERN)]
# Objects whose values are kept as given (an endpoint's Properties and tags: a non-string as its JSON).
AnyValues = dict[str, Any]
# A run's Tags (pipelines.text.tags_problems): Azure ML's limits, and all of them within one Table property.
RUN_TAGS: JsonDict = {
    "type": "object",
    "maxProperties": MAX_TAGS,
    "propertyNames": {"minLength": 1, "maxLength": MAX_TAG_KEY, "pattern": NAME_TEXT_PATTERN},
    "additionalProperties": {"anyOf": [
        {"type": "string", "maxLength": MAX_TAG_VALUE, "pattern": FREE_TEXT_PATTERN},
        {"type": "number"}, {"type": "boolean"}, {"type": "null"},
    ]},
    "description": (
        f"Labels copied onto the run; scalars are kept as text. {TAGS_RULE[0].upper()}{TAGS_RULE[1:]}; "
        f"{TAG_KEY_RULE}; {TAG_VALUE_RULE}."
    ),
}
RunTags = Annotated[dict[str, Any], WithJsonSchema(RUN_TAGS)]


# -- documenting -------------------------------------------------------------------------------------
def _no_default(schema: JsonDict) -> None:
    if "default" in schema and schema["default"] is None:
        del schema["default"]


def _not_null(schema: JsonDict) -> None:
    """`anyOf: [X, null], default: null` documented as X: the key may be left out."""
    _no_default(schema)
    branches = schema.get("anyOf")
    if not isinstance(branches, list) or {"type": "null"} not in branches:
        return
    kept = [branch for branch in branches if branch != {"type": "null"}]
    if len(kept) == 1 and isinstance(kept[0], dict):
        del schema["anyOf"]
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept


def omissible(alias: str, description: str | None = None, *, nullable: bool = True, **constraints: Any) -> Any:
    """A key that may be left out. Its null is documented: the handlers read it as absent (or, where
    null means something of its own, as that), and a document that left it out would call a body
    the server takes invalid. `nullable=False`: a null is refused, so the type alone is shown."""
    return Field(None, alias=alias, description=description, json_schema_extra=_no_default if nullable else _not_null,
                 **constraints)


def one_line(schema: JsonDict) -> None:
    """A docstring wrapped in the source is one paragraph in the document."""
    description = schema.get("description")
    if isinstance(description, str):
        schema["description"] = description.replace("\n", " ")


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra=one_line)


# -- the entity status -------------------------------------------------------------------------------
class EntityStatusValue(RootModel[Literal[0, 1, 2] | Annotated[str, Field(
        pattern=any_case("Active", "Deprecated", "Disabled", "0", "1", "2"),
        description="Active, Deprecated or Disabled (any case), or the digit as a string.")]]):
    pass


def _status_body(schema: JsonDict) -> None:
    """The status is EntityStatus; when that is null or absent, Status (pipelines.api.catalogue)."""
    one_line(schema)
    given: JsonDict = {"not": {"type": "null"}}
    schema["anyOf"] = [
        {"required": ["EntityStatus"], "properties": {"EntityStatus": given}},
        {"required": ["Status"], "properties": {"EntityStatus": {"type": "null"}, "Status": given}},
    ]


class PipelineStatusBody(_Body):
    """{"EntityStatus": ...}, or {"Status": ...}."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_status_body)
    entity_status: EntityStatusValue | None = omissible("EntityStatus")
    status: EntityStatusValue | None = omissible("Status")


class PipelineStatusRequest(RootModel[EntityStatusValue | PipelineStatusBody]):
    """The JSON string "Active", "Deprecated" or "Disabled" (or 0, 1, 2)."""


# -- submit ------------------------------------------------------------------------------------------
class SavedDataSetReference(_Body):
    id: str = Field(alias="Id", min_length=1)


class DataSetReference(_Body):
    id: str | None = omissible("Id")
    name: str | None = omissible("Name")
    version: str | int | None = omissible("Version")


def _one_form(schema: JsonDict) -> None:
    """A data set assignment holds its one form, and no other key (pipelines.runs.request)."""
    one_line(schema)
    schema["maxProperties"] = 1


class SavedDataSetAssignment(_Body):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_one_form)
    saved_data_set_reference: SavedDataSetReference = Field(alias="SavedDataSetReference")


class DataSetReferenceAssignment(_Body):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_one_form)
    data_set_reference: DataSetReference = Field(alias="DataSetReference")


class LiteralValueAssignment(_Body):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_one_form)
    literal_value: DataPathEntity = Field(alias="LiteralValue")


class DataSetAssignment(RootModel[SavedDataSetAssignment | DataSetReferenceAssignment | LiteralValueAssignment]):
    """A registered dataset (by id, or by name and version: the latest when none) or a path."""


LOOSE_NOTE = ("Any value, never an error: a string or a number is kept as its text (at most 4096 characters);"
              " anything else is ignored and named in the `x-ms-ignored-keys` header.")


class SubmitRequest(_Body):
    """The submit body of every submit route (docs/contract.md §2). Keys are matched case-insensitively
    (`tags` and `Tags`); `{}` or no body is valid. An unknown or uncoercible assignment is a 400
    listing every bad key in `Details`. A top-level key that is a near miss of a known one
    (`ParamAssignments`) is a 400 naming the key it meant; other unknown keys are accepted and
    named in the answer's `x-ms-ignored-keys` header."""

    experiment_name: Annotated[str, Field(pattern=f"^(?:{EXPERIMENT_NAME.pattern})?$")] | None = omissible(
        "ExperimentName", f"Groups runs; default (or \"\"): the pipeline's name. {EXPERIMENT_NAME_RULE[0].upper()}"
        f"{EXPERIMENT_NAME_RULE[1:]}.")
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION, pattern=FREE_TEXT_PATTERN)] | float | None = (
        omissible("Description", f"Default: the pipeline's name; a number is kept as its text. "
                  f"{DESCRIPTION_RULE[0].upper()}{DESCRIPTION_RULE[1:]}."))
    run_source: SubmitText = omissible("RunSource", "Who started it; default API.")
    run_type: SubmitText = omissible("RunType", "Default HTTP.")
    parameter_assignments: dict[str, str | int | float | bool] | None = omissible(
        "ParameterAssignments", "PipelineParameter name to value, coerced to its declared type ('20', 20).")
    datapath_assignments: dict[str, DataPathEntity] | None = omissible("DataPathAssignments")
    dataset_assignments: dict[str, DataSetAssignment] | None = omissible("DataSetDefinitionValueAssignments")
    tags: RunTags | None = omissible("Tags")
    properties: Labels | None = omissible("Properties", LABELS_NOTE)
    continue_on_step_failure: TrueFalse = omissible(
        "ContinueRunOnStepFailure", "true or false (or the strings, in any case): overrides the pipeline's.")
    allow_step_reruns: TrueFalse = omissible(
        "AllowStepReruns", "Our addition; true or false (or the strings). True: a step declared "
        "idempotent=False runs again when its worker was lost after its script exited 0 (default: it fails).")
    regenerate_outputs: TrueFalse = omissible(
        "RegenerateOutputs", "SDK v1's regenerate_outputs; true or false (or the strings). True: every step runs,"
        " none takes an earlier execution's outputs (default: a step with allow_reuse whose reuse key an earlier"
        " execution finished with is not run again; its ReuseInfo says whose outputs it took).")
    schedule_id: Any = omissible("ScheduleId", LOOSE_NOTE)
    display_name: Any = omissible("DisplayName", LOOSE_NOTE)
    parent_run_id: SubmitText = omissible("ParentRunId", "Recorded on the run; ?parentRunId= wins.")
    enable_notification: Any = omissible("EnableNotification", "Accepted and ignored.")
    az_dev_ops_callback_info: Any = omissible("AzDevOpsCallBackInfo", (
        "The Azure DevOps job waiting for the run (PlanUri, ProjectId, HubName, PlanId, JobId, TaskInstanceId,"
        " AuthToken): told of its end by a TaskCompleted job event; never in an answer. Unusable information"
        " is named in x-ms-ignored-keys, never an error."))


class RerunRequest(_Body):
    """Optional: with no body, the rerun has the first run's parameters. A near miss of
    `ParameterAssignments` is a 400 naming it; other keys are ignored and listed in `x-ms-ignored-keys`."""

    parameter_assignments: dict[str, str | int | float | bool] | None = omissible(
        "ParameterAssignments", "Parameters to change, coerced to their declared types; the others keep the"
        " first run's values.")


class NodeIdPath(RootModel[Annotated[list[str], Field(min_length=1)] | str]):
    """The node id path, e.g. ["<nodeId>"]; its last element is the step."""


# -- publishing ----------------------------------------------------------------------------------------
class PublishRequest(_Body):
    """Every snapshot the definition names must be uploaded first (`PUT .../Snapshots/{sha256}`)."""

    name: str | None = omissible("Name")
    description: str | None = omissible("Description")
    version: str | int | float | None = omissible("Version")
    definition: PipelineDefinition = Field(alias="Definition")
    properties: Labels | None = omissible("Properties", LABELS_NOTE)
    continue_run_on_step_failure: bool | None = omissible("ContinueRunOnStepFailure", "Overrides the definition's.")


# -- pipeline endpoints ------------------------------------------------------------------------------
EndpointName = Annotated[str, Field(pattern=pattern_of(ENDPOINT_NAME))]
EndpointText = Annotated[str, Field(max_length=ENDPOINT_TEXT)]


class WebhookRequest(_Body):
    """A URL that receives the events of the endpoint's runs (docs/contract.md §7), keys as written."""

    url: Annotated[str, Field(max_length=webhooks.MAX_URL, pattern=pattern_of(webhooks.HTTPS_URL))] = Field(
        alias="Url", description="https://host[:port][/path]. Plain http:// only to 127.0.0.1 or localhost, and only"
        " where the development setting PIPELINES_WEBHOOKS_ALLOW_LOCAL_HTTP allows it.")
    secret_setting: Annotated[str, Field(pattern=pattern_of(webhooks.SECRET_SETTING))] = Field(
        alias="SecretSetting", description="The name of the app setting holding the signing secret (in Azure, a Key"
        " Vault reference); the secret is never stored in the catalogue nor shown.")


Webhooks = Annotated[list[WebhookRequest], Field(max_length=webhooks.MAX_WEBHOOKS)]
WEBHOOKS_NOTE = "Our addition: where the events of its runs go too; null or [] for none."


class CreateEndpointRequest(_Body):
    name: EndpointName = Field(alias="Name", description="Unique in the workspace.")
    description: EndpointText | None = omissible("Description")
    pipeline_id: Key = Field(alias="PipelineId", description="Becomes version 0.")
    properties: AnyValues | None = omissible("Properties", "A value that is no string is kept as its JSON.")
    tags: AnyValues | None = omissible("tags", "A value that is no string is kept as its JSON.")
    webhooks: Webhooks | None = omissible("Webhooks", WEBHOOKS_NOTE)


class PipelineVersionRequest(_Body):
    version: str | int | None = omissible("Version", "Absent, null or \"\": the next number.")
    pipeline_id: Key = Field(alias="PipelineId")


class UpdateEndpointRequest(_Body):
    """The whole entity, read-modify-write; keys absent from the body keep their value, and a null
    EntityStatus or DefaultVersion too; a null Description, Properties or tags clears it."""

    id: str | None = omissible("Id", "Must match the path when given.")
    name: EndpointName = omissible("Name", nullable=False)
    description: EndpointText | None = omissible("Description")
    default_version: str | int | None = omissible("DefaultVersion", "A version of the list.")
    pipeline_version_list: list[PipelineVersionRequest] = omissible(
        "PipelineVersionList",
        "Every existing version, with its pipeline; a new one is the highest number plus one; a pipeline appears once.",
        nullable=False, min_length=1)
    entity_status: EntityStatusValue | None = omissible("EntityStatus")
    etag: str | None = omissible(
        "Etag",
        "When sent, must match the stored one, else 412 (as must If-Match when both are sent); with neither, the last"
        " writer wins.")
    properties: AnyValues | None = omissible("Properties", "A value that is no string is kept as its JSON.")
    tags: AnyValues | None = omissible("tags", "A value that is no string is kept as its JSON.")
    webhooks: Webhooks | None = omissible("Webhooks", WEBHOOKS_NOTE + " Absent: kept.")


# -- datastores and datasets ---------------------------------------------------------------------------
# https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata
CONTAINER_NAME = "^[a-z0-9]+(?:-[a-z0-9]+)*$"
BLOB_ENDPOINT = (
    "^(?:|https://[a-z0-9]{3,24}\\.(?:blob\\.core\\.(?:windows\\.net|chinacloudapi\\.cn|usgovcloudapi\\.net)"
    "|z[0-9]{1,2}\\.blob\\.storage\\.azure\\.net)/?)$"
)


class DatastoreRequest(_Body):
    """The same registration again answers the datastore unchanged; another one needs Overwrite."""

    name: Annotated[str, Field(pattern=pattern_of(datastores.NAME))] | None = omissible(
        "Name", "Required on POST; on PUT it must match the path when given.")
    container_name: Annotated[str, Field(min_length=3, max_length=63, pattern=CONTAINER_NAME)] = Field(
        alias="ContainerName", description="A container: 3 to 63 lowercase letters, digits and single dashes.")
    account_url: Annotated[str, Field(pattern=BLOB_ENDPOINT)] | None = omissible(
        "AccountUrl", "https://NAME.blob.core.windows.net; absent, null or \"\": the app's own account.")
    description: Annotated[str, Field(max_length=datastores.MAX_DESCRIPTION)] | None = omissible("Description")
    overwrite: Flag = omissible("Overwrite", FLAG_NOTE)
    create_if_not_exists: Flag = omissible("CreateIfNotExists", FLAG_NOTE)


class DatasetRequest(_Body):
    name: Annotated[str, Field(pattern=pattern_of(datasets.NAME))] = Field(alias="Name")
    dataset_type: Annotated[str, Field(pattern=any_case("Tabular", "File"))] = Field(
        alias="DatasetType", description="Tabular or File (any case).")
    paths: list[DataPathEntity] | DataPathEntity = Field(
        alias="Paths", description="Files, folders or globs (*, ?, [...], **) on datastores.")
    separator: str | None = omissible("Separator", "Tabular: one character, no quote or line break; default ','.",
                                      min_length=1, max_length=1)
    header: bool | None = omissible("Header", "Tabular: a header line; default true.")
    encoding: str | None = omissible("Encoding", "Tabular: a text encoding; default utf-8.")
    description: Annotated[str, Field(max_length=datasets.MAX_TEXT)] | None = omissible("Description")
    tags: dict[str, str | int | float | bool] | None = omissible("Tags", "Scalars are kept as text.")
    create_new_version: Flag = omissible("CreateNewVersion", "Default true; false: 409 when the name exists.")
    validate_paths: Flag = omissible("Validate", "Default true: the paths must match files.")


# What OpenAPI documents (pipelines.api.openapi): every body as it is read.
MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = tuple(
    (model, "validation") for model in (
        EntityStatusValue, PipelineStatusRequest, DataSetAssignment, SubmitRequest, RerunRequest, NodeIdPath,
        PublishRequest,
        CreateEndpointRequest, UpdateEndpointRequest, DatastoreRequest, DatasetRequest,
    )
)
