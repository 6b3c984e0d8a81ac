"""SDK v1's `Schedule` class against the local host, in two calls (tests/integration/test_sdk_v1.py):

    .venv-sdkv1/bin/python tests/sdkv1/schedules.py write BASE_URL TOKEN_FILE SETUP_JSON
    .venv-sdkv1/bin/python tests/sdkv1/schedules.py runs BASE_URL TOKEN_FILE SETUP_JSON

`write` creates, reads, lists, updates, disables and enables schedules as migrating code does;
the test then fires them (the timer's own code); `runs` reads the runs they started. SETUP_JSON
is the driver's (tests/sdkv1/driver.py): `pipeline`, `endpoint_id`, and where the host is. Each
call prints one JSON object of what the SDK gave back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from driver import connect


def write(ws: Any, setup: dict[str, Any]) -> dict[str, Any]:
    from azureml.pipeline.core import Schedule, ScheduleRecurrence

    seen: dict[str, Any] = {}
    hourly = Schedule.create(
        ws, name="sdk-hourly", pipeline_id=setup["pipeline"], experiment_name="sdk-v1-scheduled",
        description="scores every hour", recurrence=ScheduleRecurrence(
            frequency="Hour", interval=1, start_time="2026-01-01T00:00:00"))
    seen["created"] = describe(hourly)
    seen["got"] = describe(Schedule.get(ws, hourly.id))
    nightly = Schedule.create_for_pipeline_endpoint(
        ws, name="sdk-nightly", pipeline_endpoint_id=setup["endpoint_id"], experiment_name="sdk-v1-nightly",
        recurrence=ScheduleRecurrence(frequency="Day", interval=1, time_of_day="22:30"))
    seen["nightly"] = describe(nightly)
    seen["last_before"] = hourly.get_last_pipeline_run()
    # the same name again is refused: the SDK raises what the service answered
    try:
        Schedule.create(ws, name="sdk-hourly", pipeline_id=setup["pipeline"], experiment_name="again",
                        recurrence=ScheduleRecurrence(frequency="Hour", interval=1))
        seen["again"] = "created"
    except Exception as exc:  # noqa: BLE001 - what the SDK raises is the finding
        seen["again"] = str(exc)
    hourly.update(description="scores every two hours", recurrence=ScheduleRecurrence(
        frequency="Hour", interval=2, start_time="2026-01-01T00:00:00"))
    seen["updated"] = describe(Schedule.get(ws, hourly.id))
    nightly.disable()
    seen["disabled"] = Schedule.get(ws, nightly.id).status
    seen["active"] = sorted(s.id for s in Schedule.list(ws))
    seen["all"] = sorted(s.id for s in Schedule.list(ws, active_only=False))
    seen["for_pipeline"] = [s.id for s in Schedule.list(ws, pipeline_id=setup["pipeline"])]
    seen["for_endpoint"] = [s.id for s in Schedule.list(ws, pipeline_endpoint_id=setup["endpoint_id"])]
    nightly.enable()
    seen["enabled"] = Schedule.get(ws, nightly.id).status
    return seen


def runs(ws: Any) -> dict[str, Any]:
    from azureml.pipeline.core import Schedule

    hourly = Schedule.get(ws, "sdk-hourly")
    last = hourly.get_last_pipeline_run()
    return {
        "last": None if last is None else {"id": last.id, "experiment": last.experiment.name,
                                           "status": last.wait_for_completion(show_output=False, timeout_seconds=120)},
        "runs": [run.id for run in hourly.get_pipeline_runs()],
    }


def describe(schedule: Any) -> dict[str, Any]:
    recurrence = schedule.recurrence
    return {"id": schedule.id, "name": schedule.name, "status": schedule.status, "description": schedule.description,
            "pipeline_id": schedule.pipeline_id, "pipeline_endpoint_id": schedule.pipeline_endpoint_id,
            "frequency": recurrence.frequency, "interval": recurrence.interval, "start_time": recurrence.start_time}


if __name__ == "__main__":
    phase, base_url, token_file, setup_file = sys.argv[1:5]
    setup = json.loads(Path(setup_file).read_text())
    ws = connect(base_url, token_file, setup)
    print(json.dumps(write(ws, setup) if phase == "write" else runs(ws)))
