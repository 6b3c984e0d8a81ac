"""Wire models of the run-history family (docs/contract.md §6): camelCase lives here.

Keys are exactly those of SDK v1's generated models (`azureml/_restclient/models`:
RunDto, RunDetailsDto, PaginatedRunDto, ExperimentDto, ErrorResponse), which its
msrest deserializer matches case-sensitively. Every field is written, `None`
included, except where SDK v1 needs an object: `properties`, `tags` and
`logFiles` are always objects, and an error always carries `details` (SDK v1
formats an error by iterating them).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import WithJsonSchema

from pipelines.api.json_types import WholeNumber
from pipelines.api.openapi_parts import any_case

VIEW_TYPES = ("ActiveOnly", "All", "ArchivedOnly")


class HistoryWire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class RootError(HistoryWire):
    code: str = Field(alias="code")
    message: str = Field(alias="message")
    target: str | None = Field(default=None, alias="target")
    details: list[RootError] = Field(default_factory=list, alias="details")


class ErrorResponse(HistoryWire):
    error: RootError = Field(alias="error")
    correlation: dict[str, str] = Field(default_factory=dict, alias="correlation")
    time: str | None = Field(default=None, alias="time")


class CreatedBy(HistoryWire):
    user_object_id: str | None = Field(alias="userObjectId")
    user_tenant_id: str | None = Field(default=None, alias="userTenantId")
    user_name: str | None = Field(alias="userName")


class RunDto(HistoryWire):
    run_id: str = Field(alias="runId")
    parent_run_id: str | None = Field(alias="parentRunId")
    root_run_id: str = Field(alias="rootRunId")
    experiment_id: str = Field(alias="experimentId")
    run_number: int | None = Field(alias="runNumber")
    name: str | None = Field(alias="name")
    display_name: str | None = Field(alias="displayName")
    description: str | None = Field(alias="description")
    status: str = Field(alias="status")
    created_utc: str | None = Field(alias="createdUtc")
    start_time_utc: str | None = Field(alias="startTimeUtc")
    end_time_utc: str | None = Field(alias="endTimeUtc")
    run_type: str = Field(alias="runType")
    target: str = Field(alias="target")
    properties: dict[str, str] = Field(alias="properties")
    tags: dict[str, str] = Field(alias="tags")
    error: ErrorResponse | None = Field(alias="error")
    # What SDK v1 reads besides: the container its log listing asks for, whether to
    # hide the run from lists, where to cancel it, and who submitted it.
    data_container_id: str = Field(alias="dataContainerId")
    hidden: bool = Field(default=False, alias="hidden")
    cancel_uri: str | None = Field(default=None, alias="cancelUri")
    created_by: CreatedBy | None = Field(default=None, alias="createdBy")


class RunDetailsDto(HistoryWire):
    run_id: str = Field(alias="runId")
    target: str = Field(alias="target")
    status: str = Field(alias="status")
    start_time_utc: str | None = Field(alias="startTimeUtc")
    end_time_utc: str | None = Field(alias="endTimeUtc")
    error: ErrorResponse | None = Field(alias="error")
    warnings: list[dict[str, str]] = Field(default_factory=list, alias="warnings")
    properties: dict[str, str] = Field(alias="properties")
    input_datasets: list[dict[str, Any]] = Field(default_factory=list, alias="inputDatasets")
    output_datasets: list[dict[str, Any]] = Field(default_factory=list, alias="outputDatasets")
    run_definition: dict[str, Any] = Field(default_factory=dict, alias="runDefinition")
    log_files: dict[str, str] = Field(default_factory=dict, alias="logFiles")


class PaginatedRunDto(HistoryWire):
    value: list[RunDto] = Field(alias="value")
    continuation_token: str | None = Field(alias="continuationToken")


class ExperimentDto(HistoryWire):
    experiment_id: str = Field(alias="experimentId")
    name: str = Field(alias="name")
    description: str | None = Field(default=None, alias="description")
    created_utc: str | None = Field(alias="createdUtc")
    last_created_run_utc: str | None = Field(alias="lastCreatedRunUtc")
    archived_time: str | None = Field(default=None, alias="archivedTime")
    tags: dict[str, str] = Field(default_factory=dict, alias="tags")


class DeleteTagsResultDto(HistoryWire):
    """The answer of removing an experiment's tags (SDK v1's `DeleteExperimentTagsResultDto`)."""

    errors: dict[str, Any] = Field(default_factory=dict, alias="errors",
                                   description="Always empty: a key the experiment does not have is no matter.")


class PaginatedExperimentDto(HistoryWire):
    value: list[ExperimentDto] = Field(alias="value")
    continuation_token: str | None = Field(alias="continuationToken")


class QueryParamsDto(BaseModel):
    """The body of `runs:query` (and `experiments:query`); unknown keys are ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    filter: str | None = Field(default=None, alias="filter")
    continuation_token: str | None = Field(default=None, alias="continuationToken")
    orderby: str | None = Field(default=None, alias="orderby")
    top: WholeNumber | None = Field(default=None, alias="top", ge=1, le=1000)
    view_type: Annotated[str, WithJsonSchema({"type": "string", "pattern": any_case(*VIEW_TYPES, "")})] | None = Field(
        default=None, alias="viewType", description="ActiveOnly (the default), All or ArchivedOnly, in any case.")

    @field_validator("view_type")
    @classmethod
    def _view_type(cls, value: str | None) -> str | None:
        if value and value.lower() not in (v.lower() for v in VIEW_TYPES):
            raise ValueError(f"must be {', '.join(VIEW_TYPES[:-1])} or {VIEW_TYPES[-1]}")
        return value
