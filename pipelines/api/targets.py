"""Routes of compute targets (issue 16; the project's own, under the workspace prefix): where a
published step runs. The catalogue keeps them (`pipelines.catalogue.targets`); the wire models
are `pipelines.api.targets_contract`."""

from __future__ import annotations

from pipelines.api.answers import TriggerDeleted
from pipelines.api.http import RequestContext, route
from pipelines.api.targets_contract import ComputeTargetEntity, target_entity, target_spec
from pipelines.catalogue import ComputeTargets
from pipelines.store import get_account


def _targets() -> ComputeTargets:
    return ComputeTargets(get_account())


@route("list_compute_targets")
def list_compute_targets(ctx: RequestContext) -> list[ComputeTargetEntity]:
    """Every target of the workspace, `app` (the app itself) first."""
    return [target_entity(t) for t in _targets().list(ctx.workspace)]


@route("get_compute_target")
def get_compute_target(ctx: RequestContext) -> ComputeTargetEntity:
    return target_entity(_targets().get(ctx.workspace, ctx.param("targetName")))


@route("put_compute_target")
def put_compute_target(ctx: RequestContext) -> ComputeTargetEntity:
    """Create or replace a target; runs under way keep the queues their steps recorded."""
    spec = target_spec(ctx.json_object(empty_ok=False))
    return target_entity(_targets().put(ctx.workspace, ctx.param("targetName"), spec))


@route("delete_compute_target")
def delete_compute_target(ctx: RequestContext) -> TriggerDeleted:
    """Delete a target; 409 naming the published pipelines that can run and use it."""
    name = ctx.param("targetName")
    _targets().delete(ctx.workspace, name)
    return TriggerDeleted(name=name, deleted=True)
