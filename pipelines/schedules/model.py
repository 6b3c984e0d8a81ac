"""Schedules: a pipeline run on a recurrence, as `Schedule.create(ws, pipeline_id,
recurrence=ScheduleRecurrence(frequency, interval, start_time))` did in SDK v1.

A recurrence fires at `start + k × interval` (k = 0, 1, ...) in UTC; months are
calendar months (31 January + 1 month is 28 or 29 February). A fire time that
passed while nothing ran the timer is not made up: only the latest one due fires.
`Firings.last_fired` is the last fire time handled, whether it started a run or
was skipped (then `last_error.fire_time` is that time).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipelines.runs.template import Author, Firings, RunTemplate
from pipelines.vocabulary import EntityStatus

FREQUENCIES = {"Minute": 60, "Hour": 3600, "Day": 86400, "Week": 7 * 86400, "Month": None}
MAX_INTERVAL = 1000


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class Recurrence:
    """Fire at `start + k × interval` units of `frequency` (one of FREQUENCIES), in UTC."""

    frequency: str
    interval: int
    start: datetime

    def __post_init__(self) -> None:
        valid = self.frequency in FREQUENCIES and 1 <= self.interval <= MAX_INTERVAL
        if not valid or self.start.tzinfo is None:
            raise ValueError(f"not a recurrence: {self!r}")

    def fire_time(self, k: int) -> datetime:
        seconds = FREQUENCIES[self.frequency]
        if seconds is None:
            return add_months(self.start, k * self.interval)
        return self.start + timedelta(seconds=seconds * self.interval * k)

    def latest_due(self, now: datetime) -> datetime | None:
        """The last fire time at or before `now` (None before the start)."""
        if now < self.start:
            return None
        seconds = FREQUENCIES[self.frequency]
        if seconds is None:
            k = (now.year - self.start.year) * 12 + now.month - self.start.month
            k //= self.interval
        else:
            k = int((now - self.start).total_seconds() // (seconds * self.interval))
        while k > 0 and self.fire_time(k) > now:  # month lengths: step back if past now
            k -= 1
        return self.fire_time(k)


@dataclass
class Schedule:
    workspace: str
    name: str
    recurrence: Recurrence
    template: RunTemplate = field(default_factory=RunTemplate)
    description: str | None = None
    status: EntityStatus = EntityStatus.ACTIVE
    firings: Firings = field(default_factory=Firings)
    created: datetime | None = None
    modified: datetime | None = None
    created_by: Author | None = None  # who wrote it first, and last (None: before authors were kept)
    modified_by: Author | None = None
    etag: str | None = None

    def due(self, now: datetime) -> datetime | None:
        """The fire time to run now, if one passed since the last that ran (or since creation)."""
        if self.status is not EntityStatus.ACTIVE:
            return None
        latest = self.recurrence.latest_due(now)
        if latest is None:
            return None
        floor = self.firings.last_fired
        if floor is None and self.created is not None and self.created > self.recurrence.start:
            # Created after its start time: fire times before creation are not made up.
            floor = self.recurrence.latest_due(self.created - timedelta(microseconds=1))
        return latest if floor is None or latest > floor else None
