"""Wire models of the old service (docs/contract.md §3): PascalCase lives only here.

Keys are written exactly as the old AutoRest client reads them (it matches keys
case-sensitively); fields inside the package are snake_case and the aliases
carry the wire names. Extra keys are allowed by the contract, missing ones are
not: every model serialises every field, `None` included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def wire_time(value: datetime | None) -> str | None:
    """ISO 8601 with microseconds and offset, as the old service wrote it."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds")


class Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class PipelineEntity(Wire):
    id: str = Field(alias="Id")
    name: str | None = Field(alias="Name")
    description: str | None = Field(alias="Description")
    version: str | None = Field(alias="Version")
    entity_status: int = Field(alias="EntityStatus")
    url: str = Field(alias="Url")
    total_run_steps: int = Field(alias="TotalRunSteps")
    graph_id: str = Field(alias="GraphId")
    continue_run_on_step_failure: bool = Field(alias="ContinueRunOnStepFailure")
    parameter_assignments: dict[str, str] = Field(alias="ParameterAssignments")
    data_set_definition_value_assignments: dict[str, Any] = Field(
        alias="DataSetDefinitionValueAssignments"
    )
    etag: str | None = Field(alias="Etag")
    created_date: str | None = Field(alias="CreatedDate")
    last_modified_date: str | None = Field(alias="LastModifiedDate")
    properties: dict[str, str] = Field(alias="Properties")
    # Our own additions (extra keys are allowed): the code identity of the pipeline, and
    # each parameter's declared type (int, float, bool, string, dataset, datapath).
    snapshot_id: str | None = Field(default=None, alias="SnapshotId")
    parameter_types: dict[str, str] = Field(default_factory=dict, alias="ParameterTypes")


class PipelineVersion(Wire):
    version: str = Field(alias="Version")
    pipeline_id: str = Field(alias="PipelineId")


class WebhookEntity(Wire):
    """A URL that receives the events of the endpoint's runs, signed with the secret in an app setting."""

    url: str = Field(alias="Url")
    secret_setting: str = Field(alias="SecretSetting", description="The app setting holding the signing secret"
                                " (its name; the secret is never shown).")


class PipelineEndpointEntity(Wire):
    id: str = Field(alias="Id")
    name: str = Field(alias="Name")
    description: str | None = Field(alias="Description")
    default_version: str = Field(alias="DefaultVersion")
    pipeline_version_list: list[PipelineVersion] = Field(alias="PipelineVersionList")
    entity_status: int = Field(alias="EntityStatus")
    url: str = Field(alias="Url")
    swagger_url: str | None = Field(alias="SwaggerUrl")
    etag: str | None = Field(alias="Etag")
    created_date: str | None = Field(alias="CreatedDate")
    last_modified_date: str | None = Field(alias="LastModifiedDate")
    properties: dict[str, str] = Field(alias="Properties")
    tags: dict[str, str] = Field(alias="tags")
    # Our addition: where the events of its runs go too (docs/contract.md §7).
    webhooks: list[WebhookEntity] = Field(default_factory=list, alias="Webhooks")


class RunStatusEntity(Wire):
    status_code: int = Field(alias="StatusCode")
    status_detail: str | None = Field(alias="StatusDetail")
    creation_time: str | None = Field(alias="CreationTime")
    end_time: str | None = Field(alias="EndTime")


