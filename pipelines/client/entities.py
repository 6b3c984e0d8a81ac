"""Client objects named after Azure ML SDK v1, over the service's REST routes.

    ws = Workspace.from_env()
    published = publish(ws, pipeline, name="My_Pipeline", version="1.0")
    endpoint = PipelineEndpoint.publish(ws, "my-endpoint", "desc", published)
    run = endpoint.submit("my-experiment", pipeline_parameters={"pipeline_arg": 20})
    run.wait_for_completion(show_output=True)
"""

from __future__ import annotations

import builtins
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import quote

from pipelines.client.history import HistoryRun, StepRun
from pipelines.client.status import (
    ENTITY_STATUS,
    RUN_ENDED,
    RUN_STATUS,
    TASK_STATUS,
    entity_status,
    run_status,
)
from pipelines.client.watch import RunWatcher
from pipelines.client.workspace import ServiceError, Workspace
from pipelines.errors import PipelinesError

__all__ = ["ENTITY_STATUS", "RUN_STATUS", "TASK_STATUS", "PipelineEndpoint", "PipelineRun", "PublishedPipeline",
           "RunFailedError"]


class RunFailedError(PipelinesError):
    """`wait_for_completion(raise_on_error=True)` of a run that did not finish."""

    def __init__(self, message: str, run_status: str) -> None:
        super().__init__(message)
        self.run_status = run_status


def _submit_body(
    experiment_name: str | None,
    pipeline_parameters: dict[str, Any] | None,
    *,
    datapath_assignments: dict[str, Any] | None = None,
    dataset_assignments: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    description: str | None = None,
    continue_on_step_failure: bool | None = None,
    parent_run_id: str | None = None,
    allow_step_reruns: bool = False,
    regenerate_outputs: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {"RunSource": "SDK", "ParameterAssignments": dict(pipeline_parameters or {})}
    if parent_run_id:
        body["ParentRunId"] = parent_run_id
    if experiment_name:
        body["ExperimentName"] = experiment_name
    if datapath_assignments:
        body["DataPathAssignments"] = datapath_assignments
    if dataset_assignments:
        body["DataSetDefinitionValueAssignments"] = dataset_assignments
    if tags:
        body["Tags"] = tags
    if description is not None:
        body["Description"] = description
    if continue_on_step_failure is not None:
        body["ContinueRunOnStepFailure"] = continue_on_step_failure
    if allow_step_reruns:
        body["AllowStepReruns"] = True
    if regenerate_outputs:
        body["RegenerateOutputs"] = True  # SDK v1's regenerate_outputs: no step takes earlier outputs
    return body


@dataclass
class PublishedPipeline:
    workspace: Workspace
    entity: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.entity["Id"])

    @property
    def name(self) -> str | None:
        return self.entity.get("Name")

    @property
    def version(self) -> str | None:
        return self.entity.get("Version")

    @property
    def endpoint(self) -> str:
        """The submit URL (the old SDK called it `endpoint`)."""
        return str(self.entity["Url"])

    @property
    def status(self) -> str:
        return entity_status(self.entity.get("EntityStatus"))

    @classmethod
    def get(cls, workspace: Workspace, id: str) -> PublishedPipeline:
        return cls(workspace, workspace.get_json(f"/Pipelines/{id}"))

    @classmethod
    def list(cls, workspace: Workspace, active_only: bool = True) -> list[PublishedPipeline]:
        items = workspace.list_all("/Pipelines", {"activeOnly": str(active_only).lower()})
        return [cls(workspace, item) for item in items]

    def _set_status(self, status: str) -> None:
        self.entity = self.workspace.request("PUT", f"/Pipelines/{self.id}/status", json_body=status).json()

    def disable(self) -> None:
        self._set_status("Disabled")

    def enable(self) -> None:
        self._set_status("Active")

    @classmethod
    def get_all(cls, workspace: Workspace, active_only: bool = True) -> builtins.list[PublishedPipeline]:
        """SDK v1's older name of `list`."""
        return cls.list(workspace, active_only)

    def submit(self, *args: Any, idempotency_key: str | None = None, **options: Any) -> PipelineRun:
        """`submit(experiment_name, pipeline_parameters=None, parent_run_id=None, ...)`.

        SDK v1 took the workspace first (`published.submit(ws, "experiment", {...})`);
        a leading workspace is accepted and ignored (this pipeline's own is used).
        """
        if args and isinstance(args[0], Workspace):
            args = args[1:]
        names = ("experiment_name", "pipeline_parameters", "parent_run_id")
        if len(args) > len(names):
            raise TypeError(f"submit() takes at most {len(names)} positional arguments after the workspace")
        given = {**dict(zip(names, args, strict=False)), **options}  # fewer args than names is fine
        experiment_name = given.pop("experiment_name", None)
        pipeline_parameters = given.pop("pipeline_parameters", None)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        entity = self.workspace.request(
            "POST", f"/PipelineRuns/PipelineSubmit/{self.id}",
            json_body=_submit_body(experiment_name, pipeline_parameters, **given), headers=headers,
        ).json()
        return PipelineRun(self.workspace, entity)


