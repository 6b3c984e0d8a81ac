"""Submitting, reading and canceling runs: what the HTTP routes call."""

from __future__ import annotations

import functools
import hashlib
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipelines.auth.permissions import Principal
from pipelines.authoring.definition import PipelineDefinition
from pipelines.catalogue import ComputeTargets, Endpoints, PublishedPipeline, PublishedPipelines, Webhook
from pipelines.data.references import DataError, References
from pipelines.errors import (
    AlreadyExistsError,
    ConflictError,
    ErrorDetail,
    EtagMismatchError,
    InvalidParameterError,
    NotFoundError,
)
from pipelines.runs import engine, reuse
from pipelines.runs.data import resolve_datapath, resolve_dataset
from pipelines.runs.devops import DevOpsTask, DevOpsTokens
from pipelines.runs.engine import RunState
from pipelines.runs.experiments import Experiments, default_experiment_name
from pipelines.runs.model import Run, Step
from pipelines.runs.numbering import RunNumbers
from pipelines.runs.repository import RunRepository
from pipelines.runs.request import Resolved, SubmitRequest, resolve
from pipelines.store import StorageAccount, Table, etag_of
from pipelines.vocabulary import now

# A key whose run is still not written this long after the key was: its request died.
ABANDONED_KEY = timedelta(seconds=60)


@dataclass
class Target:
    """What a submit resolved to: the pipeline, and the endpoint version if any."""

    pipeline: PublishedPipeline
    endpoint_id: str | None = None
    version: str | None = None
    webhooks: tuple[Webhook, ...] = ()  # the endpoint's: they receive the run's events


