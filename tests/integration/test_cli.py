"""The command line against the running local host, as a user types it.

Output is JSON here unless a test asks otherwise: stdout is a pipe, not a terminal
(`test_a_terminal_gets_a_table_by_default` gives it one).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.cli import EXIT_CODES
from tests.service import ROOT


def cli(host, *args: str, cwd: Path | None = None, timeout: float = 120,
        **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINES_")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args, "--base-url", host.base_url, "--workspace", "ws1"],
        cwd=cwd or ROOT, env=clean, capture_output=True, text=True, timeout=timeout,
    )


def test_publish_submit_wait_logs_disable(host) -> None:
    # GIVEN the example published behind an endpoint
    published = cli(host, "publish", "examples/compare", "--name", "My_Published_Pipeline", "--version", "1.0",
                    "--endpoint", "compare-endpoint")
    assert published.returncode == 0, published.stderr
    entity = json.loads(published.stdout)
    assert entity["Url"].endswith(f"/PipelineRuns/PipelineSubmit/{entity['Id']}")
    assert entity["PipelineEndpoint"]["Name"] == "compare-endpoint"
    shown = json.loads(cli(host, "endpoint", "show", "compare-endpoint").stdout)
    assert shown["PipelineVersionList"] == [{"Version": "0", "PipelineId": entity["Id"]}]
    # WHEN a run is submitted through the endpoint and waited for
    submitted = cli(host, "run", "submit", "--endpoint", "compare-endpoint", "--param", "pipeline_arg=20", "--wait")
    assert submitted.returncode == 0, submitted.stderr
    run_id = json.loads(submitted.stdout)["Id"]
    assert "compare: Finished" in submitted.stderr
    # THEN its log shows the value, and its record is readable
    logs = cli(host, "run", "logs", run_id, "compare")
    assert "param1: 20" in logs.stdout
    assert json.loads(cli(host, "run", "show", run_id).stdout)["Status"]["StatusCode"] == 3
    # the endpoint's default version is not disabled while the endpoint runs: a 409 naming it
    kept = cli(host, "pipeline", "disable", entity["Id"])
    assert kept.returncode == 1 and "compare-endpoint" in kept.stderr and kept.stdout == ""
    # once the endpoint is disabled, so can its pipeline be; a disabled pipeline refuses runs:
    # the error goes to stderr, exit 1
    assert cli(host, "endpoint", "disable", "compare-endpoint").returncode == 0
    assert json.loads(cli(host, "pipeline", "disable", entity["Id"]).stdout)["EntityStatus"] == 2
    refused = cli(host, "run", "submit", "--pipeline-id", entity["Id"])
    assert refused.returncode == 1 and "EntityDisabled" in refused.stderr and refused.stdout == ""


def test_every_command_has_help() -> None:
    for command in (["publish"], ["pipeline", "list"], ["endpoint", "add"], ["endpoint", "set-default"],
                    ["run", "submit"], ["run", "logs"], ["run", "steps"], ["run", "wait"], ["token"],
                    ["trigger", "create"], ["trigger", "disable"], ["schedule", "create"], ["schedule", "list"]):
        result = subprocess.run([sys.executable, "-m", "pipelines", *command, "--help"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "usage:" in result.stdout, command


def test_the_exit_codes_are_documented_in_the_help_and_in_docs() -> None:
    helped = subprocess.run([sys.executable, "-m", "pipelines", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60).stdout
    documented = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for code, meaning in EXIT_CODES.items():
        assert re.search(rf"^\s*{code}\s+{re.escape(meaning)}$", helped, re.M), code
        assert re.search(rf"^\| {code} \|", documented, re.M), code


# -- output: formats, queries, words -------------------------------------------------------------------------
TWO_STEPS = '''
from pipelines.authoring import Pipeline, PythonScriptStep


def build() -> Pipeline:
    quiet = PythonScriptStep(name="quiet", script_name="quiet.py", source_directory=".")
    talk = PythonScriptStep(name="talk", script_name="talk.py", source_directory=".")
    return Pipeline(steps=[talk, quiet], continue_on_step_failure=True)
'''


def two_steps(folder: Path) -> Path:
    """`talk` prints lines and finishes; `quiet` prints nothing on stdout and fails."""
    folder.mkdir(parents=True)
    (folder / "pipeline.py").write_text(TWO_STEPS)
    (folder / "talk.py").write_text("import time\nfor n in range(3):\n    print('line', n, flush=True)\n"
                                    "    time.sleep(0.2)\nprint('no newline at the end', end='')\n")
    (folder / "quiet.py").write_text("import sys\nprint('the disk is full', file=sys.stderr)\nsys.exit(2)\n")
    return folder


def test_output_formats_queries_and_status_words(host, tmp_path: Path) -> None:
    # GIVEN a run of two steps, one failed, waited for
    folder = two_steps(tmp_path / "two")
    published = json.loads(cli(host, "publish", str(folder), "--name", "two").stdout)
    waited = cli(host, "run", "submit", "--pipeline-id", published["Id"], "--wait")
    # THEN --wait streamed each step's output as lines under its name, and its status changes,
    # and exit status 4 says the run failed
    assert waited.returncode == 4, waited.stderr
    run = json.loads(waited.stdout)
    for line in ("talk | line 0", "talk | line 2", "talk | no newline at the end",
                 "quiet (stderr) | the disk is full", "quiet: Failed (exit code 2: the disk is full)",
                 "talk: Finished", f"PipelineRun {run['Id']}: Failed"):
        assert line in waited.stderr, waited.stderr
    assert re.search(r"^\[\d+:\d\d:\d\d\] talk: Finished$", waited.stderr, re.M)  # with the time elapsed
    # WHEN the run is shown as a table: statuses are words, never a run's or a step's code
    table = cli(host, "run", "show", run["Id"], "-o", "table")
    assert table.returncode == 0 and re.search(r"^Status\s+Failed$", table.stdout, re.M), table.stdout
    steps = cli(host, "run", "steps", run["Id"], "-o", "table").stdout
    header, rule, *rows = steps.splitlines()
    assert header.split() == ["Step", "Status", "Attempt", "Started", "Duration", "Exit", "code", "Detail"]
    assert set(rule) == {"-"}
    cells = {row.split()[0]: row for row in rows}
    assert re.match(r"talk\s+Finished\s+1\s+\S+ \S+\s+\d+s\s+0\b", cells["talk"]), cells
    assert re.match(r"quiet\s+Failed\s+1\s+.*\s2\s+exit code 2: the disk is full$", cells["quiet"]), cells
    # AND as YAML, TSV, and after a JMESPath query
    shown = yaml.safe_load(cli(host, "run", "show", run["Id"], "-o", "yaml").stdout)
    assert shown["Id"] == run["Id"] and shown["Status"]["StatusCode"] == 2  # the wire, as sent
    names = cli(host, "run", "steps", run["Id"], "--query", "sort(*.Name)", "-o", "tsv")
    assert names.stdout == "quiet\ntalk\n"
    picked = json.loads(cli(host, "run", "show", run["Id"], "--query", "{id: Id, code: Status.StatusCode}").stdout)
    assert picked == {"id": run["Id"], "code": 2}
    queried_table = cli(host, "pipeline", "list", "--query", "[].{Name: Name, Steps: TotalRunSteps}", "-o", "table")
    assert queried_table.stdout.split() == ["Name", "Steps", "-" * len(queried_table.stdout.splitlines()[1]),
                                            "two", "2"]
    bad = cli(host, "run", "show", run["Id"], "--query", "[.oops")
    assert bad.returncode == 2 and "not a JMESPath expression" in bad.stderr
    # AND run list is a table by default on a terminal, newest first, with the history's words
    listed = cli(host, "run", "list", "-o", "table").stdout.splitlines()
    assert listed[0].split()[:3] == ["Run", "Experiment", "Status"] and run["Id"] in listed[2]
    assert " Failed " in listed[2]
    # AND the logs of the step that wrote nothing on stdout say so, why it failed, and where to look
    empty = cli(host, "run", "logs", run["Id"], "quiet")
    assert empty.returncode == 0 and empty.stdout == ""
    assert "step 'quiet' wrote nothing to STDOUT; it Failed: exit code 2: the disk is full" in empty.stderr
    assert f"pipelines run logs {run['Id']} quiet --kind STDERR" in empty.stderr
    assert cli(host, "run", "logs", run["Id"], "quiet", "--kind", "STDERR").stdout == "the disk is full\n"
    # AND run wait of the ended run answers at once, with the same exit status
    again = cli(host, "run", "wait", run["Id"])
    assert again.returncode == 4 and json.loads(again.stdout) == {"Id": run["Id"], "Status": "Failed"}


def test_a_terminal_gets_a_table_by_default(host) -> None:
    # GIVEN stdout is a terminal (a pseudo-terminal here)
    cli(host, "publish", "examples/compare", "--name", "On_A_Terminal")
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINES_")}
    env.update(COLUMNS="200", TERM="xterm")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "pipeline", "list", "--base-url", host.base_url, "--workspace", "ws1"],
        cwd=ROOT, env=env, stdout=secondary, stderr=subprocess.PIPE, text=False,
    )
    os.close(secondary)
    output = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(primary)
    text = re.sub(r"\x1b\[[0-9;]*m", "", output.decode())  # colours aside
    # THEN a table, not JSON, with the status coloured
    assert process.returncode == 0
    assert "On_A_Terminal" in text and "Active" in text and "{" not in text
    assert b"\x1b[" in output


# -- errors ---------------------------------------------------------------------------------------------------
def test_errors_are_one_line_with_an_exit_status_and_debug_shows_the_traceback(host, tmp_path: Path) -> None:
    # a missing run: 404, exit 3, one line
    missing = cli(host, "run", "show", "no-such-run")
    assert missing.returncode == 3 and missing.stdout == ""
    assert missing.stderr.startswith("error: 404 NotFound: ") and missing.stderr.count("\n") == 1
    debug = cli(host, "run", "show", "no-such-run", "--debug")
    assert debug.returncode == 3 and "Traceback" in debug.stderr and "error: 404 NotFound" in debug.stderr
    # a folder without pipeline.py, and one whose pipeline.py has no build(): one line each
    (tmp_path / "empty").mkdir()
    (tmp_path / "nobuild").mkdir()
    (tmp_path / "nobuild" / "pipeline.py").write_text("x = 1\n")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "pipeline.py").write_text("def build():\n    return 1 / 0\n")
    for folder, says in (("empty", "no pipeline.py"), ("nobuild", "has no build() function"),
                         ("broken", "build() raised ZeroDivisionError: division by zero"),
                         ("absent", "no such folder")):
        refused = cli(host, "publish", str(tmp_path / folder), "--name", "x")
        assert refused.returncode == 1 and refused.stdout == "", folder
        assert says in refused.stderr and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    # an endpoint name the service would refuse is a usage error, before anything is published
    before = cli(host, "pipeline", "list", "--all", "-o", "json").stdout
    bad = cli(host, "publish", "examples/compare", "--name", "x", "--endpoint", "<img src=x>")
    assert bad.returncode == 2 and bad.stdout == "" and "--endpoint '<img src=x>'" in bad.stderr, bad.stderr
    assert cli(host, "pipeline", "list", "--all", "-o", "json").stdout == before
    # a bad NAME=VALUE is a usage error (exit 2)
    usage = cli(host, "run", "submit", "--pipeline-id", "x", "--param", "novalue")
    assert usage.returncode == 2 and usage.stderr == "error: --param must look like NAME=VALUE, not 'novalue'\n"
    # a service that does not answer: one line naming where it looked
    nowhere = subprocess.run([sys.executable, "-m", "pipelines", "pipeline", "list", "--base-url",
                              "http://127.0.0.1:9"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert nowhere.returncode == 1 and nowhere.stderr.startswith("error: cannot reach http://127.0.0.1:9")
    assert "Traceback" not in nowhere.stderr


def test_the_service_options_go_before_the_command_or_after_it(host) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINES_")}

    def listing(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=ROOT, env=clean,
                              capture_output=True, text=True, timeout=120)

    before = listing("--base-url", host.base_url, "--workspace", "ws1", "pipeline", "list", "-o", "json")
    assert before.returncode == 0 and json.loads(before.stdout) == [], before.stderr
    # after the command wins: a host on a closed port before it, the running one after it
    both = listing("--base-url", "http://127.0.0.1:9", "pipeline", "list", "--base-url", host.base_url,
                   "--workspace", "ws1", "-o", "json")
    assert both.returncode == 0, both.stderr
    nowhere = listing("--base-url", "http://127.0.0.1:9", "pipeline", "list")
    assert nowhere.returncode == 1 and "cannot reach http://127.0.0.1:9" in nowhere.stderr


def test_a_closed_pipe_ends_the_command_quietly(host) -> None:
    # GIVEN a reader that has gone away before the answer is written (as `| head` does)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINES_")}
    read_end, write_end = os.pipe()
    os.close(read_end)
    process = subprocess.run(
        [sys.executable, "-m", "pipelines", "dataset", "list", "--base-url", host.base_url, "--workspace", "ws1"],
        cwd=ROOT, env=env, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
    )
    os.close(write_end)
    # THEN no traceback, and the status a shell gives a program a closed pipe stopped
    assert process.stderr == "" and process.returncode == 141


def test_from_an_empty_folder_the_command_and_the_publish_folder_do_not_need_the_repository(host, tmp_path) -> None:
    # GIVEN a pipeline whose step's source_directory is "." and the caller elsewhere
    folder = two_steps(tmp_path / "project" / "two")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    published = cli(host, "publish", str(folder), "--name", "away", cwd=elsewhere)
    # THEN "." was the pipeline's folder, not the caller's
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["TotalRunSteps"] == 2


# -- triggers and schedules -----------------------------------------------------------------------------------
def test_triggers_from_flags_and_from_a_file_listed_shown_disabled_enabled_deleted(host, tmp_path: Path) -> None:
    assert cli(host, "publish", "examples/compare", "--name", "t", "--endpoint", "compare-endpoint").returncode == 0
    # WHEN one trigger is created from flags and another from a file, with a flag over the file
    flags = cli(host, "trigger", "create", "on-csv", "--endpoint", "compare-endpoint",
                "--event-type", "Microsoft.Storage.BlobCreated", "--subject-ends-with", ".csv",
                "--experiment", "arrivals", "--param", "pipeline_arg=5")
    assert flags.returncode == 0, flags.stderr
    body = {"PipelineEndpointName": "compare-endpoint", "EventTypes": ["Microsoft.Storage.BlobCreated"],
            "SubjectBeginsWith": "/blobServices/default/containers/workspaceblobstore/blobs/ws1/incoming/",
            "Request": {"ExperimentName": "from-file", "ParameterAssignments": {"pipeline_arg": 1}}}
    (tmp_path / "trigger.json").write_text(json.dumps(body))
    filed = cli(host, "trigger", "create", "from-file", "--file", str(tmp_path / "trigger.json"),
                "--param", "pipeline_arg=9")
    assert filed.returncode == 0, filed.stderr
    # THEN both read back as written
    made = json.loads(flags.stdout)
    assert made["EventTypes"] == ["Microsoft.Storage.BlobCreated"] and made["SubjectEndsWith"] == ".csv"
    assert made["Request"]["ExperimentName"] == "arrivals"
    assert made["Request"]["ParameterAssignments"] == {"pipeline_arg": "5"}
    shown = json.loads(cli(host, "trigger", "show", "from-file").stdout)
    assert shown["SubjectBeginsWith"] == body["SubjectBeginsWith"]
    assert shown["Request"]["ParameterAssignments"] == {"pipeline_arg": "9"}  # the flag won
    table = cli(host, "trigger", "list", "-o", "table").stdout
    assert "from-file" in table and "on-csv" in table and "endpoint compare-endpoint" in table
    # AND disable and enable keep everything else
    disabled = json.loads(cli(host, "trigger", "disable", "on-csv").stdout)
    assert disabled["EntityStatus"] == 2 and disabled["SubjectEndsWith"] == ".csv"
    assert "Disabled" in cli(host, "trigger", "show", "on-csv", "-o", "table").stdout
    enabled = json.loads(cli(host, "trigger", "enable", "on-csv").stdout)
    assert enabled["EntityStatus"] == 0 and enabled["Request"] == made["Request"]
    # AND delete removes it
    assert json.loads(cli(host, "trigger", "delete", "on-csv").stdout) == {"Name": "on-csv", "Deleted": True}
    assert [t["Name"] for t in json.loads(cli(host, "trigger", "list").stdout)] == ["from-file"]
    assert cli(host, "trigger", "show", "on-csv").returncode == 3
    # AND a create without a target says which flags give one
    none = cli(host, "trigger", "create", "x", "--event-type", "A")
    assert none.returncode == 2 and "--pipeline-id, --endpoint or --endpoint-id" in none.stderr


def test_schedules_from_flags_listed_disabled_enabled_deleted(host) -> None:
    published = json.loads(cli(host, "publish", "examples/compare", "--name", "s").stdout)
    # WHEN a schedule is created from flags, far in the future
    made = cli(host, "schedule", "create", "nightly", "--pipeline-id", published["Id"], "--frequency", "day",
               "--interval", "1", "--start-time", "2099-12-01T02:00:00Z", "--experiment", "nightly",
               "--param", "pipeline_arg=20", "--description", "every night")
    assert made.returncode == 0, made.stderr
    schedule = json.loads(made.stdout)
    # THEN it reads back as given
    assert schedule["Recurrence"]["Frequency"] == "Day" and schedule["Recurrence"]["Interval"] == 1
    assert schedule["Request"] == {"ExperimentName": "nightly", "ParameterAssignments": {"pipeline_arg": "20"}}
    table = cli(host, "schedule", "list", "-o", "table").stdout
    assert "every 1 day from 2099-12-01 02:00:00" in table and "Active" in table
    # AND disable and enable keep the recurrence and the request
    assert json.loads(cli(host, "schedule", "disable", "nightly").stdout)["EntityStatus"] == 2
    enabled = json.loads(cli(host, "schedule", "enable", "nightly").stdout)
    assert enabled["EntityStatus"] == 0 and enabled["Recurrence"] == schedule["Recurrence"]
    assert enabled["Request"] == schedule["Request"] and enabled["Description"] == "every night"
    # AND delete removes it
    assert json.loads(cli(host, "schedule", "delete", "nightly").stdout)["Deleted"] is True
    assert json.loads(cli(host, "schedule", "list").stdout) == []
    missing = cli(host, "schedule", "create", "x", "--pipeline-id", published["Id"])
    assert missing.returncode == 2 and "--frequency and --interval" in missing.stderr


# -- waiting, from Python ---------------------------------------------------------------------------------------
def test_wait_for_completion_streams_each_steps_output_as_it_is_written(host, tmp_path: Path) -> None:
    import io

    from pipelines.client import RunFailedError, Workspace, publish
    from pipelines.client.publish import load_pipeline

    workspace = Workspace.from_env(base_url=host.base_url, name="ws1")
    folder = two_steps(tmp_path / "two")
    run = publish(workspace, load_pipeline(folder), "streamed").submit("streamed")
    out = io.StringIO()
    # WHEN it is waited for as SDK v1 did, with show_output
    status = run.wait_for_completion(show_output=True, out=out, poll_seconds=0.2)
    # THEN each line came once, after its step's name, in order, and the statuses with the time elapsed
    text = out.getvalue()
    assert status == "Failed"
    assert text.startswith(f"PipelineRunId: {run.id}\n")
    talk = [line for line in text.splitlines() if line.startswith("talk | ")]
    assert talk == ["talk | line 0", "talk | line 1", "talk | line 2", "talk | no newline at the end"]
    assert text.index("talk | line 2") < text.index("talk: Finished")
    assert re.search(r"^\[\d:\d\d:\d\d\] PipelineRun \S+: Failed \(", text, re.M)
    with pytest.raises(RunFailedError, match="ended Failed"):
        run.wait_for_completion(show_output=False, raise_on_error=True)


def test_the_log_tail_prints_whole_lines_once_and_says_what_it_could_not_show() -> None:
    from pipelines.client.watch import LogTail, format_elapsed

    tail = LogTail(attempt=1)
    assert tail.take("", final=False) == ([], 0)
    assert tail.take("one\ntw", final=False) == (["one"], 0)
    assert tail.take("one\ntwo\nthr", final=False) == (["two"], 0)
    assert tail.take("one\ntwo\nthree", final=True) == (["three"], 0)
    # a log longer than one answer shows its end: what was never seen is counted, not invented
    long = LogTail(attempt=1)
    assert long.take("a\n", final=False) == (["a"], 0)
    assert long.take("[... the first 10 bytes are not shown ...]\nxyz\nlast\n", final=False) == (["xyz", "last"], 8)
    assert format_elapsed(3725.9) == "1:02:05"


def test_schedule_recurrence_keeps_sdk_v1_names_and_refuses_what_it_cannot_do() -> None:
    from pipelines.client import ScheduleRecurrence, UnsupportedError

    recurrence = ScheduleRecurrence(frequency="hour", interval=4, start_time="2026-12-01T02:00:00Z")
    assert recurrence.wire() == {"Frequency": "Hour", "Interval": 4, "StartTime": "2026-12-01T02:00:00Z"}
    for refused in ({"hours": [1, 13]}, {"week_days": ["Monday", "Friday"]}, {"time_zone": "Pacific Standard Time"},
                    {"time_of_day": "noon"}, {"time_of_day": "12:00", "hours": [12]}):
        with pytest.raises(UnsupportedError):
            ScheduleRecurrence("Day", 1, **refused)
    # one time of day (and one week day) moves the first fire time: the service reads them
    weekly = ScheduleRecurrence("Week", 1, time_of_day="06:30", week_days=["Monday"])
    assert weekly.wire() == {"Frequency": "Week", "Interval": 1,
                             "Schedule": {"Hours": [6], "Minutes": [30], "WeekDays": ["Monday"]}}


def test_schedule_create_from_python_as_sdk_v1_called_it(host) -> None:
    from pipelines.client import Schedule, ScheduleRecurrence, UnsupportedError, Workspace

    workspace = Workspace.from_env(base_url=host.base_url, name="ws1")
    published = json.loads(cli(host, "publish", "examples/compare", "--name", "py").stdout)
    schedule = Schedule.create(workspace, name="hourly", pipeline_id=published["Id"], experiment_name="hourly",
                               recurrence=ScheduleRecurrence("Hour", 2, start_time="2099-01-01T00:00:00Z"),
                               pipeline_parameters={"pipeline_arg": 3}, wait_for_provisioning=True)
    assert schedule.status == "Active" and schedule.id == "hourly"
    schedule.disable()
    assert Schedule.get(workspace, "hourly").status == "Disabled"
    schedule.update(pipeline_parameters={"pipeline_arg": 4})
    assert str(schedule.entity["Request"]["ParameterAssignments"]["pipeline_arg"]) == "4"
    assert schedule.status == "Disabled"  # an update keeps what it was not given
    assert [s.name for s in Schedule.get_schedules_for_pipeline_id(workspace, published["Id"])] == ["hourly"]
    with pytest.raises(UnsupportedError, match="event triggers"):
        Schedule.create(workspace, "watch", published["Id"], "x", datastore=object(), path_on_datastore="in/")
    nightly = Schedule.create(workspace, name="nightly", pipeline_id=published["Id"], experiment_name="nightly",
                              recurrence=ScheduleRecurrence("Day", 1, start_time="2099-01-01T00:00:00Z",
                                                            time_of_day="22:30"))
    assert nightly.recurrence["StartTime"] == "2099-01-01T22:30:00+00:00"
    assert nightly.get_last_pipeline_run() is None and nightly.get_pipeline_runs() == []
    nightly.delete()
    schedule.delete()
    assert Schedule.list(workspace) == []


def test_run_steps_table_rows_come_in_the_order_steps_started() -> None:
    from pipelines.cli.runs import step_rows

    rows = step_rows({
        "b": {"Name": "later", "StartTime": "2026-01-01T00:00:02+00:00"},
        "c": {"Name": "waiting", "StartTime": None},
        "a": {"Name": "first", "StartTime": "2026-01-01T00:00:01+00:00"},
    })
    assert [r["Name"] for r in rows] == ["first", "later", "waiting"] and rows[0]["NodeId"] == "a"


def test_run_steps_says_how_earlier_attempts_ended() -> None:
    from pipelines.cli.runs import attempts_text

    ran_twice = {"Attempt": 3, "Attempts": [
        {"Attempt": 1, "Outcome": "Lost", "Reason": "LeaseExpired"},
        {"Attempt": 2, "Outcome": "Failed", "Reason": "Retry"},
        {"Attempt": 3, "Outcome": "Finished", "Reason": None},
    ]}
    assert attempts_text(ran_twice) == "3 (#1 lost: LeaseExpired; #2 failed: Retry)"
    assert attempts_text({"Attempt": 1, "Attempts": [{"Attempt": 1, "Outcome": "Finished"}]}) == "1"
    assert attempts_text({"Attempt": 1}) == "1"  # a step not started yet has no attempts


class _FakeRun:
    """A run that answers from a script of polls: (run status code, {node: step status}, {node: log})."""

    def __init__(self, polls: list[object]) -> None:
        self.id = "run-1"
        self.polls = polls
        self.entity: dict[str, object] = {}
        self.current: tuple[int, dict[str, dict[str, object]], dict[str, str]] | None = None
        self.workspace = self

    def refresh(self) -> _FakeRun:
        poll = self.polls.pop(0)
        if isinstance(poll, Exception):
            raise poll
        self.current = poll  # type: ignore[assignment]
        self.entity = {"Id": self.id, "Status": {"StatusCode": poll[0], "CreationTime": None}}  # type: ignore[index]
        return self

    def get_step_statuses(self) -> dict[str, dict[str, object]]:
        assert self.current is not None
        return self.current[1]

    def request(self, method: str, path: str, params: dict[str, str]) -> object:
        assert method == "GET" and path.endswith("/STDOUT") or path.endswith("/STDERR")
        assert self.current is not None
        text = self.current[2].get(params["nodeId"], "") if path.endswith("/STDOUT") else ""
        return type("Answer", (), {"text": text})()


def test_the_watcher_prints_new_whole_lines_once_and_rides_out_a_service_restart() -> None:
    import io

    from pipelines.client.watch import RunWatcher
    from pipelines.client.workspace import ServiceError

    running = {"a": {"Name": "a", "StatusCode": 2, "StartTime": "t", "Attempt": 1}}
    done = {"a": {"Name": "a", "StatusCode": 4, "StartTime": "t", "Attempt": 1}}
    fake = _FakeRun([
        (1, running, {"a": "one\ntw"}),
        ServiceError(503, "StorageUnavailable", "storage is not answering"),
        (1, running, {"a": "one\ntwo\n"}),
        (3, done, {"a": "one\ntwo\nthree"}),
    ])
    out = io.StringIO()
    ticks = iter(range(1000))
    status = RunWatcher(fake, out, clock=lambda: float(next(ticks)), sleep=lambda _: None).watch()  # type: ignore[arg-type]
    lines = [re.sub(r"^\[\d+:\d\d:\d\d\] ", "", line) for line in out.getvalue().splitlines()]
    assert status == "Finished"
    assert lines == [
        "PipelineRunId: run-1",
        "a | one",
        "a: Running",
        "the service did not answer (503 StorageUnavailable: storage is not answering); asking again",
        "the service answers again",
        "a | two",
        "a | three",
        "a: Finished",
        "PipelineRun run-1: Finished",
    ]


def test_run_tag_and_schedule_runs_from_the_command_line(host) -> None:
    published = json.loads(cli(host, "publish", "examples/compare", "--name", "tagged").stdout)
    run = json.loads(cli(host, "run", "submit", "--pipeline-id", published["Id"], "--wait").stdout)
    # a run is tagged, given a property, and loses a tag
    tagged = cli(host, "run", "tag", run["Id"], "approved=true", "candidate", "--property", "ReleaseId=42")
    assert tagged.returncode == 0, tagged.stderr
    assert json.loads(tagged.stdout)["tags"] == {"approved": "true", "candidate": ""}
    removed = json.loads(cli(host, "run", "tag", run["Id"], "--remove", "candidate").stdout)
    assert removed["tags"] == {"approved": "true"}
    refused = cli(host, "run", "tag", run["Id"], "--property", "ReleaseId=43")
    assert refused.returncode != 0 and "409" in refused.stderr
    assert cli(host, "run", "tag", run["Id"]).returncode != 0  # nothing to do is a usage error
    # a schedule fires at a time of day, and lists its runs (none yet)
    made = cli(host, "schedule", "create", "nightly", "--pipeline-id", published["Id"], "--frequency", "Week",
               "--interval", "1", "--start-time", "2099-01-01T00:00:00Z", "--time-of-day", "22:30",
               "--week-day", "Friday")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["Recurrence"]["StartTime"] == "2099-01-02T22:30:00+00:00"  # a Friday
    listed = cli(host, "schedule", "runs", "nightly")
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stderr
