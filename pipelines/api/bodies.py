"""Request bodies of the pipelines family and of datastores and datasets, as wire models.

What the handlers read (`pipelines.runs.request`, `pipelines.api.catalogue`,
`pipelines.api.endpoint_requests`, `pipelines.api.data_requests`, `pipelines.api.runs`),
in the keys the contract writes: OpenAPI documents them from here
(`pipelines.api.openapi`); `tests/unit/test_request_bodies.py` holds the keys the
endpoint and data parsers read to these models' aliases. The handlers match
keys in any case and ignore unknown ones (`extra="ignore"` here). A key that
may be left out is `omissible`: its null is read as absent, so the document
shows its type alone; where null means something of its own (an endpoint's
Description: none), the document shows null too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.config import JsonDict
from pydantic.json_schema import JsonSchemaMode

from pipelines.api.data import DataPathEntity
from pipelines.authoring.definition import PipelineDefinition

SUBMIT_TEXT_LIMIT = 4096  # pipelines.runs.request._TEXT_LIMIT
LABELS_NOTE = "Scalars are kept as text."
FLAG_NOTE = "true or false (also the strings, or 1 and 0)."

# Tags and Properties of a submit or a publish: scalars, each kept as its text.
Labels = dict[str, str | int | float | bool | None]
# true, false, "true", "false", "1", "0" (pipelines.api.data_requests.flag).
Flag = bool | str | None


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


def omissible(alias: str, description: str | None = None, *, nullable: bool = False, **constraints: Any) -> Any:
    """A key that may be left out; null is the same to the handlers unless `nullable` says null means
    something of its own (then the document shows it)."""
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
        description="Active, Deprecated or Disabled (any case), or the digit as a string.")]]):
    pass


class PipelineStatusBody(_Body):
    entity_status: EntityStatusValue | None = omissible("EntityStatus")
    status: EntityStatusValue | None = omissible("Status")


class PipelineStatusRequest(RootModel[EntityStatusValue | PipelineStatusBody]):
    """The JSON string "Active", "Deprecated" or "Disabled" (or 0, 1, 2)."""


# -- submit ------------------------------------------------------------------------------------------
class SavedDataSetReference(_Body):
    id: str = Field(alias="Id")


class DataSetReference(_Body):
    id: str | None = omissible("Id")
    name: str | None = omissible("Name")
    version: str | int | None = omissible("Version")


class SavedDataSetAssignment(_Body):
    saved_data_set_reference: SavedDataSetReference = Field(alias="SavedDataSetReference")


class DataSetReferenceAssignment(_Body):
    data_set_reference: DataSetReference = Field(alias="DataSetReference")


class LiteralValueAssignment(_Body):
    literal_value: DataPathEntity = Field(alias="LiteralValue")


class DataSetAssignment(RootModel[SavedDataSetAssignment | DataSetReferenceAssignment | LiteralValueAssignment]):
    """A registered dataset (by id, or by name and version: the latest when none) or a path."""


def _text(alias: str, description: str) -> Any:
    return omissible(alias, description, max_length=SUBMIT_TEXT_LIMIT)


class SubmitRequest(_Body):
    """The submit body of every submit route (docs/contract.md §2). Keys are matched case-insensitively
    (`tags` and `Tags`); `{}` or no body is valid. An unknown or uncoercible assignment is a 400
    listing every bad key in `Details`. A top-level key that is a near miss of a known one
    (`ParamAssignments`) is a 400 naming the key it meant; other unknown keys are accepted and
    named in the answer's `x-ms-ignored-keys` header."""

    experiment_name: str | None = _text("ExperimentName", "Groups runs; default: the pipeline's name.")
    description: str | None = _text("Description", "Default: the pipeline's name.")
    run_source: str | None = _text("RunSource", "Who started it; default API.")
    run_type: str | int | None = omissible("RunType", "Default HTTP.")
    parameter_assignments: dict[str, str | int | float | bool] | None = omissible(
        "ParameterAssignments", "PipelineParameter name to value, coerced to its declared type ('20', 20).")
    datapath_assignments: dict[str, DataPathEntity] | None = omissible("DataPathAssignments")
    dataset_assignments: dict[str, DataSetAssignment] | None = omissible("DataSetDefinitionValueAssignments")
    tags: Labels | None = omissible("Tags", LABELS_NOTE)
    properties: Labels | None = omissible("Properties", LABELS_NOTE)
    continue_on_step_failure: bool | str | None = omissible(
        "ContinueRunOnStepFailure", "true or false (or the strings): overrides the pipeline's.")
    allow_step_reruns: bool | str | None = omissible(
        "AllowStepReruns", "Our addition; true or false (or the strings). True: a step declared "
        "idempotent=False runs again when its worker was lost after its script exited 0 (default: it fails).")
    schedule_id: str | None = omissible("ScheduleId")
    display_name: str | None = omissible("DisplayName")
    parent_run_id: str | None = omissible("ParentRunId", "Recorded on the run; ?parentRunId= wins.")
    enable_notification: Any = omissible("EnableNotification", "Accepted and ignored.")
    az_dev_ops_callback_info: Any = omissible("AzDevOpsCallBackInfo", "Accepted and never stored (it holds a token).")


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
class CreateEndpointRequest(_Body):
    name: str = Field(alias="Name", description="Unique in the workspace.")
    description: str | None = omissible("Description")
    pipeline_id: str = Field(alias="PipelineId", description="Becomes version 0.")
    properties: dict[str, str] | None = omissible("Properties")
    tags: dict[str, str] | None = omissible("tags")


