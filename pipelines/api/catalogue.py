"""Routes of the catalogue: snapshots, published pipelines, pipeline endpoints."""

from __future__ import annotations

import re
from typing import Any

from pipelines.api.answers import SnapshotUploaded
from pipelines.api.contract import (
    PipelineEndpointEntity,
    PipelineEntity,
    PipelineVersion,
    WebhookEntity,
    wire_time,
)
from pipelines.api.endpoint_requests import endpoint_change, new_endpoint
from pipelines.api.endpoint_swagger import endpoint_swagger
from pipelines.api.http import Reply, RequestContext, route
from pipelines.api.paging import page_request, paged
from pipelines.authoring.coercion import format_parameter
from pipelines.authoring.definition import PipelineDefinition
from pipelines.catalogue import Endpoint, Endpoints, PublishedPipeline, PublishedPipelines
from pipelines.catalogue.webhooks import shown
from pipelines.errors import BadRequestError
from pipelines.settings import get_settings
from pipelines.store import get_account
from pipelines.text import pick
from pipelines.vocabulary import EntityStatus

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def services() -> tuple[PublishedPipelines, Endpoints]:
    account = get_account()
    published = PublishedPipelines(account)
    return published, Endpoints(account, published)


# -- wire shapes ---------------------------------------------------------------------------------
def defaults_of(definition: PipelineDefinition) -> tuple[dict[str, str], dict[str, Any]]:
    """Parameter defaults as the old service showed them: scalars as strings, data as references."""
    scalars: dict[str, str] = {}
    data: dict[str, Any] = {}
    for spec in definition.parameters:
        default: Any = spec.default
        if spec.type == "dataset":
            version = str(default.version) if default.version is not None else None
            data[spec.name] = {"DataSetReference": {"Id": default.id, "Name": default.name, "Version": version}}
        elif spec.type == "datapath":
            data[spec.name] = {"LiteralValue": {"DataStoreName": default.datastore, "RelativePath": default.path}}
        else:
            scalars[spec.name] = format_parameter(spec, spec.default)
    return scalars, data


def pipeline_entity(ctx: RequestContext, record: PublishedPipeline, published: PublishedPipelines) -> PipelineEntity:
    definition = published.definition(record)
    scalars, data = defaults_of(definition)
    return PipelineEntity(
        id=record.id,
        name=record.name,
        description=record.description,
        version=record.version,
        entity_status=int(record.status),
        url=f"{ctx.workspace_url}/PipelineRuns/PipelineSubmit/{record.id}",
        total_run_steps=record.total_steps,
        graph_id=record.graph_id,
        continue_run_on_step_failure=record.continue_on_step_failure,
        parameter_assignments=scalars,
        data_set_definition_value_assignments=data,
        etag=record.etag,
        created_date=wire_time(record.created),
        last_modified_date=wire_time(record.modified),
        properties=record.properties,
        snapshot_id=record.snapshot,
        parameter_types={spec.name: spec.type for spec in definition.parameters},
    )


def endpoint_submit_url(ctx: RequestContext, endpoint: Endpoint) -> str:
    """Where the endpoint's default version is run: its `Url`."""
    return f"{ctx.workspace_url}/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}"


def endpoint_entity(ctx: RequestContext, endpoint: Endpoint) -> PipelineEndpointEntity:
    return PipelineEndpointEntity(
        id=endpoint.id,
        name=endpoint.name,
        description=endpoint.description,
        default_version=endpoint.default_version,
        pipeline_version_list=[
            PipelineVersion(version=v.version, pipeline_id=v.pipeline_id) for v in endpoint.versions
        ],
        entity_status=int(endpoint.status),
        url=endpoint_submit_url(ctx, endpoint),
        swagger_url=f"{ctx.workspace_url}/PipelineEndpoints/{endpoint.id}/swagger.json",
        etag=endpoint.etag,
        created_date=wire_time(endpoint.created),
        last_modified_date=wire_time(endpoint.modified),
        properties=endpoint.properties,
        tags=endpoint.tags,
        webhooks=[WebhookEntity(url=shown(hook.url), secret_setting=hook.secret_setting) for hook in endpoint.webhooks],
    )


def active_only(ctx: RequestContext) -> bool:
    """`activeOnly` defaults to true, as `list(active_only=True)` did in the old SDK."""
    value = ctx.query("activeOnly")
    if value is None or value == "":
        return True
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise BadRequestError("activeOnly must be true or false", target="activeOnly")


# -- snapshots and publishing ------------------------------------------------------------------------
@route("upload_snapshot", max_bytes=lambda: get_settings().max_snapshot_bytes)
def upload_snapshot(ctx: RequestContext) -> SnapshotUploaded:
    """Store a zipped code snapshot under its sha256 (PUT the zip bytes)."""
    digest = ctx.param("snapshotHash").lower()
    if not _SHA256.match(digest):
        raise BadRequestError("the snapshot id is the sha256 of the zip, 64 hex digits", target="snapshotHash")
    published, _ = services()
    stored = published.upload_snapshot(ctx.workspace, digest, ctx.request.get_body() or b"")
    return SnapshotUploaded(hash=stored.sha256, size=stored.size, files=stored.files, created=stored.created)


