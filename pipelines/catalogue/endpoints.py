"""Pipeline endpoints: a fixed name and id in front of several published versions.

Layout in Table `Endpoints` (PartitionKey = workspace, so an endpoint's rows and
its name index commit together in one entity-group transaction):

- RowKey `id|{endpoint id}`: the endpoint (versions, default, status, ...).
- RowKey `name|{lower-cased name}`: the name index, `EndpointId` → the id row.

Creating inserts both rows in one transaction, so of two concurrent creates of
one name exactly one wins. Renaming swaps the name row in the same transaction
that replaces the endpoint row on its ETag. Lookups by id or name are point
reads (one or two), whatever the size of the workspace.

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
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pipelines.catalogue.published import PublishedPipeline, PublishedPipelines
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
from pipelines.text import whole_number
from pipelines.vocabulary import EntityStatus, now

MAX_UNGUARDED_TRIES = 5
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,254}$")


@dataclass(frozen=True)
class Version:
    version: str
    pipeline_id: str


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


def next_version(versions: list[Version]) -> str:
    numbers = [n for n in (whole_number(v.version) for v in versions) if n is not None]
    return str(max(numbers) + 1 if numbers else 0)


class Endpoints:
    def __init__(self, account: StorageAccount, pipelines: PublishedPipelines) -> None:
        self.table = Table(account.table("Endpoints"))
        self.pipelines = pipelines

    # -- create ---------------------------------------------------------------------------
    def create(
        self,
        workspace: str,
        *,
        name: Any,
        description: Any,
        pipeline_id: Any,
        properties: Any = None,
        tags: Any = None,
    ) -> Endpoint:
        name = _valid_name(name)
        if not isinstance(pipeline_id, str) or not pipeline_id:
            raise BadRequestError("PipelineId is required", target="PipelineId")
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
            description=_optional_text(description, "Description"),
            default_version="0",
            versions=[Version("0", pipeline_id)],
            status=EntityStatus.ACTIVE,
            properties=_string_map(properties, "Properties"),
            tags=_string_map(tags, "tags"),
            created=stamp,
            modified=stamp,
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
    def update(self, workspace: str, endpoint_id: str, body: Mapping[str, Any], if_match: str | None) -> Endpoint:
        """Read-modify-write of the whole entity (PUT), guarded by its ETag.

        Keys absent from the body keep their value. A new version without a
        `Version` number gets the next one; existing versions keep their pipeline.
        """
        expected = body.get("Etag") or if_match
        if expected:
            return self._update_once(workspace, endpoint_id, body, expected)
        # No ETag from the caller: last writer wins, but never a lost update of
        # our own read-modify-write: a write that raced another is redone.
        for _ in range(MAX_UNGUARDED_TRIES - 1):
            try:
                return self._update_once(workspace, endpoint_id, body, None)
            except EtagMismatchError:
                continue
        return self._update_once(workspace, endpoint_id, body, None)

    def _update_once(self, workspace: str, endpoint_id: str, body: Mapping[str, Any], expected: str | None) -> Endpoint:
        current = self.get(workspace, endpoint_id)
        if expected and expected != current.etag:
            raise EtagMismatchError(
                "the pipeline endpoint changed since it was read; read it again", target="Etag"
            )
        if "Id" in body and body["Id"] not in (None, endpoint_id):
            raise BadRequestError("Id in the body does not match the path", target="Id")
        updated = replace(current)
        if "Name" in body:
            updated.name = _valid_name(body["Name"])
        if "Description" in body:
            updated.description = _optional_text(body["Description"], "Description")
        if "Properties" in body:
            updated.properties = _string_map(body["Properties"], "Properties")
        if "tags" in body or "Tags" in body:
            updated.tags = _string_map(body.get("tags", body.get("Tags")), "tags")
        if "EntityStatus" in body and body["EntityStatus"] is not None:
            updated.status = EntityStatus.parse(body["EntityStatus"])
        if "PipelineVersionList" in body:
            updated.versions = self._merge_versions(workspace, current.versions, body["PipelineVersionList"])
        if "DefaultVersion" in body and body["DefaultVersion"] is not None:
            updated.default_version = str(body["DefaultVersion"])
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

    def _merge_versions(
        self, workspace: str, current: builtins.list[Version], given: Any
    ) -> builtins.list[Version]:
        if not isinstance(given, list) or not given:
            raise BadRequestError("PipelineVersionList must be a non-empty list", target="PipelineVersionList")
        existing = {v.version: v for v in current}
        merged: builtins.list[Version] = []
        seen_pipelines: set[str] = set()
        for index, item in enumerate(given):
            target = f"PipelineVersionList[{index}]"
            if not isinstance(item, Mapping) or not isinstance(item.get("PipelineId"), str):
                raise BadRequestError("each version needs a PipelineId", target=target)
            pipeline_id = item["PipelineId"]
            version = item.get("Version")
            if version in (None, ""):
                version = next_version(current + merged)
            version = str(version)
            if whole_number(version) is None or version != version.strip():
                raise BadRequestError(f"version {version!r} must be a whole number", target=target)
            if version in existing and existing[version].pipeline_id != pipeline_id:
                raise BadRequestError(
                    f"version {version!r} already points to pipeline {existing[version].pipeline_id!r};"
                    " a new pipeline is a new version",
                    target=target,
                )
            if version not in existing and int(version) < int(next_version(current)):
                raise BadRequestError(
                    f"version {version!r} was used before; the next version is {next_version(current)!r}",
                    target=target,
                )
            if any(v.version == version for v in merged):
                raise BadRequestError(f"version {version!r} appears twice", target=target)
            if pipeline_id in seen_pipelines:
                raise BadRequestError(f"pipeline {pipeline_id!r} appears twice", target=target)
            if version not in existing:
                self.pipelines.get(workspace, pipeline_id)  # 404 when unknown
            seen_pipelines.add(pipeline_id)
            merged.append(Version(version, pipeline_id))
        return merged

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
        body: dict[str, Any] = {
            "Etag": current.etag,
            "PipelineVersionList": [{"Version": v.version, "PipelineId": v.pipeline_id} for v in versions],
        }
        if make_default:
            body["DefaultVersion"] = chosen.version
        return self.update(workspace, endpoint_id, body, None)

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


def _valid_name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise BadRequestError(
            "Name must start with a letter or digit and hold letters, digits, '_', '-', '.' or spaces"
            " (255 at most)",
            target="Name",
        )
    return value


def _optional_text(value: Any, target: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 4096:
        raise BadRequestError(f"{target} must be a string of 4096 characters at most", target=target)
    return value


def _string_map(value: Any, target: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise BadRequestError(f"{target} must be an object of strings", target=target)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