@dataclass
class PipelineEndpoint:
    workspace: Workspace
    entity: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.entity["Id"])

    @property
    def name(self) -> str:
        return str(self.entity["Name"])

    @property
    def default_version(self) -> str:
        return str(self.entity["DefaultVersion"])

    @property
    def endpoint(self) -> str:
        return str(self.entity["Url"])

    @classmethod
    def publish(
        cls, workspace: Workspace, name: str, description: str | None, pipeline: PublishedPipeline,
        webhooks: builtins.list[dict[str, str]] | None = None,
    ) -> PipelineEndpoint:
        """`webhooks` (our addition): `[{"Url": "https://...", "SecretSetting": "PIPELINES_WEBHOOK_SECRET_X"}]`."""
        body: dict[str, Any] = {"Name": name, "Description": description, "PipelineId": pipeline.id}
        if webhooks:
            body["Webhooks"] = webhooks
        return cls(workspace, workspace.request("POST", "/PipelineEndpoints/Create", json_body=body).json())

    @classmethod
    def get(cls, workspace: Workspace, id: str | None = None, name: str | None = None) -> PipelineEndpoint:
        if id:
            return cls(workspace, workspace.get_json(f"/PipelineEndpoints/Id/{id}"))
        if name:
            return cls(workspace, workspace.get_json("/PipelineEndpoints/Name", params={"name": name}))
        raise ValueError("give the endpoint's id or name")

    @classmethod
    def list(cls, workspace: Workspace, active_only: bool = True) -> list[PipelineEndpoint]:
        items = workspace.list_all("/PipelineEndpoints", {"activeOnly": str(active_only).lower()})
        return [cls(workspace, item) for item in items]

    def refresh(self) -> PipelineEndpoint:
        self.entity = self.workspace.get_json(f"/PipelineEndpoints/Id/{self.id}")
        return self

    def _put(self, changes: dict[str, Any]) -> None:
        body = {**self.entity, **changes}
        self.entity = self.workspace.request("PUT", f"/PipelineEndpoints/{self.id}", json_body=body).json()

    def add(self, pipeline: PublishedPipeline) -> None:
        """Add a published pipeline as the next version (not the default)."""
        versions = list(self.entity["PipelineVersionList"])
        if all(v["PipelineId"] != pipeline.id for v in versions):
            versions.append({"PipelineId": pipeline.id})
            self._put({"PipelineVersionList": versions})

    def add_default(self, pipeline: PublishedPipeline) -> None:
        self.add(pipeline)
        version = next(v["Version"] for v in self.entity["PipelineVersionList"] if v["PipelineId"] == pipeline.id)
        self.set_default_version(version)

    def set_default_version(self, version: str | int) -> None:
        self._put({"DefaultVersion": str(version)})

    def get_default_version(self) -> str:
        return self.default_version

    @property
    def webhooks(self) -> builtins.list[dict[str, str]]:
        """Where the events of its runs go too (our addition): `{"Url", "SecretSetting"}` each."""
        return list(self.entity.get("Webhooks") or [])

    def set_webhooks(self, webhooks: builtins.list[dict[str, str]]) -> None:
        """Replace the endpoint's webhooks (`[]` removes them); runs submitted from now on use them."""
        self._put({"Webhooks": webhooks})

    def list_versions(self) -> builtins.list[dict[str, str]]:
        return list(self.entity["PipelineVersionList"])

    def list_pipelines(self, active_only: bool = True) -> builtins.list[PublishedPipeline]:
        items = self.workspace.get_json(
            f"/PipelineEndpoints/{self.id}/pipelines", params={"activeOnly": str(active_only).lower()}
        )
        return [PublishedPipeline(self.workspace, item) for item in items]

    def get_pipeline(self, version: str | None = None) -> PublishedPipeline:
        wanted = version or self.default_version
        pipeline_id = next(v["PipelineId"] for v in self.entity["PipelineVersionList"] if v["Version"] == wanted)
        return PublishedPipeline.get(self.workspace, pipeline_id)

    def disable(self) -> None:
        self._put({"EntityStatus": 2})

    def enable(self) -> None:
        self._put({"EntityStatus": 0})

    def archive(self) -> None:
        self._put({"EntityStatus": 1})

    def reactivate(self, name: str | None = None) -> None:
        self._put({"EntityStatus": 0, **({"Name": name} if name else {})})

    @classmethod
    def get_all(cls, workspace: Workspace, active_only: bool = True) -> builtins.list[PipelineEndpoint]:
        """SDK v1's older name of `list`."""
        return cls.list(workspace, active_only)

    def submit(self, experiment_name: str | None = None, pipeline_parameters: dict[str, Any] | None = None,
               parent_run_id: str | None = None, pipeline_version: str | None = None, *,
               idempotency_key: str | None = None, **options: Any) -> PipelineRun:
        """SDK v1's arguments in its order; `pipeline_version` None runs the default version."""
        path = f"/PipelineRuns/PipelineEndpointSubmit/Id/{self.id}"
        if pipeline_version is not None:
            path += f"/{pipeline_version}"
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = _submit_body(experiment_name, pipeline_parameters, parent_run_id=parent_run_id, **options)
        entity = self.workspace.request("POST", path, json_body=body, headers=headers).json()
        return PipelineRun(self.workspace, entity)


