"""The smaller answer bodies, as wire models: the handlers build them from here.

The error JSON (`pipelines.api.http.error_model`; `ErrorDetail` is also a firing's,
`pipelines.api.automation_answers`), a stored snapshot (`catalogue.upload_snapshot`),
step statuses and outputs (`pipelines.api.runs`, `pipelines.api.outputs`), a deleted
trigger or schedule, the health answer and the empty artifact listing of the
run-history family. OpenAPI documents them from here (`pipelines.api.openapi`); as
every answer model, each serialises every field, `None` included
(`pipelines.api.contract`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, RootModel
from pydantic.json_schema import JsonSchemaMode

from pipelines.api.contract import TaskStatusEntity, Wire
from pipelines.api.history_contract import HistoryWire, RootError


# -- errors ----------------------------------------------------------------------------------------------
class ErrorDetail(Wire):
    code: str = Field(alias="Code")
    message: str = Field(alias="Message")
    target: str | None = Field(alias="Target")


class ErrorInfo(ErrorDetail):
    details: list[ErrorDetail] = Field(alias="Details")


class Correlation(Wire):
    request_id: str = Field(alias="RequestId")


class Error(Wire):
    """Every error answer (docs/contract.md §4)."""

    error: ErrorInfo = Field(alias="Error")
    correlation: Correlation = Field(alias="Correlation")


class HistoryError(Error):
    """An error answer of the run-history and artifact routes: the contract's, and the same in the
    keys Azure ML's own services answer with (`error`, `correlation`), which SDK v1's generated
    clients read (`ErrorResponse`): without them its exceptions name only the status."""

    sdk_error: RootError = Field(alias="error")
    sdk_correlation: dict[str, str] = Field(alias="correlation")


# -- the catalogue, runs, triggers and schedules ---------------------------------------------------------
class SnapshotUploaded(Wire):
    hash: str = Field(alias="Hash")
    size: int = Field(alias="Size")
    files: int = Field(alias="Files")
    created: bool = Field(alias="Created", description="false when the same snapshot was stored before.")


class StepStatuses(RootModel[dict[str, TaskStatusEntity]]):
    """Node id to the step's status."""


class StepStatusWord(RootModel[Literal["NotStarted", "Queued", "Running", "Failed", "Finished", "Canceled",
                                       "PartiallyExecuted", "Bypassed"]]):
    pass


class TriggerDeleted(Wire):
    name: str = Field(alias="Name")
    deleted: Literal[True] = Field(alias="Deleted")


_STORAGE_STATE = '"ok", else "unavailable ..."'


class StorageHealth(Wire):
    table: str = Field(description=_STORAGE_STATE)
    blob: str = Field(description=_STORAGE_STATE)
    queue: str = Field(description=_STORAGE_STATE)


class Health(Wire):
    status: Literal["Healthy", "Unhealthy"] = Field(alias="Status")
    configuration: str = Field(alias="Configuration",
                               description='"valid", else "invalid: ..." (the app\'s log names the settings)')
    storage: StorageHealth = Field(alias="Storage")
    version: str = Field(alias="Version", description="The app's version.")


# -- step outputs (SDK v1's names) -------------------------------------------------------------------------
class AzureBlobReference(Wire):
    aml_data_store_name: str = Field(alias="AmlDataStoreName")
    container: str = Field(alias="Container")
    relative_path: str = Field(alias="RelativePath")
    uri: str = Field(alias="Uri", description="This service's listing of the output: the same token reads it.")
    account: str | None = Field(alias="Account")
    sas_token: str | None = Field(alias="SasToken")


class DataReference(Wire):
    type: Literal["AzureBlob"] = Field(alias="Type")
    azure_blob_reference: AzureBlobReference = Field(alias="AzureBlobReference")


class DataLocation(Wire):
    storage_type: str = Field(alias="StorageType")
    storage_id: str | None = Field(alias="StorageId")
    uri: str = Field(alias="Uri", description="The output's listing.")
    data_reference: DataReference = Field(alias="DataReference")


class NodeOutput(Wire):
    data_type_id: str = Field(alias="DataTypeId")
    logical_size_in_bytes: int | None = Field(alias="LogicalSizeInBytes")
    physical_size_in_bytes: int | None = Field(alias="PhysicalSizeInBytes")
    hash: str | None = Field(alias="Hash", description="sha256 over the sorted lines `path\\tsize\\tsha256`.")
    file_count: int | None = Field(alias="FileCount")
    data_location: DataLocation = Field(alias="DataLocation")


class NodeOutputs(RootModel[dict[str, NodeOutput]]):
    """Output name to what the step wrote there; {} before the step finished."""


class OutputFileEntity(Wire):
    path: str = Field(alias="Path", description="Relative to the output, '/'-separated.")
    size: int = Field(alias="Size")
    last_modified: str | None = Field(alias="LastModified")
    url: str = Field(alias="Url", description="GET it with the same token; Range works.")


class OutputFiles(Wire):
    name: str = Field(alias="Name")
    run_id: str = Field(alias="RunId")
    step_run_id: str = Field(alias="StepRunId")
    node_id: str = Field(alias="NodeId")
    step_name: str = Field(alias="StepName")
    file_count: int | None = Field(alias="FileCount")
    total_size_in_bytes: int | None = Field(alias="TotalSizeInBytes")
    hash: str | None = Field(alias="Hash")
    files: list[OutputFileEntity] = Field(alias="Files")
    continuation_token: str | None = Field(alias="ContinuationToken", description="Pass back as ?continuationToken=.")


class ArtifactListing(HistoryWire):
    """Always empty: the logs are named by the run's details."""

    value: list[Any] = Field(alias="value", max_length=0)
    continuation_token: None = Field(alias="continuationToken")


# -- what SDK v1's own clients read besides the contract's routes (pipelines/api/aml.py) --------------
class DataTypeEntity(Wire):
    """A data type of Azure ML's pipelines service: every `azureml.pipeline.core` object reads the list."""

    id: str = Field(alias="Id")
    name: str = Field(alias="Name")
    description: str = Field(alias="Description")
    is_directory: bool = Field(alias="IsDirectory")
    parent_data_type_ids: list[str] = Field(alias="ParentDataTypeIds")
    entity_status: Literal["Active"] = Field(alias="EntityStatus")


class AzureStorageSection(HistoryWire):
    account_name: str = Field(alias="accountName")
    container_name: str = Field(alias="containerName")
    endpoint: str = Field(alias="endpoint", description="The blob endpoint's suffix: core.windows.net in Azure.")
    protocol: str = Field(alias="protocol")
    credential_type: Literal["None"] = Field(
        alias="credentialType", description="None: no key or SAS is ever given out; read outputs through this service.")


class AmlDatastoreDto(HistoryWire):
    """A datastore as Azure ML's datastore service answers it (camelCase), for SDK v1's `Datastore.get`."""

    name: str = Field(alias="name")
    data_store_type: Literal["AzureBlob"] = Field(alias="dataStoreType")
    azure_storage_section: AzureStorageSection = Field(alias="azureStorageSection")


# What OpenAPI documents (pipelines.api.openapi): every answer as it is written.
MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = tuple(
    (model, "serialization") for model in (
        Error, SnapshotUploaded, StepStatuses, StepStatusWord, TriggerDeleted, Health, NodeOutputs, OutputFiles,
        ArtifactListing, DataTypeEntity, AmlDatastoreDto,
    )
)
