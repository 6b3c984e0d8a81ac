"""Timer schedules as the Functions host reads them: NCRONTAB, or a TimeSpan.

NCRONTAB has six fields, `second minute hour day month day-of-week`
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions);
five fields (no seconds) are accepted too, as NCrontab does. Each field takes
`*`, `n`, `a-b`, `*/n`, `a-b/n`, `a/n` and comma lists; months and weekdays also
take English names (`Jan`, `Monday`). Unlike Vixie cron, NCrontab requires both
the day-of-month and the day-of-week to match when both are restricted.

A TimeSpan (`00:05:00`) means "every so often", which App Service plans allow.
Times are UTC, the host's default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipelines.devhost.hostconfig import parse_timespan
from pipelines.errors import ConfigurationError

_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]

# (name, low, high, names: the value of names[i] is low + i)
_FIELDS: tuple[tuple[str, int, int, list[str]], ...] = (
    ("second", 0, 59, []),
    ("minute", 0, 59, []),
    ("hour", 0, 23, []),
    ("day", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)


class ScheduleError(ConfigurationError):
    pass


def _value(text: str, low: int, high: int, names: list[str], field: str, expression: str) -> int:
    token = text.strip().lower()
    if token.isdigit():
        value = int(token)
    elif any(token in (name, name[:3]) for name in names):
        value = low + next(i for i, name in enumerate(names) if token in (name, name[:3]))
    else:
        raise ScheduleError(f"schedule {expression!r}: {text!r} is not a valid {field}")
    if not low <= value <= high:
        raise ScheduleError(f"schedule {expression!r}: {field} {value} is outside {low}-{high}")
    return value


def _field(text: str, low: int, high: int, names: list[str], field: str, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        range_text, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"schedule {expression!r}: bad step in {item!r}")
            step = int(step_text)
        if range_text == "*":
            start, end = low, high
        elif "-" in range_text:
            first, last = range_text.split("-", 1)
            start = _value(first, low, high, names, field, expression)
            end = _value(last, low, high, names, field, expression)
            if start > end:
                raise ScheduleError(f"schedule {expression!r}: empty range {item!r}")
        else:
            start = _value(range_text, low, high, names, field, expression)
            # `a/n` runs from a to the end of the field; a bare value is itself only.
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        fields = expression.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        if len(fields) != 6:
            raise ScheduleError(
                f"schedule {expression!r}: NCRONTAB needs 6 fields (second minute hour day month day-of-week)"
            )
        sets = [
            _field(text, low, high, names, name, expression)
            for text, (name, low, high, names) in zip(fields, _FIELDS, strict=True)
        ]
        return cls(expression, *sets)

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (an aware datetime)."""
        current = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        limit = current + timedelta(days=366 * 5)  # `0 0 0 29 2 *` may wait years; none waits longer
        while current < limit:
            if current.month not in self.months:
                year, month = (
                    (current.year + 1, 1) if current.month == 12 else (current.year, current.month + 1)
                )
                current = current.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
                continue
            weekday = (current.weekday() + 1) % 7  # Python: Monday = 0; cron: Sunday = 0
            if current.day not in self.days or weekday not in self.weekdays:
                current = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0)
                continue
            if current.hour not in self.hours:
                current = (current + timedelta(hours=1)).replace(minute=0, second=0)
                continue
            if current.minute not in self.minutes:
                current = (current + timedelta(minutes=1)).replace(second=0)
                continue
            if current.second not in self.seconds:
                current += timedelta(seconds=1)
                continue
            return current
        raise ScheduleError(f"schedule {self.expression!r} never fires")


@dataclass(frozen=True)
class IntervalSchedule:
    expression: str
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


Schedule = CronSchedule | IntervalSchedule


def parse_schedule(expression: str) -> Schedule:
    if re.fullmatch(r"\s*(\d+\.)?\d{1,2}:\d{1,2}:\d{1,2}(\.\d+)?\s*", expression):
        interval = parse_timespan(expression.strip(), name=f"schedule {expression!r}")
        if interval <= timedelta(0):
            raise ScheduleError(f"schedule {expression!r}: the interval must be positive")
        return IntervalSchedule(expression, interval)
    return CronSchedule.parse(expression)