class PipelineRunEntity(Wire):
    id: str = Field(alias="Id")
    description: str | None = Field(alias="Description")
    status: RunStatusEntity = Field(alias="Status")
    graph_id: str = Field(alias="GraphId")
    is_submitted: bool = Field(alias="IsSubmitted")
    has_errors: bool = Field(alias="HasErrors")
    has_warnings: bool = Field(alias="HasWarnings")
    parameter_assignments: dict[str, str] = Field(alias="ParameterAssignments")
    data_set_definition_value_assignments: dict[str, Any] = Field(alias="DataSetDefinitionValueAssignments")
    run_history_experiment_name: str | None = Field(alias="RunHistoryExperimentName")
    pipeline_id: str = Field(alias="PipelineId")
    run_source: str | None = Field(alias="RunSource")
    run_type: str | None = Field(alias="RunType")
    total_run_steps: int = Field(alias="TotalRunSteps")
    schedule_id: str | None = Field(alias="ScheduleId")
    tags: dict[str, str] = Field(alias="tags")
    properties: dict[str, str] = Field(alias="Properties")
    entity_status: int = Field(alias="EntityStatus")
    etag: str | None = Field(alias="Etag")
    created_date: str | None = Field(alias="CreatedDate")
    last_modified_date: str | None = Field(alias="LastModifiedDate")
    # Runs through an endpoint: the endpoint and the version actually resolved (our choice).
    pipeline_endpoint_id: str | None = Field(default=None, alias="PipelineEndpointId")
    pipeline_version: str | None = Field(default=None, alias="PipelineVersion")
    # Our own additions.
    data_path_assignments: dict[str, Any] = Field(default_factory=dict, alias="DataPathAssignments")
    parent_run_id: str | None = Field(default=None, alias="ParentRunId")
    start_time: str | None = Field(default=None, alias="StartTime")
    # The run this one reran (POST .../PipelineRuns/{runId}/Rerun), and how many of its steps
    # took an earlier execution's outputs instead of running (each says which: ReuseInfo).
    rerun_of: str | None = Field(default=None, alias="RerunOf")
    reused_step_count: int = Field(default=0, alias="ReusedStepCount")


class AttemptEntity(Wire):
    """One execution of a step (our addition): every claim by a worker is one, so a step
    that ran twice (a retry, a lost worker) shows two."""

    attempt: int = Field(alias="Attempt")
    worker: str | None = Field(alias="Worker")
    start_time: str | None = Field(alias="StartTime")
    end_time: str | None = Field(alias="EndTime")
    # Running, Finished, Failed, Canceled, or Lost (its worker stopped answering).
    outcome: str = Field(alias="Outcome")
    # Why it ended other than by its script: Retry, LeaseExpired, WorkerLost, Poisoned.
    reason: str | None = Field(alias="Reason")
    exit_code: int | None = Field(alias="ExitCode")
    # When the script exited 0: noted before the outputs were uploaded for a step declared
    # idempotent=False (a lost worker's attempt then says its script finished), recorded
    # with the result for the others.
    script_exit_time: str | None = Field(alias="ScriptExitTime")
    detail: str | None = Field(alias="Detail")


class TaskReuseInfoEntity(Wire):
    """The execution a step took its outputs from instead of running: SDK v1's TaskReuseInfo
    (`ExperimentId`, `NodeId`, `RequestId`, `RunId`, `NodeStartTime`, `NodeEndTime`), `RunId`
    being that execution's step run id, with the pipeline run that holds it (our addition)."""

    experiment_id: str | None = Field(alias="ExperimentId")
    node_id: str = Field(alias="NodeId")
    request_id: str | None = Field(default=None, alias="RequestId")
    run_id: str = Field(alias="RunId")
    node_start_time: str | None = Field(alias="NodeStartTime")
    node_end_time: str | None = Field(alias="NodeEndTime")
    pipeline_run_id: str = Field(alias="PipelineRunId")


class TaskStatusEntity(Wire):
    status_code: int = Field(alias="StatusCode")
    status_detail: str | None = Field(alias="StatusDetail")
    creation_time: str | None = Field(alias="CreationTime")
    schedule_time: str | None = Field(alias="ScheduleTime")
    start_time: str | None = Field(alias="StartTime")
    end_time: str | None = Field(alias="EndTime")
    run_id: str | None = Field(alias="RunId")
    # Null unless the step took an earlier execution's outputs instead of running.
    reuse_info: TaskReuseInfoEntity | None = Field(default=None, alias="ReuseInfo")
    # Our own additions.
    name: str | None = Field(default=None, alias="Name")
    attempt: int | None = Field(default=None, alias="Attempt")
    exit_code: int | None = Field(default=None, alias="ExitCode")
    metrics: dict[str, Any] = Field(default_factory=dict, alias="Metrics")
    # The step run's status as the run-history family words it ("Completed", "CancelRequested"),
    # and the node ids of the steps it waits for (the graph's edges).
    status: str | None = Field(default=None, alias="Status")
    parents: list[str] = Field(default_factory=list, alias="Parents")
    attempts: list[AttemptEntity] = Field(default_factory=list, alias="Attempts")
