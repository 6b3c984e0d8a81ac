"""Schedules in storage, and firing the ones that are due.

Table `Schedules`, one partition (`schedules`), RowKey `{workspace}|{name}`: the
timer reads every active schedule with one query. A fire time starts its run
with the idempotency key `schedule|{workspace}|{name}|{fire time}`, then moves
`LastFired` on the schedule's ETag: two instances firing the same schedule at
the same moment start one run, and a crash between the two writes fires it
again harmlessly (the key answers the first run).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipelines.auth.permissions import Principal
from pipelines.errors import BadRequestError, EtagMismatchError, PipelinesError
from pipelines.runs.service import RunService
from pipelines.runs.template import RunTemplate, optional_text
from pipelines.schedules.model import Recurrence, Schedule
from pipelines.store import StorageAccount, Table, etag_of, key
from pipelines.store.codec import json_text, parse_json, parse_time, time_text
from pipelines.store.named import NamedRows
from pipelines.text import pick
from pipelines.triggers.model import NAME
from pipelines.vocabulary import EntityStatus, now

log = logging.getLogger("pipelines.schedules")

PARTITION = "schedules"
SCHEDULER = Principal(object_id=None, app_id=None, tenant_id=None, name="Schedule")


def _to_entity(schedule: Schedule) -> dict[str, Any]:
    return {
        "PartitionKey": PARTITION,
        "RowKey": key(schedule.workspace, schedule.name),
        "Workspace": schedule.workspace,
        "Name": schedule.name,
        "Description": schedule.description,
        **schedule.template.entity_fields(),
        "Recurrence": json_text(schedule.recurrence.wire()),
        "Status": int(schedule.status),
        "LastFired": time_text(schedule.last_fired),
        "Created": time_text(schedule.created),
        "Modified": time_text(schedule.modified),
    }


def _from_entity(entity: Mapping[str, Any]) -> Schedule:
    created = parse_time(entity.get("Created")) or now()
    return Schedule(
        workspace=entity["Workspace"],
        name=entity["Name"],
        description=entity.get("Description"),
        template=RunTemplate.from_entity(entity),
        recurrence=Recurrence.parse(parse_json(entity.get("Recurrence"), {}), default_start=created),
        status=EntityStatus(entity.get("Status", 0)),
        last_fired=parse_time(entity.get("LastFired")),
        created=created,
        modified=parse_time(entity.get("Modified")),
        etag=etag_of(entity),
    )


class Schedules:
    def __init__(self, account: StorageAccount) -> None:
        self.table = Table(account.table("Schedules"))
        self.rows = NamedRows(self.table, PARTITION, "schedule", _from_entity)
        self.runs = RunService(account)

    def put(self, workspace: str, name: str, body: Mapping[str, Any]) -> Schedule:
        """Create or replace a schedule; its target must exist and its request must parse."""
        if not NAME.match(name):
            raise BadRequestError("schedule names are letters, digits, '_' and '-' (100 at most)", target="name")
        existing = self.rows.find(workspace, name)
        created = parse_time(existing.get("Created")) if existing else None
        stamp = now()
        template = RunTemplate.parse(body)
        status = pick(body, "EntityStatus")
        schedule = Schedule(
            workspace=workspace,
            name=name,
            description=optional_text(body, "Description"),
            template=template,
            recurrence=Recurrence.parse(pick(body, "Recurrence"), default_start=stamp),
            status=EntityStatus.parse(status) if status is not None else EntityStatus.ACTIVE,
            # A replaced schedule keeps what it fired: changing it must not fire the past again.
            last_fired=parse_time(existing.get("LastFired")) if existing else None,
            created=created or stamp,
            modified=stamp,
        )
        template.target(self.runs, workspace)  # 404 for an unknown pipeline or endpoint
        schedule.etag = self.table.upsert(_to_entity(schedule))
        return schedule

    def get(self, workspace: str, name: str) -> Schedule:
        return self.rows.get(workspace, name)

    def list(self, workspace: str) -> list[Schedule]:
        return self.rows.list(workspace)

    def delete(self, workspace: str, name: str) -> None:
        self.rows.delete(workspace, name)

    def fire_due(self, moment: datetime | None = None) -> list[str]:
        """Start a run for every active schedule with a fire time due; what happened, per schedule.

        A schedule whose target refuses the run (disabled, deleted) is logged and
        still moves on: retrying every tick would not change it.
        """
        moment = moment or now()
        happened = []
        for schedule in self.rows.active():
            due = schedule.due(moment)
            if due is None:
                continue
            label = f"{schedule.workspace}/{schedule.name} at {due.isoformat()}"
            try:
                run = schedule.template.start(
                    self.runs, schedule.workspace, schedule.template.request, principal=SCHEDULER,
                    run_source="Schedule", schedule_id=schedule.name,
                    idempotency_key=f"schedule|{schedule.workspace}|{schedule.name}|{due.isoformat()}",
                )
                happened.append(f"{label}: run {run.id}")
            except PipelinesError as exc:
                if exc.status >= 500:
                    raise
                log.warning("schedule %s skipped: %s", label, exc.message)
                happened.append(f"{label}: skipped ({exc.message})")
            try:
                self.table.merge(
                    {"PartitionKey": PARTITION, "RowKey": key(schedule.workspace, schedule.name),
                     "LastFired": time_text(due)},
                    schedule.etag,
                )
            except EtagMismatchError:
                pass  # another instance fired it, or it was changed: its idempotency key holds
        return happened
