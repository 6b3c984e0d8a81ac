"""Event triggers in storage, and starting runs from an Event Grid event.

Table `Triggers`, one partition (`triggers`), RowKey `{workspace}|{name}`: all
triggers of the app are read with one query when an event arrives (and kept
for a few seconds), since an event does not say which workspace it is for.

A delivery is at least once: each run is submitted with the idempotency key
`eventgrid|{trigger}|{event id}`, so a redelivered event starts nothing new.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from pipelines.auth.permissions import Principal
from pipelines.errors import BadRequestError, PipelinesError
from pipelines.runs.service import RunService
from pipelines.runs.template import RunTemplate, optional_text
from pipelines.store import StorageAccount, Table, etag_of, key
from pipelines.store.codec import json_text, parse_json, parse_time, time_text
from pipelines.store.named import NamedRows
from pipelines.text import pick
from pipelines.triggers.model import (
    MAX_EVENT_TYPES,
    NAME,
    Event,
    TemplateError,
    Trigger,
    check_placeholders,
    fill,
)
from pipelines.vocabulary import EntityStatus, now

log = logging.getLogger("pipelines.triggers")

PARTITION = "triggers"
CACHE_SECONDS = 5.0
EVENT_GRID = Principal(object_id=None, app_id=None, tenant_id=None, name="EventGrid")

_cache: dict[str, tuple[float, list[Trigger]]] = {}
_cache_lock = threading.Lock()


def _to_entity(trigger: Trigger) -> dict[str, Any]:
    return {
        "PartitionKey": PARTITION,
        "RowKey": key(trigger.workspace, trigger.name),
        "Workspace": trigger.workspace,
        "Name": trigger.name,
        "Description": trigger.description,
        **trigger.template.entity_fields(),
        "EventTypes": json_text(trigger.event_types),
        "SubjectBeginsWith": trigger.subject_begins_with,
        "SubjectEndsWith": trigger.subject_ends_with,
        "Status": int(trigger.status),
        "Created": time_text(trigger.created),
        "Modified": time_text(trigger.modified),
    }


def _from_entity(entity: Mapping[str, Any]) -> Trigger:
    return Trigger(
        workspace=entity["Workspace"],
        name=entity["Name"],
        description=entity.get("Description"),
        template=RunTemplate.from_entity(entity),
        event_types=parse_json(entity.get("EventTypes"), []),
        subject_begins_with=entity.get("SubjectBeginsWith"),
        subject_ends_with=entity.get("SubjectEndsWith"),
        status=EntityStatus(entity.get("Status", 0)),
        created=parse_time(entity.get("Created")),
        modified=parse_time(entity.get("Modified")),
        etag=etag_of(entity),
    )


class Triggers:
    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self.table = Table(account.table("Triggers"))
        self.rows = NamedRows(self.table, PARTITION, "event trigger", _from_entity)
        self.runs = RunService(account)

    # -- registration -------------------------------------------------------------------------------
    def put(self, workspace: str, name: str, body: Mapping[str, Any]) -> Trigger:
        """Create or replace a trigger; its target must exist and its request must parse."""
        if not NAME.match(name):
            raise BadRequestError("trigger names are letters, digits, '_' and '-' (100 at most)", target="name")
        template = RunTemplate.parse(body)
        check_placeholders(template.request, target="Request")
        trigger = Trigger(
            workspace=workspace,
            name=name,
            description=optional_text(body, "Description"),
            template=template,
            subject_begins_with=optional_text(body, "SubjectBeginsWith"),
            subject_ends_with=optional_text(body, "SubjectEndsWith"),
        )
        event_types = pick(body, "EventTypes") or []
        if not isinstance(event_types, list) or len(event_types) > MAX_EVENT_TYPES or not all(
            isinstance(t, str) and t for t in event_types
        ):
            raise BadRequestError(f"EventTypes must be a list of at most {MAX_EVENT_TYPES} names", target="EventTypes")
        trigger.event_types = list(event_types)
        status = pick(body, "EntityStatus")
        trigger.status = EntityStatus.parse(status) if status is not None else EntityStatus.ACTIVE
        template.target(self.runs, workspace)  # 404 for an unknown pipeline or endpoint
        existing = self.rows.find(workspace, name)
        trigger.created = parse_time(existing.get("Created")) if existing else now()
        trigger.modified = now()
        trigger.etag = self.table.upsert(_to_entity(trigger))
        _forget_cache()
        return trigger

    def get(self, workspace: str, name: str) -> Trigger:
        return self.rows.get(workspace, name)

    def list(self, workspace: str) -> list[Trigger]:
        return self.rows.list(workspace)

    def delete(self, workspace: str, name: str) -> None:
        self.rows.delete(workspace, name)
        _forget_cache()

    # -- events --------------------------------------------------------------------------------------
    def active(self) -> list[Trigger]:
        with _cache_lock:
            cached = _cache.get(self.table.client.table_name)
            if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
                return cached[1]
        triggers = self.rows.active()
        with _cache_lock:
            _cache[self.table.client.table_name] = (time.monotonic(), triggers)
        return triggers

    def start_runs(self, event: Event) -> list[str]:
        """Submit a run for every trigger the event matches; returns what happened, per trigger.

        A trigger whose request the event cannot fill, or whose target refuses
        the run (disabled, bad parameters), is logged and skipped: retrying
        the delivery would not change it. Storage failures raise, so Event
        Grid delivers again.
        """
        happened = []
        for trigger in self.active():
            if not trigger.matches(event):
                continue
            try:
                scope = (self.account.settings.container_name("workspaceblobstore"), trigger.workspace)
                run = trigger.template.start(
                    self.runs, trigger.workspace, fill(trigger.template.request, event, scope),
                    principal=EVENT_GRID, run_source="EventGrid",
                    idempotency_key=f"eventgrid|{trigger.name}|{event.id}",
                )
            except (TemplateError, PipelinesError) as exc:
                status = getattr(exc, "status", 400)
                if status >= 500:
                    raise
                message = getattr(exc, "message", str(exc))
                log.warning("trigger %s/%s skipped event %s: %s", trigger.workspace, trigger.name, event.id, message)
                happened.append(f"{trigger.workspace}/{trigger.name}: skipped ({message})")
                continue
            happened.append(f"{trigger.workspace}/{trigger.name}: run {run.id}")
        return happened


def _forget_cache() -> None:
    with _cache_lock:
        _cache.clear()