class RunService:
    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self.settings = account.settings
        self.pipelines = PublishedPipelines(account)
        self.endpoints = Endpoints(account, self.pipelines)
        self.repository = RunRepository(account)
        self.idempotency = Table(account.table("Idempotency"))
        self.experiments = Experiments(account)
        self.numbers = RunNumbers(account)

    # -- targets ---------------------------------------------------------------------------------
    def pipeline_target(self, workspace: str, pipeline_id: str) -> Target:
        pipeline = self.pipelines.get(workspace, pipeline_id)
        pipeline.ensure_runnable()
        return Target(pipeline)

    def endpoint_target(
        self, workspace: str, *, endpoint_id: str | None, name: str | None, version: str | None
    ) -> Target:
        endpoint = (
            self.endpoints.get(workspace, endpoint_id)
            if endpoint_id
            else self.endpoints.get_by_name(workspace, name or "")
        )
        endpoint.ensure_runnable()
        chosen = endpoint.pipeline_for(version)
        pipeline = self.pipelines.get(workspace, chosen.pipeline_id)
        pipeline.ensure_runnable()
        return Target(pipeline, endpoint.id, chosen.version, endpoint.webhooks)

    # -- submit ----------------------------------------------------------------------------------------
    def assignment_problems(self, workspace: str, target: Target, request: SubmitRequest) -> list[ErrorDetail]:
        """What is wrong with the request's assignments for this pipeline (unknown names, values
        that cannot be coerced, data that is not there), as `submit` would refuse them; for a
        body refused for other keys too, so that one 400 names every bad key."""
        try:
            self._resolve(workspace, self.pipelines.definition(target.pipeline), request)
        except (InvalidParameterError, NotFoundError) as exc:
            return list(exc.details)
        return []

    def _resolve(self, workspace: str, definition: PipelineDefinition, request: SubmitRequest) -> Resolved:
        return resolve(
            definition,
            request,
            resolve_datapath=lambda n, t, v: resolve_datapath(self.account, workspace, n, t, v),
            resolve_dataset=lambda n, t, v: resolve_dataset(self.account, workspace, n, t, v),
        )

    def submit(
        self,
        workspace: str,
        target: Target,
        request: SubmitRequest,
        *,
        principal: Principal | None,
        parent_run_id: str | None = None,
        idempotency_key: str | None = None,
        fingerprint: str = "",
        rerun_of: RunState | None = None,
        devops: tuple[DevOpsTask, str] | None = None,
        schedule: str | None = None,
    ) -> Run:
        """Write a new run; `rerun_of`: the run it reruns (its finished steps are taken when
        their keys are unchanged, `pipelines.runs.reuse.plan`); `devops`: the Azure DevOps job
        that waits for its end, and the job's token (`pipelines.runs.devops`); `schedule`: the
        schedule that starts it, whose runs it is then listed among."""
        pipeline = target.pipeline
        definition = self.pipelines.definition(pipeline)
        # Each step's queue, from its compute target now (400 naming a step whose target is gone).
        placement = ComputeTargets(self.account).place(workspace, definition)
        resolved = self._resolve(workspace, definition, request)
        self._pin_data_defaults(workspace, definition, resolved)
        created = now()
        experiment = request.experiment_name or default_experiment_name(pipeline.name)
        run = Run(
            id=str(uuid.uuid4()),
            workspace=workspace,
            pipeline_id=pipeline.id,
            graph_id=pipeline.graph_id,
            experiment_name=experiment,
            description=request.description if request.description is not None else pipeline.name,
            display_name=request.display_name,
            run_source=request.run_source or "API",
            run_type=request.run_type or "HTTP",
            parameters=resolved.parameters,
            data_assignments=resolved.datasets,
            datapath_assignments=resolved.datapaths,
            tags=request.tags,
            properties=request.properties,
            schedule_id=request.schedule_id,
            parent_run_id=parent_run_id,
            endpoint_id=target.endpoint_id,
            pipeline_version=target.version,
            submitted_by=principal.identity if principal else None,
            submitted_by_name=principal.name if principal else None,
            continue_on_step_failure=(
                request.continue_on_step_failure
                if request.continue_on_step_failure is not None
                else pipeline.continue_on_step_failure
            ),
            allow_step_reruns=request.allow_step_reruns,
            regenerate_outputs=request.regenerate_outputs,
            rerun_of=rerun_of.run.id if rerun_of is not None else None,
            total_steps=len(definition.steps),
            created=created,
            modified=created,
            webhooks=target.webhooks,
            devops_task=devops[0] if devops is not None else None,
        )
        if idempotency_key:
            existing = self._claim_idempotency(workspace, principal, idempotency_key, fingerprint, run.id, created)
            if existing is not None:
                return existing
        # An Azure DevOps job's token is kept before the run exists, so that its end always finds
        # it; the deliverer removes it with the run's last event, and the sweeper with the active
        # row of a run whose commit never landed.
        keep = None if devops is None else functools.partial(DevOpsTokens(self.account).keep, workspace, run.id,
                                                              devops[1])
        self.experiments.note(workspace, experiment, created)
        run.run_number = self.numbers.take(workspace, 1 + len(definition.steps))
        state = RunState(run, steps_of(definition, placement.queues))
        reused = reuse.plan(self.account, definition, state, rerun_of)
        transition = engine.initial(state, created, self.settings.step_lease_seconds, reused)
        try:
            self.repository.create(state, transition, keep, schedule=schedule)
        except Exception:
            if idempotency_key:
                self._release_idempotency(workspace, principal, idempotency_key, run.id)
            raise
        return run

    def _pin_data_defaults(self, workspace: str, definition: PipelineDefinition, resolved: Resolved) -> None:
        """Data parameters the request left alone keep their published default, resolved
        now: the run records the exact dataset version, so registering a newer one
        later changes nothing for it (and an unknown default is a 400, not a failed run)."""
        references = References(self.account, workspace)
        problems: list[ErrorDetail] = []
        for spec in definition.parameters:
            if (
                spec.type not in ("dataset", "datapath")
                or spec.name in resolved.datasets
                or spec.name in resolved.datapaths
            ):
                continue
            default = spec.default.model_dump(exclude_none=True)  # type: ignore[union-attr]
            try:
                value = references.recorded(default, as_of=None)
            except DataError as exc:
                problems.append(ErrorDetail("InvalidParameter", f"the default of {spec.name!r}: {exc}", spec.name))
                continue
            if spec.type == "dataset":
                resolved.datasets[spec.name] = value
            else:
                resolved.datapaths[spec.name] = {"datastore": value["datastore"], "path": value["path"]}
        if problems:
            raise InvalidParameterError(problems[0].message, target=problems[0].target, details=problems)

    # -- idempotency -------------------------------------------------------------------------------------
    def _idempotency_row(self, principal: Principal | None, idem_key: str) -> str:
        who = principal.identity if principal else "anonymous"
        return hashlib.sha256(f"{who}\n{idem_key}".encode()).hexdigest()

    def _claim_idempotency(
        self, workspace: str, principal: Principal | None, idem_key: str, fingerprint: str, run_id: str, now: datetime
    ) -> Run | None:
        """Insert-if-absent the key → this run; if the key is known, answer the first run."""
        row = self._idempotency_row(principal, idem_key)
        entity = {
            "PartitionKey": workspace,
            "RowKey": row,
            "RunId": run_id,
            "Created": now.isoformat(),
            "Fingerprint": fingerprint,
        }
        window = timedelta(seconds=self.settings.idempotency_window_seconds)
        for _ in range(5):
            try:
                self.idempotency.insert(entity)
                return None
            except AlreadyExistsError:
                pass
            seen = self.idempotency.get(workspace, row)
            if seen is None:
                continue  # released meanwhile: try to take it
            claimed_at = datetime.fromisoformat(seen["Created"])
            abandoned = claimed_at + ABANDONED_KEY < now and not self._run_exists(workspace, seen["RunId"])
            if claimed_at + window < now or abandoned:
                # Expired, or its first request died between the key and the run:
                # the key is free again (taken on its ETag, so by one request only).
                try:
                    self.idempotency.replace(entity, etag_of(seen))
                    return None
                except EtagMismatchError:
                    continue
            if seen.get("Fingerprint") != fingerprint:
                raise ConflictError(
                    "this idempotency key was used for a different request", target="Idempotency-Key"
                )
            return self._wait_for_run(workspace, seen["RunId"])
        raise ConflictError("a request with this idempotency key is in progress", target="Idempotency-Key")

    def _run_exists(self, workspace: str, run_id: str) -> bool:
        try:
            self.repository.get_run(workspace, run_id)
        except NotFoundError:
            return False
        return True

    def _wait_for_run(self, workspace: str, run_id: str, timeout: float = 10.0) -> Run:
        """The first request may still be writing its run: wait for it briefly."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.repository.get_run(workspace, run_id)
            except NotFoundError:
                if time.monotonic() > deadline:
                    raise ConflictError(
                        "a request with this idempotency key is in progress", target="Idempotency-Key"
                    ) from None
                time.sleep(0.05)

    def _release_idempotency(self, workspace: str, principal: Principal | None, idem_key: str, run_id: str) -> None:
        row = self._idempotency_row(principal, idem_key)
        seen = self.idempotency.get(workspace, row)
        if seen is not None and seen.get("RunId") == run_id:
            self.idempotency.delete(workspace, row, etag_of(seen))

    # -- read and cancel ----------------------------------------------------------------------------------
    def get(self, workspace: str, run_id: str) -> Run:
        return self.repository.get_run(workspace, run_id)

    def state(self, workspace: str, run_id: str) -> RunState:
        return self.repository.load(workspace, run_id)

    def cancel(self, workspace: str, run_id: str) -> Run:
        lease = self.settings.step_lease_seconds
        self.repository.mutate(workspace, run_id, lambda s: (None, engine.cancel(s, now(), lease)))
        return self.repository.get_run(workspace, run_id)

    def list_for_pipeline(
        self, workspace: str, pipeline_id: str, *, page_size: int, continuation: str | None
    ) -> tuple[list[Run], str | None]:
        self.pipelines.get(workspace, pipeline_id)  # 404 for an unknown pipeline
        return self.repository.list_for_pipeline(workspace, pipeline_id, page_size=page_size, continuation=continuation)


def steps_of(definition: PipelineDefinition, queues: Mapping[str, str | None] | None = None) -> dict[str, Step]:
    """The step rows of a new run; `queues`: each step's compute target's queue (absent or None: the app's)."""
    queues = queues or {}
    parents: dict[str, set[str]] = {s.id: set() for s in definition.steps}
    for edge in definition.edges:
        parents[edge.to_step].add(edge.from_step)
    return {
        s.id: Step(
            node_id=s.id, name=s.name, index=index, parents=sorted(parents[s.id]), max_retries=s.max_retries,
            idempotent=s.idempotent, queue=queues.get(s.id),
        )
        for index, s in enumerate(definition.steps)
    }


def request_fingerprint(route: str, target: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([route.encode(), target.encode(), body])).hexdigest()


def idempotency_key_of(headers: Any) -> str | None:
    value = headers.get("Idempotency-Key") or headers.get("x-ms-client-request-id")
    if value is None:
        return None
    value = str(value).strip()
    return value[:256] or None

