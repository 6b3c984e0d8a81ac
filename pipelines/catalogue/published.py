"""Published pipelines: immutable definitions in Blob storage, records in Table storage.

Layout (all keys scoped by workspace):

- Table `Pipelines`: PartitionKey = workspace, RowKey = pipeline id. One point
  read finds a pipeline whatever the size of the workspace.
- Blob `graphs/{workspace}/{graph id}.json`: the published definition. The graph
  id is the sha256 of its canonical JSON, so the blob never changes and is cached
  in memory by id once read.
- Blob `snapshots/{workspace}/sha256/{hash}.zip`: code snapshots, content-addressed.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.authoring.checks import validate_definition
from pipelines.authoring.definition import PipelineDefinition, definition_json, parse_definition
from pipelines.authoring.snapshot import validate_snapshot
from pipelines.catalogue.targets import ComputeTargets
from pipelines.errors import (
    AlreadyExistsError,
    BadRequestError,
    EntityDisabledError,
    ErrorDetail,
    NotFoundError,
    PipelinesError,
)
from pipelines.store import MissingBlobError, StorageAccount, Table, etag_of, key
from pipelines.store.codec import json_text, parse_json, parse_time, time_text
from pipelines.vocabulary import EntityStatus, now

_MAX_TEXT = 4096
MAX_DEFAULTS_CHARS = 16 * 1024


@dataclass
class PublishedPipeline:
    id: str
    workspace: str
    name: str | None
    description: str | None
    version: str | None
    status: EntityStatus
    graph_id: str
    snapshot: str
    total_steps: int
    continue_on_step_failure: bool
    properties: dict[str, str] = field(default_factory=dict)
    created: datetime | None = None
    modified: datetime | None = None
    etag: str | None = None

    def to_entity(self) -> dict[str, Any]:
        return {
            "PartitionKey": self.workspace,
            "RowKey": self.id,
            "Name": self.name,
            "Description": self.description,
            "Version": self.version,
            "Status": int(self.status),
            "GraphId": self.graph_id,
            "Snapshot": self.snapshot,
            "TotalSteps": self.total_steps,
            "ContinueOnStepFailure": self.continue_on_step_failure,
            "Properties": json_text(self.properties),
            "Created": time_text(self.created),
            "Modified": time_text(self.modified),
        }

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> PublishedPipeline:
        return cls(
            id=entity["RowKey"],
            workspace=entity["PartitionKey"],
            name=entity.get("Name"),
            description=entity.get("Description"),
            version=entity.get("Version"),
            status=EntityStatus(entity.get("Status", 0)),
            graph_id=entity["GraphId"],
            snapshot=entity.get("Snapshot", ""),
            total_steps=int(entity.get("TotalSteps", 0)),
            continue_on_step_failure=bool(entity.get("ContinueOnStepFailure", False)),
            properties=parse_json(entity.get("Properties"), {}),
            created=parse_time(entity.get("Created")),
            modified=parse_time(entity.get("Modified")),
            etag=etag_of(entity),
        )

    def ensure_runnable(self) -> None:
        if self.status is EntityStatus.DISABLED:
            raise EntityDisabledError(
                f"published pipeline {self.id!r} is disabled", target=self.id
            )


def graph_id_of(definition: PipelineDefinition) -> str:
    canonical = json.dumps(definition_json(definition), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class DefinitionCache:
    """Definitions never change once published: keep the parsed ones in memory."""

    def __init__(self, capacity: int = 256) -> None:
        self._items: dict[tuple[str, str], PipelineDefinition] = {}
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, workspace: str, graph_id: str) -> PipelineDefinition | None:
        with self._lock:
            return self._items.get((workspace, graph_id))

    def put(self, workspace: str, graph_id: str, definition: PipelineDefinition) -> None:
        with self._lock:
            if len(self._items) >= self._capacity:
                self._items.pop(next(iter(self._items)))
            self._items[(workspace, graph_id)] = definition


_definitions = DefinitionCache()


@dataclass(frozen=True)
class StoredSnapshot:
    """A code snapshot uploaded: its hash, its size in bytes, how many files the zip
    holds, and whether this upload stored it (false when the same bytes were there)."""

    sha256: str
    size: int
    files: int
    created: bool


class PublishedPipelines:
    """Publishing, reading, listing and the status of published pipelines."""

    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self.table = Table(account.table("Pipelines"))
        self.graphs = account.container("graphs")
        self.snapshots = account.container("snapshots")

    # -- snapshots ---------------------------------------------------------------------
    @staticmethod
    def snapshot_blob(workspace: str, sha256: str) -> str:
        return f"{workspace}/sha256/{sha256}.zip"

    def upload_snapshot(self, workspace: str, sha256: str, data: bytes) -> StoredSnapshot:
        """Store a code snapshot once, under its hash; the same upload twice stores nothing new."""
        names = validate_snapshot(data, sha256, self.account.settings.max_snapshot_bytes)
        try:
            self.snapshots.write(self.snapshot_blob(workspace, sha256), data, overwrite=False)
            created = True
        except AlreadyExistsError:
            created = False  # content-addressed: what is there is the same bytes
        return StoredSnapshot(sha256=sha256, size=len(data), files=len(names), created=created)

    def snapshot_exists(self, workspace: str, sha256: str) -> bool:
        return self.snapshots.exists(self.snapshot_blob(workspace, sha256))

    def download_snapshot(self, workspace: str, sha256: str) -> bytes:
        try:
            return self.snapshots.read(self.snapshot_blob(workspace, sha256))
        except MissingBlobError:
            raise NotFoundError(f"code snapshot {sha256!r} was not found", target=sha256) from None

    # -- publish -----------------------------------------------------------------------------
    def publish(
        self,
        workspace: str,
        *,
        name: str | None,
        description: str | None,
        version: str | None,
        definition: Any,
        properties: dict[str, str] | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> PublishedPipeline:
        parsed = parse_definition(definition)
        validate_definition(parsed)
        if continue_on_step_failure is not None:
            parsed = parsed.model_copy(update={"continue_on_step_failure": continue_on_step_failure})
        _check_text("Name", name)
        _check_text("Description", description)
        _check_text("Version", version)
        scalar_defaults = {p.name: p.default for p in parsed.parameters if p.type not in ("dataset", "datapath")}
        if len(json_text(scalar_defaults)) > MAX_DEFAULTS_CHARS:
            # Every run keeps its parameter values in one Table property: defaults
            # that could not fit there would make a pipeline no run could start.
            raise BadRequestError(
                f"the parameter defaults together are over {MAX_DEFAULTS_CHARS} characters", target="parameters"
            )
        missing = sorted({s.snapshot for s in parsed.steps if not self.snapshot_exists(workspace, s.snapshot)})
        if missing:
            raise BadRequestError(
                "code snapshots must be uploaded before the pipeline that uses them",
                target="Definition.steps.snapshot",
                details=[ErrorDetail("SnapshotNotFound", f"snapshot {h} is not uploaded", h) for h in missing],
            )
        graph_id = graph_id_of(parsed)
        targets = ComputeTargets(self.account)
        placement = targets.place(workspace, parsed)  # 400 naming each step whose target does not exist
        targets.check_fit(workspace, parsed, placement)
        body = json.dumps(definition_json(parsed), sort_keys=True).encode()
        with contextlib.suppress(AlreadyExistsError):  # the same graph published before: content-addressed
            self.graphs.write(f"{workspace}/{graph_id}.json", body, overwrite=False)
        stamp = now()
        record = PublishedPipeline(
            id=str(uuid.uuid4()),
            workspace=workspace,
            name=name,
            description=description,
            version=version,
            status=EntityStatus.ACTIVE,
            graph_id=graph_id,
            snapshot=parsed.snapshot,
            total_steps=len(parsed.steps),
            continue_on_step_failure=parsed.continue_on_step_failure,
            properties=dict(properties or {}),
            created=stamp,
            modified=stamp,
        )
        targets.record_uses(workspace, record.id, name, parsed)  # before the row: a dangling use is skipped
        record.etag = self.table.insert(record.to_entity())
        _definitions.put(workspace, graph_id, parsed)
        return record

    # -- read -----------------------------------------------------------------------------------
    def get(self, workspace: str, pipeline_id: str) -> PublishedPipeline:
        entity = self.table.get(workspace, key(pipeline_id))
        if entity is None:
            raise NotFoundError(f"published pipeline {pipeline_id!r} was not found", target=pipeline_id)
        return PublishedPipeline.from_entity(entity)

    def definition(self, pipeline: PublishedPipeline) -> PipelineDefinition:
        return self.graph(pipeline.workspace, pipeline.graph_id)

    def graph(self, workspace: str, graph_id: str) -> PipelineDefinition:
        """A published definition by its graph id (what a run records): from memory once read."""
        cached = _definitions.get(workspace, graph_id)
        if cached is not None:
            return cached
        raw = self.graphs.read(f"{workspace}/{graph_id}.json")
        parsed = PipelineDefinition.model_validate_json(raw)
        if graph_id_of(parsed) != graph_id:
            # The graph blob is named by its own hash: anything else was changed after publish.
            raise PipelinesError(f"the graph {graph_id!r} does not match its id")
        _definitions.put(workspace, graph_id, parsed)
        return parsed

    def list(
        self, workspace: str, *, active_only: bool, page_size: int, continuation: str | None
    ) -> tuple[builtins.list[PublishedPipeline], str | None]:
        query = "PartitionKey eq @ws" + (" and Status eq 0" if active_only else "")
        page, token = self.table.query_page(
            query, parameters={"ws": workspace}, page_size=page_size, continuation=continuation
        )
        return [PublishedPipeline.from_entity(e) for e in page], token

    # -- status -----------------------------------------------------------------------------------
    def set_status(self, workspace: str, pipeline_id: str, status: EntityStatus) -> PublishedPipeline:
        """Only the status of a published pipeline ever changes."""
        entity = self.table.get(workspace, key(pipeline_id))
        if entity is None:
            raise NotFoundError(f"published pipeline {pipeline_id!r} was not found", target=pipeline_id)
        record = PublishedPipeline.from_entity(entity)
        if record.status is status:
            return record
        record.status = status
        record.modified = now()
        record.etag = self.table.merge(
            {"PartitionKey": workspace, "RowKey": pipeline_id, "Status": int(status),
             "Modified": time_text(record.modified)},
        )
        return record


def _check_text(name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise BadRequestError(f"{name} must be a string", target=name)
    if len(value) > _MAX_TEXT:
        raise BadRequestError(f"{name} is longer than {_MAX_TEXT} characters", target=name)
