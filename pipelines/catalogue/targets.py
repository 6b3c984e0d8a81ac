"""Compute targets: where a step runs, and the queue its messages go to (issue 16).

Layout (all keys scoped by workspace):

- Table `ComputeTargets`: PartitionKey = workspace, RowKey = the target's name. A target names
  its queue, the environment it provides (an image reference and the packages it promises)
  and its workers' limits; or it is an alias of the app (`RunsOn` "app": old SDK v1 code's
  `compute_target="cpu-cluster"`), whose steps go to the app's steps queue.
- Table `ComputeTargetUses`: PartitionKey = `{workspace}|{target}`, RowKey = a pipeline id that
  uses it (written at publish), so deleting a target reads its users, not every pipeline.

The app itself is the target `app`: built in, never stored, its queue the steps queue
(`PIPELINES_STEPS_QUEUE`) and its packages the pins of its requirements.txt. A step without
a target runs there. A step row records its target's queue when its run is created (None: the
app's), so changing a target later moves no step of a run under way.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.authoring.definition import PipelineDefinition, StepSpec
from pipelines.authoring.requirements import app_packages, unmet
from pipelines.errors import BadRequestError, ConflictError, ErrorDetail, NotFoundError
from pipelines.store import StorageAccount, Table, etag_of, key
from pipelines.store.codec import json_text, parse_json, parse_time, time_text
from pipelines.vocabulary import EntityStatus, now

APP = "app"
# 1 to 32 lowercase letters, digits and single dashes, from a letter: `{steps queue}-{name}` is
# then a queue name when it is not too long.
NAME = re.compile(r"^(?=.{1,32}\Z)[a-z](?:-?[a-z0-9])*\Z")
NAME_PATTERN = r"^[a-z](?:-?[a-z0-9])*$"  # the same without the length (JSON Schema: with maxLength 32)
NAME_RULE = "1 to 32 lowercase letters, digits and single dashes, starting with a letter, not ending with a dash"
QUEUE = re.compile(r"^(?=.{3,63}\Z)[a-z0-9](?:-?[a-z0-9])*\Z")
QUEUE_PATTERN = r"^[a-z0-9](?:-?[a-z0-9])*$"  # the same without the length, for pydantic (no look-ahead)
CONCURRENCY = (1, 64)
TIMEOUT = (60, 86400)
DEFAULT_CONCURRENCY = 1
DEFAULT_TIMEOUT = 7200


@dataclass(frozen=True)
class TargetSpec:
    """What a PUT gives: an alias of the app (`runs_on`) or a target of its own."""

    description: str | None = None
    queue: str | None = None  # None: `{steps queue}-{name}`
    image: str = ""
    packages: tuple[str, ...] = ()
    max_concurrent_steps: int = DEFAULT_CONCURRENCY
    max_step_timeout_seconds: int = DEFAULT_TIMEOUT
    runs_on: str | None = None  # "app": an alias of the app


@dataclass
class ComputeTarget:
    workspace: str
    name: str
    queue: str
    description: str | None = None
    image: str = ""
    packages: tuple[str, ...] = ()
    max_concurrent_steps: int = DEFAULT_CONCURRENCY
    max_step_timeout_seconds: int = DEFAULT_TIMEOUT
    runs_on: str | None = None
    built_in: bool = False
    created: datetime | None = None
    modified: datetime | None = None
    etag: str | None = None

    @property
    def on_app(self) -> bool:
        """Its steps go to the app's steps queue (the app, or an alias of it)."""
        return self.built_in or self.runs_on == APP

    def to_entity(self) -> dict[str, Any]:
        return {
            "PartitionKey": self.workspace,
            "RowKey": self.name,
            "Queue": self.queue,
            "Description": self.description,
            "Image": self.image,
            "Packages": json_text(list(self.packages)),
            "MaxConcurrentSteps": self.max_concurrent_steps,
            "MaxStepTimeoutSeconds": self.max_step_timeout_seconds,
            "RunsOn": self.runs_on,
            "Created": time_text(self.created),
            "Modified": time_text(self.modified),
        }

    @classmethod
    def from_entity(cls, entity: dict[str, Any], steps_queue: str) -> ComputeTarget:
        runs_on = entity.get("RunsOn")
        return cls(
            workspace=entity["PartitionKey"],
            name=entity["RowKey"],
            queue=steps_queue if runs_on == APP else str(entity.get("Queue") or ""),
            description=entity.get("Description"),
            image=str(entity.get("Image") or ""),
            packages=tuple(parse_json(entity.get("Packages"), [])),
            max_concurrent_steps=int(entity.get("MaxConcurrentSteps") or DEFAULT_CONCURRENCY),
            max_step_timeout_seconds=int(entity.get("MaxStepTimeoutSeconds") or DEFAULT_TIMEOUT),
            runs_on=runs_on,
            created=parse_time(entity.get("Created")),
            modified=parse_time(entity.get("Modified")),
            etag=etag_of(entity),
        )


