"""Schedules: recurrences as pure logic, and firing against the local host and Azurite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.api.automation_contract import recurrence_from_wire
from pipelines.errors import BadRequestError
from pipelines.runs.template import Firings
from pipelines.schedules.model import Recurrence, Schedule

T0 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


def recurrence(frequency: str, interval: int = 1, start: datetime = T0) -> Recurrence:
    return recurrence_from_wire({"Frequency": frequency, "Interval": interval, "StartTime": start.isoformat()},
                                default_start=start)


def test_fire_times_step_by_interval_and_months_by_the_calendar() -> None:
    assert recurrence("Minute", 15).latest_due(T0 + timedelta(minutes=44)) == T0 + timedelta(minutes=30)
    assert recurrence("Hour", 2).latest_due(T0 + timedelta(hours=5)) == T0 + timedelta(hours=4)
    assert recurrence("Week").latest_due(T0 + timedelta(days=13)) == T0 + timedelta(days=7)
    monthly = recurrence("Month")
    assert monthly.latest_due(datetime(2026, 3, 1, tzinfo=UTC)) == datetime(2026, 2, 28, 9, tzinfo=UTC)
    assert monthly.latest_due(datetime(2026, 3, 31, 9, tzinfo=UTC)) == datetime(2026, 3, 31, 9, tzinfo=UTC)
    assert monthly.latest_due(T0 - timedelta(seconds=1)) is None


def test_a_schedule_fires_each_fire_time_once_and_never_the_past_before_it_existed() -> None:
    schedule = Schedule("ws", "s", recurrence("Minute", 10), created=T0 + timedelta(minutes=25))
    # created at 09:25: 09:00, 09:10 and 09:20 are not made up
    assert schedule.due(T0 + timedelta(minutes=26)) is None
    assert schedule.due(T0 + timedelta(minutes=31)) == T0 + timedelta(minutes=30)
    schedule.firings = Firings(last_fired=T0 + timedelta(minutes=30))
    assert schedule.due(T0 + timedelta(minutes=39)) is None
    # a timer that was down for an hour fires the latest fire time only
    assert schedule.due(T0 + timedelta(minutes=95)) == T0 + timedelta(minutes=90)


@pytest.mark.parametrize("bad", [
    {"Frequency": "Fortnight", "Interval": 1}, {"Frequency": "Day", "Interval": 0},
    {"Frequency": "Day", "Interval": "2"}, {"Frequency": "Day", "Interval": 1, "StartTime": "soon"},
    {"Frequency": "Day", "Interval": 1, "TimeZone": "Pacific Standard Time"}, "daily",
])
def test_bad_recurrences_are_refused_naming_the_key(bad: object) -> None:
    with pytest.raises(BadRequestError) as refused:
        recurrence_from_wire(bad, default_start=T0)
    assert (refused.value.target or "").startswith("Recurrence")
    assert all((d.target or "").startswith("Recurrence") for d in refused.value.details)


def test_a_recurrence_reads_keys_in_any_case_and_refuses_near_misses() -> None:
    assert recurrence_from_wire({"frequency": "day", "INTERVAL": 2}, default_start=T0) == Recurrence("Day", 2, T0)
    naive = recurrence_from_wire({"Frequency": "Hour", "Interval": 1, "StartTime": "2026-01-31T09:00:00"},
                                 default_start=T0 - timedelta(days=9))
    assert naive.start == T0  # UTC unless it says otherwise
    with pytest.raises(BadRequestError) as refused:
        recurrence_from_wire({"Frequency": "Day", "Intervall": 2}, default_start=T0)
    targets = {d.target: d.message for d in refused.value.details}
    assert "did you mean 'Interval'" in targets["Recurrence.Intervall"]
    assert "Recurrence.Interval" in targets  # and the interval it lacks


def test_sdk_v1_times_of_day_move_the_start_to_the_first_such_time() -> None:
    def start(frequency: str, times: dict[str, list[object]]) -> datetime:
        return recurrence_from_wire({"Frequency": frequency, "Interval": 1, "StartTime": T0.isoformat(),
                                     "Schedule": times}, default_start=T0).start

    # T0 is Saturday 31 January 2026, 09:00 UTC
    assert start("Day", {"Hours": [22], "Minutes": [30]}) == datetime(2026, 1, 31, 22, 30, tzinfo=UTC)
    assert start("Day", {"Hours": [6]}) == datetime(2026, 2, 1, 6, 0, tzinfo=UTC)  # passed today: tomorrow
    assert start("Day", {"Hours": [9], "Minutes": [0]}) == T0  # the start itself is such a time
    assert start("Week", {"Hours": [9], "WeekDays": ["Saturday"]}) == T0
    assert start("Week", {"Hours": [8], "WeekDays": ["saturday"]}) == datetime(2026, 2, 7, 8, 0, tzinfo=UTC)
    assert start("Week", {"Hours": [6], "Minutes": [30], "WeekDays": ["0"]}) == datetime(2026, 2, 2, 6, 30, tzinfo=UTC)
    assert start("Day", {}) == T0  # an empty Schedule (what SDK v1 sends with none) changes nothing
    with pytest.raises(BadRequestError):
        start("Week", {"Hours": [6], "WeekDays": ["Someday"]})


def test_a_week_day_alone_keeps_the_time_of_day_and_a_start_too_late_is_a_400() -> None:
    from pipelines.api.automation_contract import schedule_from_wire

    def start(recurrence: dict[str, object]) -> datetime:
        body = {"PipelineId": "p", "Recurrence": {"Interval": 1, "StartTime": T0.isoformat(), **recurrence}}
        return schedule_from_wire(body, "ws", "s").value.recurrence.start

    # T0 is Saturday 31 January 2026, 09:00 UTC
    assert start({"Frequency": "Week", "Schedule": {"WeekDays": ["Monday"]}}) == datetime(2026, 2, 2, 9, tzinfo=UTC)
    assert start({"Frequency": "Week", "Schedule": {"Hours": [6], "WeekDays": ["Monday"]}}) == datetime(
        2026, 2, 2, 6, tzinfo=UTC)
    with pytest.raises(BadRequestError) as late:
        schedule_from_wire({"PipelineId": "p", "Recurrence": {
            "Frequency": "Day", "Interval": 1, "StartTime": "9999-12-31T23:00:00", "Schedule": {"Hours": [1]}}},
            "ws", "s")
    assert late.value.target == "Recurrence.StartTime"
    for refused in ({"Frequency": "Day", "Schedule": {"WeekDays": ["Monday"]}},
                    {"Frequency": "Hour", "Schedule": {"Hours": [1]}}):
        with pytest.raises(BadRequestError):
            start(refused)