@route("publish_pipeline")
def publish_pipeline(ctx: RequestContext) -> PipelineEntity:
    """Publish a pipeline definition whose snapshots were uploaded."""
    body = ctx.json_object(empty_ok=False)
    definition = pick(body, "Definition")
    if definition is None:
        raise BadRequestError("Definition is required", target="Definition")
    properties = pick(body, "Properties")
    if properties is not None and not isinstance(properties, dict):
        raise BadRequestError("Properties must be an object of strings", target="Properties")
    continue_on_failure = pick(body, "ContinueRunOnStepFailure")
    if continue_on_failure is not None and not isinstance(continue_on_failure, bool):
        raise BadRequestError("ContinueRunOnStepFailure must be a boolean", target="ContinueRunOnStepFailure")
    published, _ = services()
    record = published.publish(
        ctx.workspace,
        name=pick(body, "Name"),
        description=pick(body, "Description"),
        version=_version_text(pick(body, "Version")),
        definition=definition,
        properties={str(k): str(v) for k, v in (properties or {}).items()},
        continue_on_step_failure=continue_on_failure,
    )
    return pipeline_entity(ctx, record, published)


def _version_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise BadRequestError("Version must be a string such as \"1.0\"", target="Version")


# -- published pipelines -------------------------------------------------------------------------
@route("get_pipeline")
def get_pipeline(ctx: RequestContext) -> PipelineEntity:
    published, _ = services()
    return pipeline_entity(ctx, published.get(ctx.workspace, ctx.param("pipelineId")), published)


@route("list_pipelines")
def list_pipelines(ctx: RequestContext) -> Reply:
    published, _ = services()
    size, token = page_request(ctx)
    records, next_token = published.list(
        ctx.workspace, active_only=active_only(ctx), page_size=size, continuation=token
    )
    return paged([pipeline_entity(ctx, r, published) for r in records], next_token)


@route("set_pipeline_status")
def set_pipeline_status(ctx: RequestContext) -> PipelineEntity:
    """Body: the JSON string "Active", "Deprecated" or "Disabled" (or 0, 1, 2)."""
    value = ctx.json()
    if isinstance(value, dict):  # tolerate {"Status": ...} / {"EntityStatus": ...}
        value = pick(value, "EntityStatus") if pick(value, "EntityStatus") is not None else pick(value, "Status")
    status = EntityStatus.parse(value, target="status")
    published, endpoints = services()
    # Through the endpoints: disabling the default version of a runnable endpoint is a 409.
    record = endpoints.set_pipeline_status(ctx.workspace, ctx.param("pipelineId"), status)
    return pipeline_entity(ctx, record, published)


# -- pipeline endpoints ----------------------------------------------------------------------------
@route("create_endpoint")
def create_endpoint(ctx: RequestContext) -> PipelineEndpointEntity:
    new = new_endpoint(ctx.json_object(empty_ok=False))
    _, endpoints = services()
    endpoint = endpoints.create(
        ctx.workspace,
        name=new.name,
        description=new.description,
        pipeline_id=new.pipeline_id,
        properties=new.properties,
        tags=new.tags,
        webhooks=new.webhooks,
    )
    return endpoint_entity(ctx, endpoint)


@route("get_endpoint")
def get_endpoint(ctx: RequestContext) -> PipelineEndpointEntity:
    _, endpoints = services()
    return endpoint_entity(ctx, endpoints.get(ctx.workspace, ctx.param("endpointId")))


@route("get_endpoint_by_name")
def get_endpoint_by_name(ctx: RequestContext) -> PipelineEndpointEntity:
    _, endpoints = services()
    return endpoint_entity(ctx, endpoints.get_by_name(ctx.workspace, ctx.query("name") or ""))


@route("list_endpoints")
def list_endpoints(ctx: RequestContext) -> Reply:
    _, endpoints = services()
    size, token = page_request(ctx)
    items, next_token = endpoints.list(ctx.workspace, active_only=active_only(ctx), page_size=size, continuation=token)
    return paged([endpoint_entity(ctx, e) for e in items], next_token)


@route("update_endpoint")
def update_endpoint(ctx: RequestContext) -> PipelineEndpointEntity:
    """PUT the whole entity; keys in any case (`endpoint_requests.endpoint_change`)."""
    change = endpoint_change(ctx.json_object(empty_ok=False), ctx.header("If-Match"))
    _, endpoints = services()
    return endpoint_entity(ctx, endpoints.update(ctx.workspace, ctx.param("endpointId"), change))


@route("get_endpoint_swagger")
def get_endpoint_swagger(ctx: RequestContext) -> dict[str, Any]:
    """The endpoint's Swagger document (its `SwaggerUrl`): the submit of its default version."""
    published, endpoints = services()
    endpoint = endpoints.get(ctx.workspace, ctx.param("endpointId"))
    pipeline = published.get(ctx.workspace, endpoint.pipeline_for(None).pipeline_id)
    return endpoint_swagger(
        name=endpoint.name, description=endpoint.description, version=endpoint.default_version,
        submit_url=endpoint_submit_url(ctx, endpoint),
        definition=published.definition(pipeline),
    )


@route("list_endpoint_pipelines")
def list_endpoint_pipelines(ctx: RequestContext) -> list[PipelineEntity]:
    published, endpoints = services()
    endpoint = endpoints.get(ctx.workspace, ctx.param("endpointId"))
    return [pipeline_entity(ctx, p, published) for p in endpoints.pipelines_of(endpoint, active_only=active_only(ctx))]