@dataclass(frozen=True)
class User:
    """A published pipeline that uses a target."""

    pipeline_id: str
    name: str | None


@dataclass
class Placement:
    """Where each step of a definition runs: its target and that target's queue (None: the app's)."""

    targets: dict[str, ComputeTarget] = field(default_factory=dict)  # node id -> target
    queues: dict[str, str | None] = field(default_factory=dict)  # node id -> queue, None: the steps queue


def target_of(step: StepSpec) -> str:
    return step.compute_target or APP


class ComputeTargets:
    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self.steps_queue = account.settings.steps_queue_name
        self.table = Table(account.table("ComputeTargets"))
        self.uses = Table(account.table("ComputeTargetUses"))

    # -- read --------------------------------------------------------------------------------------
    def app(self, workspace: str) -> ComputeTarget:
        return ComputeTarget(
            workspace=workspace, name=APP, queue=self.steps_queue,
            description="the app itself: steps run by its queue-triggered function",
            packages=app_packages(), max_step_timeout_seconds=self.account.settings.max_step_timeout_seconds,
            built_in=True,
        )

    def find(self, workspace: str, name: str) -> ComputeTarget | None:
        if name == APP:
            return self.app(workspace)
        if not NAME.match(name):
            return None
        entity = self.table.get(workspace, name)
        return ComputeTarget.from_entity(entity, self.steps_queue) if entity is not None else None

    def get(self, workspace: str, name: str) -> ComputeTarget:
        if name != APP and not NAME.match(name):
            raise BadRequestError(f"a compute target's name is {NAME_RULE}", target="name")
        found = self.find(workspace, name)
        if found is None:
            raise NotFoundError(f"compute target {name!r} was not found", target=name)
        return found

    def list(self, workspace: str) -> builtins.list[ComputeTarget]:
        rows = self.table.query_all("PartitionKey eq @ws", parameters={"ws": workspace})
        stored = sorted((ComputeTarget.from_entity(r, self.steps_queue) for r in rows), key=lambda t: t.name)
        return [self.app(workspace), *stored]

    # -- write -------------------------------------------------------------------------------------
    def put(self, workspace: str, name: str, spec: TargetSpec) -> ComputeTarget:
        """Create or replace the target `name`; its creation time is kept."""
        _check_name(name)
        if spec.runs_on == APP and spec.queue not in (None, self.steps_queue):
            raise BadRequestError('a target with RunsOn "app" is an alias of the app: it takes no Queue',
                                  target="Queue")
        queue = self.steps_queue if spec.runs_on == APP else (spec.queue or f"{self.steps_queue}-{name}").lower()
        if spec.runs_on != APP:
            self._check_queue(queue, explicit=spec.queue is not None)
        stamp = now()
        existing = self.table.get(workspace, name)
        target = ComputeTarget(
            workspace=workspace, name=name, queue=queue, description=spec.description,
            image=spec.image if spec.runs_on != APP else "",
            packages=spec.packages if spec.runs_on != APP else (),
            max_concurrent_steps=spec.max_concurrent_steps, max_step_timeout_seconds=spec.max_step_timeout_seconds,
            runs_on=spec.runs_on,
            created=parse_time(existing.get("Created")) if existing is not None else stamp, modified=stamp,
        )
        if not target.on_app:
            self.account.create_queue(queue)  # its workers poll it; the engine sends to it
        target.etag = self.table.upsert(target.to_entity())
        return target

    def _check_queue(self, queue: str, *, explicit: bool) -> None:
        if not QUEUE.match(queue):
            how = "Queue" if explicit else f"the queue named after it ({queue!r}); give Queue"
            raise BadRequestError(
                f"{how} must be a storage queue name: 3 to 63 lowercase letters, digits and single dashes",
                target="Queue",
            )
        settings = self.account.settings
        reserved = {self.steps_queue, settings.poison_queue_name, settings.notify_queue_name,
                    settings.sinks_queue_name}
        if settings.events_queue:
            reserved.add(settings.events_queue)
        if queue in reserved or queue.endswith("-poison"):
            raise BadRequestError(
                f"queue {queue!r} is the app's own (its steps, poison, notify, sinks or events queue, or a poison"
                " queue); a target of its own needs another", target="Queue",
            )

    def delete(self, workspace: str, name: str) -> None:
        """Delete the target; 409 naming them while a pipeline that can run uses it."""
        _check_name(name)
        if self.table.get(workspace, name) is None:
            raise NotFoundError(f"compute target {name!r} was not found", target=name)
        users = self.users(workspace, name)
        if users:
            listed = ", ".join(f"{u.name or '(no name)'} ({u.pipeline_id})" for u in users)
            raise ConflictError(
                f"compute target {name!r} is used by published pipelines that can run: {listed}; disable"
                " them first", target=name,
                details=[ErrorDetail("TargetInUse", f"published pipeline {u.name!r} uses {name!r}", u.pipeline_id)
                         for u in users],
            )
        self.table.delete(workspace, name)

    def users(self, workspace: str, name: str) -> builtins.list[User]:
        """The published pipelines, not disabled, whose steps name the target."""
        rows = self.uses.query_all("PartitionKey eq @pk", parameters={"pk": key(workspace, name)})
        found = []
        pipelines = Table(self.account.table("Pipelines"))
        for row in rows:
            pipeline = pipelines.get(workspace, row["RowKey"])
            if pipeline is not None and int(pipeline.get("Status", 0)) != int(EntityStatus.DISABLED):
                found.append(User(row["RowKey"], pipeline.get("Name")))
        return found

    def record_uses(self, workspace: str, pipeline_id: str, name: str | None, definition: PipelineDefinition) -> None:
        """Note which targets a published pipeline uses (before its row is written: a pointer
        to a pipeline that never got written is skipped when read)."""
        for target in sorted({target_of(s) for s in definition.steps} - {APP}):
            self.uses.upsert({"PartitionKey": key(workspace, target), "RowKey": pipeline_id, "Name": name})

    # -- placing a definition's steps ------------------------------------------------------------------
    def place(self, workspace: str, definition: PipelineDefinition) -> Placement:
        """Each step's target and queue; 400 naming each step whose target does not exist."""
        known: dict[str, ComputeTarget | None] = {}
        placement = Placement()
        problems: list[ErrorDetail] = []
        for index, step in enumerate(definition.steps):
            name = target_of(step)
            if name not in known:
                known[name] = self.find(workspace, name)
            target = known[name]
            if target is None:
                problems.append(ErrorDetail(
                    "TargetNotFound", f"step {step.name!r} runs on compute target {name!r}, which does not exist",
                    f"steps[{index}].compute_target"))
                continue
            placement.targets[step.id] = target
            placement.queues[step.id] = None if target.on_app else target.queue
        if problems:
            raise BadRequestError(_summary(problems), target=problems[0].target, details=problems)
        return placement

    def check_fit(self, workspace: str, definition: PipelineDefinition, placement: Placement) -> None:
        """400 naming each step its target cannot take: requirements it does not promise, or a
        timeout over its MaxStepTimeoutSeconds (a target's workers would cut the step short)."""
        problems: list[ErrorDetail] = []
        for index, step in enumerate(definition.steps):
            target = placement.targets[step.id]
            if step.requirements:
                promised = self.app(workspace).packages if target.on_app else target.packages
                missing = unmet(step.requirements, promised)
                if missing:
                    problems.append(ErrorDetail(
                        "RequirementNotMet",
                        f"step {step.name!r} requires {', '.join(missing)}, which compute target {target.name!r}"
                        " does not promise (its Packages)", f"steps[{index}].requirements"))
            cap = target.max_step_timeout_seconds
            if not target.on_app and step.timeout_seconds is not None and step.timeout_seconds > cap:
                problems.append(ErrorDetail(
                    "TimeoutOverLimit",
                    f"step {step.name!r} asks for a timeout of {step.timeout_seconds} s, over compute target"
                    f" {target.name!r}'s MaxStepTimeoutSeconds ({cap})", f"steps[{index}].timeout_seconds"))
        if problems:
            raise BadRequestError(_summary(problems), target=problems[0].target, details=problems)


def _summary(problems: Iterable[ErrorDetail]) -> str:
    listed = list(problems)
    return listed[0].message + (f" (and {len(listed) - 1} more)" if len(listed) > 1 else "")


def _check_name(name: str) -> None:
    if name == APP:
        raise BadRequestError("compute target 'app' is the app itself: it cannot be changed or deleted", target=name)
    if not NAME.match(name):
        raise BadRequestError(f"a compute target's name is {NAME_RULE}", target="name")