@dataclass
class PipelineRun:
    """A pipeline run. `PipelineRun.get(ws, run_id)`; SDK v1's `PipelineRun(experiment, run_id)`
    works too."""

    workspace: Workspace
    entity: dict[str, Any]
    _steps: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.workspace, Workspace) and isinstance(getattr(self.workspace, "workspace", None),
                                                                     Workspace):
            self.workspace = self.workspace.workspace  # an Experiment, as SDK v1 took
        if isinstance(self.entity, str):
            self.entity = {"Id": self.entity}

    @property
    def id(self) -> str:
        return str(self.entity["Id"])

    @classmethod
    def get(cls, workspace: Workspace, run_id: str) -> PipelineRun:
        return cls(workspace, workspace.get_json(f"/PipelineRuns/{run_id}"))

    @classmethod
    def list(cls, workspace: Workspace, pipeline_id: str) -> list[PipelineRun]:
        return [cls(workspace, item) for item in workspace.list_all(f"/PipelineRuns/Pipeline/{pipeline_id}")]

    def refresh(self) -> PipelineRun:
        self.entity = self.workspace.get_json(f"/PipelineRuns/{self.id}")
        return self

    def get_status(self) -> str:
        """NotStarted, Running, Failed, Finished or Canceled (the status code in words)."""
        return run_status(self.refresh().entity)

    def get_step_statuses(self) -> dict[str, Any]:
        self._steps = self.workspace.request("POST", f"/PipelineRuns/{self.id}/Graph/AllNodes/Status").json()
        return self._steps

    def get_log(self, node_id: str, kind: str = "STDOUT", attempt: int | None = None) -> str:
        """The step's log: of its latest attempt, or of `attempt` (1, 2, ...)."""
        return self.workspace.request(
            "POST", f"/PipelineRuns/{self.id}/Graph/Shareable/{kind}", json_body=[node_id],
            params={"attempt": attempt} if attempt is not None else None,
        ).text

    def find_step(self, name_or_id: str) -> str:
        steps = self._steps or self.get_step_statuses()
        if name_or_id in steps:
            return name_or_id
        for node_id, status in steps.items():
            if status.get("Name") == name_or_id:
                return node_id
        raise ServiceError(404, "NotFound", f"run {self.id} has no step {name_or_id!r}")

    def get_events(self) -> builtins.list[dict[str, Any]]:
        """The run's events so far (our addition): id, type, subject, time, and where each was delivered."""
        return list(self.workspace.get_json(f"/PipelineRuns/{self.id}/Events"))

    def cancel(self) -> None:
        self.entity = self.workspace.request("POST", f"/PipelineRuns/{self.id}/Cancel").json()

    def rerun(self, pipeline_parameters: dict[str, Any] | None = None, *,
              idempotency_key: str | None = None) -> PipelineRun:
        """A new run of this run's published version with its parameters (those given changed) and
        data: its finished steps are taken as they are, the others run. The new run's `RerunOf`
        is this run's id."""
        body = {"ParameterAssignments": dict(pipeline_parameters)} if pipeline_parameters else {}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        entity = self.workspace.request("POST", f"/PipelineRuns/{self.id}/Rerun", json_body=body,
                                        headers=headers).json()
        return PipelineRun(self.workspace, entity)

    # -- tags and properties, as SDK v1's Run wrote them (docs/contract.md §6) ---------------------
    def get_tags(self) -> dict[str, str]:
        return dict(self.refresh().entity.get("tags") or {})

    def get_properties(self) -> dict[str, str]:
        """The run's properties: the service's own (`azureml.*`, ...) and those added."""
        return dict(self.workspace.request("GET", self._history_path()).json().get("properties") or {})

    def tag(self, key: str, value: str | None = None) -> None:
        """Set one tag (without a value: kept as "")."""
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, str | None]) -> None:
        self._patch({"tags": dict(tags)})

    def remove_tags(self, tags: builtins.list[str]) -> None:
        self.workspace.request("DELETE", self._history_path() + "/tags", json_body=list(tags))
        self.refresh()

    def add_properties(self, properties: dict[str, str]) -> None:
        """Add properties: one the run has keeps its value (another is a 409)."""
        if properties:
            self._patch({"properties": dict(properties)})

    def _patch(self, body: dict[str, Any]) -> None:
        self.workspace.request("PATCH", self._history_path(), json_body={"runId": self.id, **body})
        self.refresh()

    def _history_path(self) -> str:
        experiment = self.entity.get("RunHistoryExperimentName") or self.refresh().entity["RunHistoryExperimentName"]
        return f"{self.workspace.history_url}/experiments/{quote(str(experiment), safe='')}/runs/{quote(self.id)}"

    # -- the run-history view of the same run ------------------------------------------------------
    def get_details(self) -> dict[str, Any]:
        """RunDetailsDto: status as a word, times, error, properties, logFiles."""
        return HistoryRun(self.workspace, {"runId": self.id}).get_details()

    def get_children(self) -> builtins.list[StepRun]:
        """The step runs, in the published definition's order."""
        children = HistoryRun.get(self.workspace, self.id).get_children()
        return [child for child in children if isinstance(child, StepRun)]

    get_steps = get_children

    def find_step_run(self, name: str) -> builtins.list[StepRun]:
        return [step for step in self.get_children() if step.name == name]

    def wait_for_completion(self, show_output: bool = True, timeout_seconds: float | None = None,
                            raise_on_error: bool = False, *, poll_seconds: float = 1.0,
                            out: TextIO | None = None) -> str:
        """Poll until the run ends and answer its status (Finished, Failed, Canceled).

        With `show_output` (as SDK v1), print to `out` (default stdout) each step's status
        changes and its STDOUT and STDERR as they are written, with the time elapsed
        (`pipelines.client.watch`). `raise_on_error` raises `RunFailedError` for a run that
        did not finish (SDK v1 raised by default; here the default answers the status).
        `TimeoutError` after `timeout_seconds`; the run goes on.
        """
        if show_output:
            status = RunWatcher(self, out or sys.stdout, poll_seconds=poll_seconds).watch(timeout_seconds)
        else:
            deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
            while (status := self.get_status()) not in RUN_ENDED:
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"run {self.id} is still {status} after {timeout_seconds:g} s")
                time.sleep(poll_seconds)
        if raise_on_error and status != "Finished":
            detail = (self.entity.get("Status") or {}).get("StatusDetail")
            raise RunFailedError(f"run {self.id} ended {status}" + (f": {detail}" if detail else ""), status)
        return status
