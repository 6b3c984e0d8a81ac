"""Schedules: a pipeline run on a recurrence, as `Schedule.create(ws, pipeline_id,
recurrence=ScheduleRecurrence(frequency, interval, start_time))` did in SDK v1.

A recurrence fires at `start + k × interval` (k = 0, 1, ...) in UTC; months are
calendar months (31 January + 1 month is 28 or 29 February). A fire time that
passed while nothing ran the timer is not made up: only the latest one due fires.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pipelines.errors import BadRequestError
from pipelines.runs.template import RunTemplate
from pipelines.text import pick
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
    frequency: str
    interval: int
    start: datetime

    @classmethod
    def parse(cls, value: Any, *, default_start: datetime) -> Recurrence:
        if not isinstance(value, dict):
            raise BadRequestError("Recurrence must be {\"Frequency\", \"Interval\", \"StartTime\"}", target="Recurrence")
        frequency = pick(value, "Frequency")
        canonical = {f.lower(): f for f in FREQUENCIES}.get(str(frequency).lower())
        if canonical is None:
            raise BadRequestError(f"Frequency must be one of {', '.join(FREQUENCIES)}", target="Recurrence.Frequency")
        interval = pick(value, "Interval")
        if isinstance(interval, bool) or not isinstance(interval, int) or not 1 <= interval <= MAX_INTERVAL:
            raise BadRequestError(f"Interval must be a whole number from 1 to {MAX_INTERVAL}", target="Recurrence.Interval")
        start_text = pick(value, "StartTime")
        start = default_start
        if start_text is not None:
            try:
                start = datetime.fromisoformat(str(start_text).replace("Z", "+00:00"))
            except ValueError:
                raise BadRequestError("StartTime must be an ISO 8601 time", target="Recurrence.StartTime") from None
            if start.tzinfo is None:
                start = start.replace(tzinfo=timezone.utc)  # as the old SDK: UTC unless said otherwise
        zone = pick(value, "TimeZone")
        if zone not in (None, "UTC", "Coordinated Universal Time"):
            raise BadRequestError("only UTC recurrences are supported", target="Recurrence.TimeZone")
        return cls(canonical, interval, start.astimezone(timezone.utc))

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

    def wire(self) -> dict[str, Any]:
        return {"Frequency": self.frequency, "Interval": self.interval,
                "StartTime": self.start.isoformat(), "TimeZone": "UTC"}


@dataclass
class Schedule:
    workspace: str
    name: str
    recurrence: Recurrence
    template: RunTemplate = field(default_factory=RunTemplate)
    description: str | None = None
    status: EntityStatus = EntityStatus.ACTIVE
    last_fired: datetime | None = None
    created: datetime | None = None
    modified: datetime | None = None
    etag: str | None = None

    def due(self, now: datetime) -> datetime | None:
        """The fire time to run now, if one passed since the last that ran (or since creation)."""
        if self.status is not EntityStatus.ACTIVE:
            return None
        latest = self.recurrence.latest_due(now)
        if latest is None:
            return None
        floor = self.last_fired
        if floor is None and self.created is not None and self.created > self.recurrence.start:
            # Created after its start time: fire times before creation are not made up.
            floor = self.recurrence.latest_due(self.created - timedelta(microseconds=1))
        return latest if floor is None or latest > floor else None
