"""Pipeline endpoints: a fixed name and id in front of several published versions.

Layout in Table `Endpoints` (PartitionKey = workspace, so an endpoint's rows and
its name index commit together in one entity-group transaction):

- RowKey `id|{endpoint id}`: the endpoint (versions, default, status, ...).
- RowKey `name|{lower-cased name}`: the name index, `EndpointId` → the id row.

Creating inserts both rows in one transaction, so of two concurrent creates of
one name exactly one wins. Renaming swaps the name row in the same transaction
that replaces the endpoint row on its ETag. Lookups by id or name are point
reads (one or two), whatever the size of the workspace.

The service takes typed values: an update is an `EndpointChange`
(`endpoint_changes.py`); the wire bodies are read in `pipelines.api.endpoint_requests`.

A runnable endpoint (Active or Deprecated) never defaults to a disabled pipeline,
which would make every submit to it a 409: creating an endpoint over a disabled
pipeline, setting the default to a version whose pipeline is disabled, or
enabling an endpoint whose default is, is a 409 naming the version and the
pipeline; disabling a pipeline that is the default of a runnable endpoint
(`set_pipeline_status`) is a 409 naming the endpoints. The pipeline's status and
the endpoint live in two tables, so two such changes at the same moment can
still cross; each one alone is checked.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pipelines.catalogue.endpoint_changes import (
    KEEP,
    EndpointChange,
    Keep,
    Version,
    VersionChange,
    merge_versions,
    next_version,
)
from pipelines.catalogue.published import PublishedPipeline, PublishedPipelines
from pipelines.catalogue.webhooks import Webhook, checked, parse_webhooks, restored, webhooks_text
from pipelines.errors import (
    AlreadyExistsError,
    BadRequestError,
    ConflictError,
    EntityDisabledError,
    ErrorDetail,
    EtagMismatchError,
    NotFoundError,
)
from pipelines.store import Operation, StorageAccount, Table, create_op, delete_op, etag_of, key, replace_op
from pipelines.store.codec import json_text, parse_json, parse_time, time_text
from pipelines.text import ENDPOINT_NAME, ENDPOINT_NAME_RULE
from pipelines.vocabulary import EntityStatus, now

MAX_UNGUARDED_TRIES = 5
MAX_TEXT = 4096
NAME, NAME_RULE = ENDPOINT_NAME, ENDPOINT_NAME_RULE
STALE_ETAG = "the pipeline endpoint changed since it was read; read it again"


def text_rule(target: str) -> str:
    return f"{target} must be a string of {MAX_TEXT} characters at most"


@dataclass
class Endpoint:
    id: str
    workspace: str
    name: str
    description: str | None
    default_version: str
    versions: list[Version]
    status: EntityStatus
    properties: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created: datetime | None = None
    modified: datetime | None = None
    etag: str | None = None
    # Where the events of its runs go too (our addition; pipelines.catalogue.webhooks).
    webhooks: tuple[Webhook, ...] = ()

    def to_entity(self) -> dict[str, Any]:
        return {
            "PartitionKey": self.workspace,
            "RowKey": id_row(self.id),
            "Name": self.name,
            "Description": self.description,
            "DefaultVersion": self.default_version,
            "Versions": json_text([[v.version, v.pipeline_id] for v in self.versions]),
            "Status": int(self.status),
            "Properties": json_text(self.properties),
            "Tags": json_text(self.tags),
            "Created": time_text(self.created),
            "Modified": time_text(self.modified),
            "Webhooks": webhooks_text(self.webhooks),
        }

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any]) -> Endpoint:
        return cls(
            id=entity["RowKey"].split("|", 1)[1],
            workspace=entity["PartitionKey"],
            name=entity["Name"],
            description=entity.get("Description"),
            default_version=entity["DefaultVersion"],
            versions=[Version(v, p) for v, p in json.loads(entity["Versions"])],
            status=EntityStatus(entity.get("Status", 0)),
            properties=parse_json(entity.get("Properties"), {}),
            tags=parse_json(entity.get("Tags"), {}),
            created=parse_time(entity.get("Created")),
            modified=parse_time(entity.get("Modified")),
            etag=etag_of(entity),
            webhooks=parse_webhooks(entity.get("Webhooks")),
        )

    def pipeline_for(self, version: str | None) -> Version:
        wanted = self.default_version if version is None else version
        for item in self.versions:
            if item.version == wanted:
                return item
        raise NotFoundError(
            f"pipeline endpoint {self.name!r} has no version {wanted!r}", target="pipelineVersion"
        )

    def ensure_runnable(self) -> None:
        if self.status is EntityStatus.DISABLED:
            raise EntityDisabledError(f"pipeline endpoint {self.name!r} is disabled", target=self.id)


def id_row(endpoint_id: str) -> str:
    return key("id", endpoint_id)


def name_row(name: str) -> str:
    return key("name", name.lower())


class Endpoints:
    def __init__(self, account: StorageAccount, pipelines: PublishedPipelines) -> None:
        self.table = Table(account.table("Endpoints"))
        self.pipelines = pipelines
        self.allow_local_http = account.settings.webhooks_allow_local_http

    # -- create ---------------------------------------------------------------------------
    def create(
        self,
        workspace: str,
        *,
        name: str,
        description: str | None,
        pipeline_id: str,
        properties: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        webhooks: tuple[Webhook, ...] = (),
    ) -> Endpoint:
        """A new endpoint whose version "0", its default, is `pipeline_id`."""
        name = _valid_name(name)
        webhooks = checked(webhooks, allow_local_http=self.allow_local_http)
        pipeline = self.pipelines.get(workspace, pipeline_id)  # 404 when unknown
        if pipeline.status is EntityStatus.DISABLED:
            raise EntityDisabledError(
                f"published pipeline {pipeline_id!r} is disabled: it cannot be the default (version '0') of"
                f" pipeline endpoint {name!r}; enable it first",
                target="PipelineId",
            )
        stamp = now()
        endpoint = Endpoint(
            id=str(uuid.uuid4()),
            workspace=workspace,
            name=name,
            description=_checked_text(description, "Description"),
            default_version="0",
            versions=[Version("0", pipeline_id)],
            status=EntityStatus.ACTIVE,
            properties=dict(properties or {}),
            tags=dict(tags or {}),
            created=stamp,
            modified=stamp,
            webhooks=webhooks,
        )
        try:
            self.table.transact(
                [
                    create_op({"PartitionKey": workspace, "RowKey": name_row(name), "EndpointId": endpoint.id}),
                    create_op(endpoint.to_entity()),
                ]
            )
        except AlreadyExistsError:
            raise ConflictError(
                f"a pipeline endpoint named {name!r} already exists in this workspace", target="Name"
            ) from None
        return self.get(workspace, endpoint.id)

    # -- read ---------------------------------------------------------------------------------
    def get(self, workspace: str, endpoint_id: str) -> Endpoint:
        entity = self.table.get(workspace, id_row(endpoint_id))
        if entity is None:
            raise NotFoundError(f"pipeline endpoint {endpoint_id!r} was not found", target=endpoint_id)
        return Endpoint.from_entity(entity)

    def get_by_name(self, workspace: str, name: str) -> Endpoint:
        if not name:
            raise BadRequestError("the endpoint name is required", target="name")
        index = self.table.get(workspace, name_row(name))
        if index is None:
            raise NotFoundError(f"pipeline endpoint named {name!r} was not found", target=name)
        return self.get(workspace, index["EndpointId"])

    def list(
        self, workspace: str, *, active_only: bool, page_size: int, continuation: str | None
    ) -> tuple[builtins.list[Endpoint], str | None]:
        # id rows only: RowKey in ['id|', 'id}') ('}' sorts right after '|').
        query = "PartitionKey eq @ws and RowKey ge 'id|' and RowKey lt 'id}'"
        if active_only:
            query += " and Status eq 0"
        page, token = self.table.query_page(
            query, parameters={"ws": workspace}, page_size=page_size, continuation=continuation
        )
        return [Endpoint.from_entity(e) for e in page], token

    def pipelines_of(self, endpoint: Endpoint, *, active_only: bool) -> builtins.list[PublishedPipeline]:
        found = [self.pipelines.get(endpoint.workspace, v.pipeline_id) for v in endpoint.versions]
        return [p for p in found if not active_only or p.status is EntityStatus.ACTIVE]

    # -- update ----------------------------------------------------------------------------------
    def update(self, workspace: str, endpoint_id: str, change: EndpointChange) -> Endpoint:
        """Read-modify-write of the whole entity (PUT), guarded by its ETag.

        Fields the change keeps keep their value. A new version without a
        number gets the next one; existing versions keep their pipeline.
        """
        if change.etag:
            return self._update_once(workspace, endpoint_id, change, change.etag)
        # No ETag from the caller: last writer wins, but never a lost update of
        # our own read-modify-write: a write that raced another is redone.
        for _ in range(MAX_UNGUARDED_TRIES - 1):
            try:
                return self._update_once(workspace, endpoint_id, change, None)
            except EtagMismatchError:
                continue
        return self._update_once(workspace, endpoint_id, change, None)

    def _update_once(self, workspace: str, endpoint_id: str, change: EndpointChange, expected: str | None) -> Endpoint:
        current = self.get(workspace, endpoint_id)
        if expected and expected != current.etag:
            raise EtagMismatchError(STALE_ETAG, target="Etag")
        if change.id not in (None, endpoint_id):
            raise BadRequestError("Id in the body does not match the path", target="Id")
        updated = replace(current)
        if not isinstance(change.name, Keep):
            updated.name = _valid_name(change.name)
        if not isinstance(change.description, Keep):
            updated.description = _checked_text(change.description, "Description")
        if not isinstance(change.properties, Keep):
            updated.properties = dict(change.properties)
        if not isinstance(change.tags, Keep):
            updated.tags = dict(change.tags)
        if not isinstance(change.status, Keep):
            updated.status = change.status
        if not isinstance(change.webhooks, Keep):
            webhooks = restored(change.webhooks, current.webhooks)  # as answers showed them: the stored ones
            updated.webhooks = checked(webhooks, allow_local_http=self.allow_local_http)
        if not isinstance(change.versions, Keep):
            updated.versions = merge_versions(
                current.versions, change.versions, lambda pipeline_id: self.pipelines.get(workspace, pipeline_id)
            )
        if not isinstance(change.default_version, Keep):
            updated.default_version = change.default_version
        if updated.default_version not in {v.version for v in updated.versions}:
            raise BadRequestError(
                f"DefaultVersion {updated.default_version!r} is not a version of this endpoint",
                target="DefaultVersion",
            )
        runnable = updated.status is not EntityStatus.DISABLED
        newly_runnable = runnable and current.status is EntityStatus.DISABLED
        if runnable and (updated.default_version != current.default_version or newly_runnable):
            self._check_default(workspace, updated)
        updated.modified = now()
        self._write(current, updated)
        return self.get(workspace, endpoint_id)

    def _check_default(self, workspace: str, endpoint: Endpoint) -> None:
        default = endpoint.pipeline_for(None)
        if self.pipelines.get(workspace, default.pipeline_id).status is EntityStatus.DISABLED:
            raise EntityDisabledError(
                f"version {default.version!r} of pipeline endpoint {endpoint.name!r} is published"
                f" pipeline {default.pipeline_id!r}, which is disabled: it cannot be the default of an"
                " enabled endpoint; enable the pipeline or choose another version",
                target="DefaultVersion",
            )

    # -- the status of the pipelines behind endpoints ----------------------------------------------------
    def defaulting_to(self, workspace: str, pipeline_id: str) -> builtins.list[Endpoint]:
        """The runnable (Active or Deprecated) endpoints whose default version is `pipeline_id`:
        one query over the workspace's endpoints, which are few beside its runs."""
        rows = self.table.query_all(
            "PartitionKey eq @ws and RowKey ge 'id|' and RowKey lt 'id}' and Status ne 2",
            parameters={"ws": workspace},
        )
        endpoints = [Endpoint.from_entity(row) for row in rows]
        return [e for e in endpoints if Version(e.default_version, pipeline_id) in e.versions]

    def set_pipeline_status(
        self, workspace: str, pipeline_id: str, status: EntityStatus
    ) -> PublishedPipeline:
        """A published pipeline's status (`PublishedPipelines.set_status`), except that a pipeline
        that is the default version of a runnable endpoint is not disabled: 409 naming each one."""
        if status is EntityStatus.DISABLED:
            self.pipelines.get(workspace, pipeline_id)  # 404 first
            defaults = self.defaulting_to(workspace, pipeline_id)
            if defaults:
                names = ", ".join(repr(e.name) for e in defaults)
                raise ConflictError(
                    f"published pipeline {pipeline_id!r} is the default version of pipeline endpoint(s)"
                    f" {names}: set another default (or disable the endpoint) before disabling it",
                    target=pipeline_id,
                    details=[
                        ErrorDetail(
                            "EndpointDefault",
                            f"pipeline endpoint {e.name!r} defaults to version {e.default_version!r}",
                            e.id,
                        )
                        for e in defaults
                    ],
                )
        return self.pipelines.set_status(workspace, pipeline_id, status)

    def add_version(self, workspace: str, endpoint_id: str, pipeline_id: str, *, make_default: bool) -> Endpoint:
        """Append a published pipeline as the next version (a no-op if it is already there)."""
        current = self.get(workspace, endpoint_id)
        existing = [v for v in current.versions if v.pipeline_id == pipeline_id]
        versions = list(current.versions)
        if not existing:
            self.pipelines.get(workspace, pipeline_id)
            versions.append(Version(next_version(versions), pipeline_id))
        chosen = existing[0] if existing else versions[-1]
        change = EndpointChange(
            etag=current.etag,
            versions=tuple(VersionChange(v.version, v.pipeline_id) for v in versions),
            default_version=chosen.version if make_default else KEEP,
        )
        return self.update(workspace, endpoint_id, change)

    def _write(self, current: Endpoint, updated: Endpoint) -> None:
        operations: builtins.list[Operation] = []
        if updated.name.lower() != current.name.lower():
            operations += [
                create_op(
                    {"PartitionKey": current.workspace, "RowKey": name_row(updated.name), "EndpointId": current.id}
                ),
                delete_op(current.workspace, name_row(current.name)),
            ]
        operations.append(replace_op(updated.to_entity(), current.etag))
        try:
            self.table.transact(operations)
        except AlreadyExistsError:
            raise ConflictError(
                f"a pipeline endpoint named {updated.name!r} already exists in this workspace", target="Name"
            ) from None


def _valid_name(value: str) -> str:
    if not NAME.match(value):
        raise BadRequestError(NAME_RULE, target="Name")
    return value


def _checked_text(value: str | None, target: str) -> str | None:
    if value is not None and len(value) > MAX_TEXT:
        raise BadRequestError(text_rule(target), target=target)
    return value