class PipelineVersionRequest(_Body):
    version: str | int | None = omissible("Version", "Absent: the next number.", nullable=True)
    pipeline_id: str = Field(alias="PipelineId")


class UpdateEndpointRequest(_Body):
    """The whole entity, read-modify-write; keys absent from the body keep their value."""

    id: str | None = omissible("Id", "Must match the path when given.")
    name: str | None = omissible("Name")
    description: str | None = omissible("Description", nullable=True)
    default_version: str | int | None = omissible("DefaultVersion", "A version of the list.")
    pipeline_version_list: list[PipelineVersionRequest] | None = omissible(
        "PipelineVersionList", "An existing version never changes its pipeline; a pipeline appears once.",
        min_length=1)
    entity_status: EntityStatusValue | None = omissible("EntityStatus")
    etag: str | None = omissible("Etag", "Must match the stored one, else 412 (wins over If-Match).")
    properties: dict[str, str] | None = omissible("Properties")
    tags: dict[str, str] | None = omissible("tags")


# -- datastores and datasets ---------------------------------------------------------------------------
class DatastoreRequest(_Body):
    """The same registration again answers the datastore unchanged; another one needs Overwrite."""

    name: str | None = omissible("Name", "Required on POST; on PUT it must match the path when given.")
    container_name: str = Field(alias="ContainerName", description=(
        "A container: 3 to 63 lowercase letters, digits and single dashes."))
    account_url: str | None = omissible("AccountUrl", "https://NAME.blob.core.windows.net; absent: the app's own"
                                        " account.")
    description: str | None = omissible("Description")
    overwrite: Flag = omissible("Overwrite", FLAG_NOTE)
    create_if_not_exists: Flag = omissible("CreateIfNotExists", FLAG_NOTE)


class DatasetRequest(_Body):
    name: str = Field(alias="Name")
    dataset_type: str = Field(alias="DatasetType", description="Tabular or File (any case).")
    paths: list[DataPathEntity] | DataPathEntity = Field(
        alias="Paths", description="Files, folders or globs (*, ?, [...], **) on datastores.")
    separator: str | None = omissible("Separator", "Tabular: one character; default ','.", max_length=1)
    header: bool | None = omissible("Header", "Tabular: a header line; default true.")
    encoding: str | None = omissible("Encoding", "Tabular: a text encoding; default utf-8.")
    description: str | None = omissible("Description")
    tags: dict[str, str] | None = omissible("Tags")
    create_new_version: Flag = omissible("CreateNewVersion", "Default true; false: 409 when the name exists.")
    validate_paths: Flag = omissible("Validate", "Default true: the paths must match files.")


# What OpenAPI documents (pipelines.api.openapi): every body as it is read.
MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = tuple(
    (model, "validation") for model in (
        EntityStatusValue, PipelineStatusRequest, DataSetAssignment, SubmitRequest, NodeIdPath, PublishRequest,
        CreateEndpointRequest, UpdateEndpointRequest, DatastoreRequest, DatasetRequest,
    )
)
