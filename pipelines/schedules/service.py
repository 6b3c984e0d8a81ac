"""Schedules in storage, and firing the ones that are due.

Table `Schedules`, one partition (`schedules`), RowKey `{workspace}|{name}`: the
timer reads every active schedule with one query. A row holds `Definition` (the
schedule as written: snake_case JSON of `ScheduleDefinition`), `Status`
(queried), `Created`, `Modified`, and what its firings did (`Firings`:
`LastFired`, the last fire time handled, `LastRunId`, `LastError`,
`SkippedCount`), which a PUT keeps: changing a schedule must not fire the past
again. Rows of the format before `Definition` are not read.

A fire time starts its run with the idempotency key
`schedule|{workspace}|{name}|{fire time}`, then records the firing with an ETag
compare-and-swap that gives up once `LastFired` has reached that fire time: two
instances firing the same schedule at the same moment start one run and count
one skip, and a crash between the two writes fires it again harmlessly (the key
answers the first run).
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pipelines.auth.permissions import Principal
from pipelines.errors import AlreadyExistsError, BadRequestError, NotFoundError, PipelinesError
from pipelines.runs.model import Run
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
from pipelines.schedules.model import Recurrence, Schedule
from pipelines.store import StorageAccount, Table, etag_of, key
from pipelines.store.codec import parse_time
from pipelines.store.named import NamedRows
from pipelines.triggers.model import NAME
from pipelines.vocabulary import EntityStatus, now

log = logging.getLogger("pipelines.schedules")

PARTITION = "schedules"
RUN_SOURCE = "Schedule"  # its runs' `RunSource`
SCHEDULER = Principal(object_id=None, app_id=None, tenant_id=None, name="Schedule")


@dataclass(frozen=True)
class ScheduleDefinition:
    """What a PUT writes (the row's `Definition`)."""

    recurrence: Recurrence
    template: RunTemplate
    description: str | None = None


_DEFINITION: TypeAdapter[ScheduleDefinition] = TypeAdapter(ScheduleDefinition)


def _fields(schedule: Schedule) -> dict[str, Any]:
    definition = ScheduleDefinition(schedule.recurrence, schedule.template, schedule.description)
    return {
        "Workspace": schedule.workspace,
        "Name": schedule.name,
        "Definition": _DEFINITION.dump_json(definition).decode(),
        "Status": int(schedule.status),
    }


def _from_entity(entity: Mapping[str, Any]) -> Schedule:
    try:
        definition = _DEFINITION.validate_json(entity["Definition"])
    except (KeyError, ValidationError):
        raise PipelinesError(
            f"schedule row {entity.get('RowKey')!r} is not in the current format:"
            " delete it and create it again"
        ) from None
    return Schedule(
        workspace=entity["Workspace"],
        name=entity["Name"],
        description=definition.description,
        template=definition.template,
        recurrence=definition.recurrence,
        status=EntityStatus(entity.get("Status", 0)),
        firings=Firings.from_entity(entity),
        created=parse_time(entity.get("Created")),
        modified=parse_time(entity.get("Modified")),
        created_by=Author.from_entity(entity, "Created"),
        modified_by=Author.from_entity(entity, "Modified"),
        etag=etag_of(entity),
    )


class Schedules:
    def __init__(self, account: StorageAccount) -> None:
        self.table = Table(account.table("Schedules"))
        self.rows = NamedRows(self.table, PARTITION, "schedule", _from_entity)
        self.runs = RunService(account)

    def put(self, schedule: Schedule, author: Author, *, create_only: bool = False) -> Schedule:
        """Create or replace a schedule, written by `author` (what it recorded of its firings is
        kept, and who created it); an active
        schedule's target must exist and be enabled, and take its request. A disabled schedule
        fires nothing: its target is checked when it is enabled again. `create_only`: a schedule
        of that name is a 409, left as it is."""
        if not NAME.match(schedule.name):
            raise BadRequestError("schedule names are letters, digits, '_' and '-' (100 at most)", target="name")
        if schedule.status is EntityStatus.ACTIVE:
            schedule.template.check(self.runs, schedule.workspace)
        row = key(schedule.workspace, schedule.name)
        try:
            save_definition(self.table, PARTITION, row, _fields(schedule), now(), author, create_only=create_only)
        except AlreadyExistsError:
            raise AlreadyExistsError(
                f"schedule {schedule.name!r} exists: change it with PUT .../Schedules/{schedule.name}"
                " (SDK v1: Schedule.update)", target="Name") from None
        return self.get(schedule.workspace, schedule.name)

    def get(self, workspace: str, name: str) -> Schedule:
        return self.rows.get(workspace, name)

    def list(self, workspace: str) -> builtins.list[Schedule]:
        return self.rows.list(workspace)

    def runs_of(
        self, workspace: str, name: str, *, page_size: int, continuation: str | None
    ) -> tuple[builtins.list[Run], str | None]:
        """The runs the schedule started, newest first (a 404 for an unknown schedule): not those of
        one of the same name that was deleted before it was created."""
        created = self.get(workspace, name).created
        runs, token = self.runs.repository.list_for_schedule(
            workspace, name, page_size=page_size, continuation=continuation)
        if created is not None and any(run.created is not None and run.created < created for run in runs):
            # Newest first: the rest are older still.
            return [run for run in runs if run.created is None or run.created >= created], None
        return runs, token

    def last_run(self, workspace: str, name: str) -> Run | None:
        """The run of the schedule's last firing that started one (None: none yet, or it is gone)."""
        run_id = self.get(workspace, name).firings.last_run_id
        if run_id is None:
            return None
        try:
            return self.runs.repository.get_run(workspace, run_id)
        except NotFoundError:
            return None

    def delete(self, workspace: str, name: str) -> None:
        self.rows.delete(workspace, name)

    def fire_due(self, moment: datetime | None = None) -> builtins.list[str]:
        """Start a run for every active schedule with a fire time due; what happened, per schedule.

        A schedule whose target refuses the run (disabled, deleted, its parameters
        changed) still moves on, since retrying every tick would not change it: the
        skip is logged with the keys it names and recorded on the schedule
        (`LastError`, `SkippedCount`).
        """
        moment = moment or now()
        happened = []
        for schedule in self.rows.active():
            due = schedule.due(moment)
            if due is None:
                continue
            label = f"{schedule.workspace}/{schedule.name} at {due.isoformat()}"
            try:
                # Its runs say so whatever the request says: the schedule's runs are found by it.
                request = replace(schedule.template.request, run_source=RUN_SOURCE, schedule_id=schedule.name)
                run = schedule.template.start(
                    self.runs, schedule.workspace, request, principal=SCHEDULER,
                    run_source=RUN_SOURCE, schedule_id=schedule.name, schedule=schedule.name,
                    idempotency_key=f"schedule|{schedule.workspace}|{schedule.name}|{due.isoformat()}",
                )
            except PipelinesError as exc:
                if exc.status >= 500:
                    raise
                if exc.target == IDEMPOTENCY_KEY:
                    # Its run was started by another instance (still writing it), or before
                    # the schedule's request changed: not a skip, but this fire time is handled.
                    happened.append(f"{label}: started elsewhere")
                    self._record(schedule, due)
                    continue
                log.warning("schedule %s skipped: %s %s (keys: %s)",
                            label, exc.code, exc.message, keys_of(exc))
                happened.append(f"{label}: skipped ({exc.message})")
                self._record(schedule, due, error=FiringError.of(exc, at=now(), fire_time=due))
                continue
            happened.append(f"{label}: run {run.id}")
            self._record(schedule, due, run_id=run.id)
        return happened

    def _record(
        self,
        schedule: Schedule,
        due: datetime,
        *,
        run_id: str | None = None,
        error: FiringError | None = None,
    ) -> None:
        """Once per fire time: the first instance to record it wins, except that the run
        of a fire time is recorded over a mere "handled" (an instance that found the
        run in progress elsewhere)."""

        def once(firings: Firings) -> Firings | None:
            last = firings.last_fired
            if run_id is not None:
                if last is not None and (last > due or (last == due and firings.last_run_id == run_id)):
                    return None
                return firings.ran(due, run_id)
            if last is not None and last >= due:
                return None  # another instance handled this fire time (or a later one)
            return firings.skipped(due, error) if error is not None else firings.handled(due)

        record_firing(self.table, PARTITION, key(schedule.workspace, schedule.name), once)
