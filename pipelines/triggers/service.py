"""Event triggers in storage, and starting runs from an Event Grid event.

Table `Triggers`, one partition (`triggers`), RowKey `{workspace}|{name}`: all
triggers of the app are read with one query when an event arrives (and kept
for a few seconds), since an event does not say which workspace it is for.

A row holds `Definition` (the trigger as written: snake_case JSON of
`TriggerDefinition`), `Status` (queried), `Created`, `Modified`, and what its
firings did (`Firings`: `LastFired`, `LastRunId`, `LastError`, `SkippedCount`),
which a PUT keeps. Rows of the format before `Definition` are not read.

A delivery is at least once: each run is submitted with the idempotency key
`eventgrid|{trigger}|{event id}`, so a redelivered event starts nothing new,
and a skip already recorded for an event is not counted again.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pipelines.auth.permissions import Principal
from pipelines.errors import BadRequestError, ErrorDetail, PipelinesError
from pipelines.runs.model import Run
from pipelines.runs.request import refuse
from pipelines.runs.service import RunService
from pipelines.runs.template import (
    IDEMPOTENCY_KEY,
    Author,
    FiringError,
    Firings,
    RunTemplate,
    keys_of,
    record_firing,
    save_definition,
)
from pipelines.store import StorageAccount, Table, etag_of, key
from pipelines.store.codec import parse_time
from pipelines.store.named import NamedRows
from pipelines.triggers.model import (
    NAME,
    PLACEHOLDERS,
    Event,
    Trigger,
    fill,
    placeholder_problems,
)
from pipelines.vocabulary import EntityStatus, now

log = logging.getLogger("pipelines.triggers")

PARTITION = "triggers"
CACHE_SECONDS = 5.0
EVENT_GRID = Principal(object_id=None, app_id=None, tenant_id=None, name="EventGrid")

_cache: dict[str, tuple[float, builtins.list[Trigger]]] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class TriggerDefinition:
    """What a PUT writes (the row's `Definition`)."""

    template: RunTemplate
    description: str | None = None
    event_types: builtins.list[str] = field(default_factory=builtins.list)
    subject_begins_with: str | None = None
    subject_ends_with: str | None = None


_DEFINITION: TypeAdapter[TriggerDefinition] = TypeAdapter(TriggerDefinition)


def _fields(trigger: Trigger) -> dict[str, Any]:
    definition = TriggerDefinition(
        template=trigger.template,
        description=trigger.description,
        event_types=builtins.list(trigger.event_types),
        subject_begins_with=trigger.subject_begins_with,
        subject_ends_with=trigger.subject_ends_with,
    )
    return {
        "Workspace": trigger.workspace,
        "Name": trigger.name,
        "Definition": _DEFINITION.dump_json(definition).decode(),
        "Status": int(trigger.status),
    }


def _from_entity(entity: Mapping[str, Any]) -> Trigger:
    try:
        definition = _DEFINITION.validate_json(entity["Definition"])
    except (KeyError, ValidationError):
        raise PipelinesError(
            f"event trigger row {entity.get('RowKey')!r} is not in the current format:"
            " delete it and create it again"
        ) from None
    return Trigger(
        workspace=entity["Workspace"],
        name=entity["Name"],
        description=definition.description,
        template=definition.template,
        event_types=builtins.list(definition.event_types),
        subject_begins_with=definition.subject_begins_with,
        subject_ends_with=definition.subject_ends_with,
        status=EntityStatus(entity.get("Status", 0)),
        firings=Firings.from_entity(entity),
        created=parse_time(entity.get("Created")),
        modified=parse_time(entity.get("Modified")),
        created_by=Author.from_entity(entity, "Created"),
        modified_by=Author.from_entity(entity, "Modified"),
        etag=etag_of(entity),
    )


class Triggers:
    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self.table = Table(account.table("Triggers"))
        self.rows = NamedRows(self.table, PARTITION, "event trigger", _from_entity)
        self.runs = RunService(account)

    # -- registration -------------------------------------------------------------------------------
    def put(self, trigger: Trigger, author: Author) -> Trigger:
        """Create or replace a trigger, written by `author` (what it recorded of its firings is
        kept, and who created it). Its request
        must hold only placeholders an event can fill; an active trigger's target must exist
        and be enabled, and take its request, as far as its values are known without an event.
        A disabled trigger fires nothing: its target is checked when it is enabled again."""
        if not NAME.match(trigger.name):
            raise BadRequestError("trigger names are letters, digits, '_' and '-' (100 at most)", target="name")
        problems = placeholder_problems(trigger.template.request)
        if trigger.status is EntityStatus.ACTIVE:
            try:
                trigger.template.check(self.runs, trigger.workspace, PLACEHOLDERS)
            except BadRequestError as exc:  # one 400 names every bad key, the placeholders' too
                if not problems:
                    raise
                problems += exc.details or [ErrorDetail(exc.code, exc.message, exc.target)]
            except PipelinesError:
                if not problems:
                    raise  # the target is unknown or disabled: 404, 409
        if problems:
            raise refuse(problems)
        save_definition(
            self.table, PARTITION, key(trigger.workspace, trigger.name), _fields(trigger), now(), author)
        _forget_cache()
        return self.get(trigger.workspace, trigger.name)

    def get(self, workspace: str, name: str) -> Trigger:
        return self.rows.get(workspace, name)

    def list(self, workspace: str) -> builtins.list[Trigger]:
        return self.rows.list(workspace)

    def delete(self, workspace: str, name: str) -> None:
        self.rows.delete(workspace, name)
        _forget_cache()

    # -- events --------------------------------------------------------------------------------------
    def active(self) -> builtins.list[Trigger]:
        with _cache_lock:
            cached = _cache.get(self.table.name)
            if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
                return cached[1]
        triggers = self.rows.active()
        with _cache_lock:
            _cache[self.table.name] = (time.monotonic(), triggers)
        return triggers

    def start_runs(self, event: Event) -> builtins.list[str]:
        """Submit a run for every trigger the event matches; returns what happened, per trigger.

        A trigger whose request the event cannot fill, or whose target refuses
        the run (disabled, changed parameters), is skipped: the skip is logged
        with the keys it names and recorded on the trigger (`LastError`,
        `SkippedCount`); retrying the delivery would not change it. Storage
        failures raise, so Event Grid delivers again.
        """
        happened = []
        container = self.account.settings.container_name("workspaceblobstore")
        for trigger in self.active():
            if not trigger.matches(event):
                continue
            label = f"{trigger.workspace}/{trigger.name}"
            try:
                run = self._start(trigger, event, (container, trigger.workspace))
            except PipelinesError as exc:
                if exc.status >= 500:
                    raise
                if exc.target == IDEMPOTENCY_KEY:
                    happened.append(f"{label}: started elsewhere")  # the same event, delivered twice at once
                    continue
                log.warning("trigger %s skipped event %s: %s %s (keys: %s)",
                            label, event.id, exc.code, exc.message, keys_of(exc))
                self._record_skip(trigger, event, exc)
                happened.append(f"{label}: skipped ({exc.message})")
                continue
            self._record_run(trigger, run.id)
            happened.append(f"{label}: run {run.id}")
        return happened

    def _start(self, trigger: Trigger, event: Event, scope: tuple[str, str]) -> Run:
        return trigger.template.start(
            self.runs, trigger.workspace, fill(trigger.template.request, event, scope),
            principal=EVENT_GRID, run_source="EventGrid", schedule_id=trigger.name,
            idempotency_key=f"eventgrid|{trigger.name}|{event.id}",
        )

    def _record_skip(self, trigger: Trigger, event: Event, error: PipelinesError) -> None:
        def skipped(firings: Firings) -> Firings | None:
            if firings.last_error is not None and firings.last_error.event_id == event.id:
                return None  # this event's skip is recorded (a redelivery)
            moment = now()
            return firings.skipped(moment, FiringError.of(error, at=moment, event_id=event.id))

        self._record(trigger, skipped)

    def _record_run(self, trigger: Trigger, run_id: str) -> None:
        self._record(trigger, lambda firings: firings.ran(now(), run_id))

    def _record(self, trigger: Trigger, change: Callable[[Firings], Firings | None]) -> None:
        record_firing(self.table, PARTITION, key(trigger.workspace, trigger.name), change)


def _forget_cache() -> None:
    with _cache_lock:
        _cache.clear()
