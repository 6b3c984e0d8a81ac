"""Runs over HTTP: submit, execute step by step from the queue, track, cancel.

Against the local host and Azurite, with step scripts in real child processes.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest

from pipelines.client import PipelineEndpoint, PublishedPipeline, publish
from pipelines.client.publish import load_pipeline
from tests import pipelines_for_tests as make
from tests.service import ROOT, RUN_KEYS, TASK_KEYS, Service, assert_error, assert_keys

EXAMPLE = ROOT / "examples" / "compare"


@pytest.fixture
def host_env() -> dict[str, str]:
    """A short step lease: tests here wait for a lost worker's lease to expire."""
    return {"PIPELINES_STEP_LEASE_SECONDS": "6"}


def the_only_step(service: Service, run_id: str) -> str:
    [node_id] = service.steps(run_id)
    return node_id


# -- the example, three ways of giving pipeline_arg ------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "10"),
        ({"ParameterAssignments": {"pipeline_arg": 20}}, "20"),
        ({"ParameterAssignments": {"pipeline_arg": "20"}}, "20"),
    ],
)
def test_the_example_runs_to_finished_and_the_value_reaches_the_script(service, workspace, body, expected) -> None:
    published = publish(workspace, load_pipeline(EXAMPLE), "My_Pipeline", None, "1.0")
    response = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json=body)
    assert response.status_code == 200, response.text
    submitted = response.json()
    assert_keys(submitted, RUN_KEYS)
    assert submitted["ParameterAssignments"] == {"pipeline_arg": expected}
    final = service.wait_run(submitted["Id"])
    assert final["Status"]["StatusCode"] == 3, final
    assert final["Status"]["EndTime"] is not None and final["HasErrors"] is False
    node = the_only_step(service, submitted["Id"])
    assert f"param1: {expected}" in service.log(submitted["Id"], node)
    statuses = service.steps(submitted["Id"])
    assert_keys(statuses[node], TASK_KEYS)
    assert statuses[node]["StatusCode"] == 4
    # GET with ?nodeId= answers the same log
    assert service.get(f"/PipelineRuns/{submitted['Id']}/Graph/Shareable/STDOUT", params={"nodeId": node}).text == \
        service.log(submitted["Id"], node)


def test_diamond_runs_d_once_after_b_and_c(service, workspace, tmp_path) -> None:
    marker = tmp_path / "marker.txt"
    published = publish(workspace, make.diamond(tmp_path / "code", marker), "diamond")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    final = service.wait_run(run_id)
    assert final["Status"]["StatusCode"] == 3, final
    lines = marker.read_text().split()
    assert sorted(lines) == ["a", "b", "c", "d"]
    assert lines[0] == "a" and lines[-1] == "d"
    steps = {s["Name"]: s for s in service.steps(run_id).values()}
    assert steps["d"]["StartTime"] >= max(steps["b"]["EndTime"], steps["c"]["EndTime"])
    d_node = next(node for node, s in service.steps(run_id).items() if s["Name"] == "d")
    assert "saw ['a', 'b', 'a', 'c']" in service.log(run_id, d_node)  # b's then c's output


def test_a_failing_step_fails_the_run_with_its_stderr_tail(service, workspace, tmp_path) -> None:
    pipeline = make.single(tmp_path / "code", """
        sys.stderr.write("something broke: the answer was 41\\n")
        sys.exit(3)
    """)
    published = publish(workspace, pipeline, "failing")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    final = service.wait_run(run_id)
    assert final["Status"]["StatusCode"] == 2 and final["HasErrors"] is True
    [step] = service.steps(run_id).values()
    assert step["StatusCode"] == 3
    assert "exit code 3" in step["StatusDetail"] and "the answer was 41" in step["StatusDetail"]
    assert "the answer was 41" in final["Status"]["StatusDetail"]
    # a small log, kept on the step's row, is read in parts as a long one is
    [node] = service.steps(run_id)
    part = service.get(f"/PipelineRuns/{run_id}/Graph/Shareable/STDERR?nodeId={node}", headers={"Range": "bytes=0-8"})
    assert part.status_code == 206 and part.content == b"something"
    # a script that fails saying nothing on stderr: its detail says so, not "exit code 4: "
    silent = publish(workspace, make.single(tmp_path / "silent", "print('to stdout'); sys.exit(4)"), "silent")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{silent.id}", json={}).json()["Id"]
    assert service.wait_run(run_id)["Status"]["StatusCode"] == 2
    [step] = service.steps(run_id).values()
    assert step["StatusDetail"] == "exit code 4, nothing on stderr"


def test_a_retried_step_succeeds_on_its_second_attempt(service, workspace, tmp_path) -> None:
    flag = tmp_path / "first-attempt-done"
    pipeline = make.single(tmp_path / "code", f"""
        flag = pathlib.Path({str(flag)!r})
        if not flag.exists():
            flag.write_text("x")
            sys.exit("first attempt fails on purpose")
        print("second attempt")
    """, max_retries=2)
    published = publish(workspace, pipeline, "retry")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    final = service.wait_run(run_id)
    assert final["Status"]["StatusCode"] == 3, final
    assert (final["HasErrors"], final["HasWarnings"]) == (False, True)  # finished, after a retried attempt
    [(node, step)] = service.steps(run_id).items()
    assert step["Attempt"] == 2 and step["StatusCode"] == 4
    assert "second attempt" in service.log(run_id, node)
    # AND each attempt says how it ended, with its own times and exit code
    first, second = step["Attempts"]
    assert (first["Attempt"], first["Outcome"], first["Reason"], first["ExitCode"]) == (1, "Failed", "Retry", 1)
    assert "first attempt fails on purpose" in first["Detail"]
    assert (second["Attempt"], second["Outcome"], second["Reason"], second["ExitCode"]) == (2, "Finished", None, 0)
    assert first["EndTime"] <= second["StartTime"]
    # AND the step run's details in the history family warn of the failed attempt
    details = service.get(f"{service.hs}/runs/{run_id}_{node}/details").json()
    assert details["properties"]["attempt"] == "2"
    assert [w["message"] for w in details["warnings"]] == [
        "attempt 1 failed (Retry): exit code 1: first attempt fails on purpose"]
    # AND each attempt keeps its own logs: ?attempt= reads an earlier one
    log_url = f"{service.ws}/PipelineRuns/{run_id}/Graph/Shareable/STDERR"
    first_log = service.get(log_url, params={"nodeId": node, "attempt": "1"})
    assert first_log.status_code == 200 and "first attempt fails on purpose" in first_log.text
    assert "first attempt fails" not in service.get(log_url, params={"nodeId": node}).text  # the latest: attempt 2
    for bad in ("3", "0", "one", "１"):
        assert_error(service.get(log_url, params={"nodeId": node, "attempt": bad}), 400)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_canceling_stops_a_sleeping_step_and_its_process(service, workspace, tmp_path) -> None:
    pid_file = tmp_path / "pid"
    pipeline = make.single(tmp_path / "code", f"""
        pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
        time.sleep(120)
    """)
    published = publish(workspace, pipeline, "sleeper")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    deadline = time.monotonic() + 30
    while not pid_file.exists():
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.1)
    pid = int(pid_file.read_text())
    assert _alive(pid)
    canceled_at = time.monotonic()
    assert service.call("DELETE", f"/PipelineRuns/{run_id}/Execution").status_code == 200
    final = service.wait_run(run_id, timeout=30)
    assert final["Status"]["StatusCode"] == 4, final
    assert not _alive(pid)
    assert time.monotonic() - canceled_at < 10
    [step] = service.steps(run_id).values()
    assert step["StatusCode"] == 5


def test_a_running_steps_logs_grow_while_it_runs(service, workspace, tmp_path) -> None:
    # GIVEN a step that prints, then works on for a while
    done = tmp_path / "done"
    pipeline = make.single(tmp_path / "code", f"""
        print("first line", flush=True)
        print("to stderr", file=sys.stderr, flush=True)
        deadline = time.monotonic() + 60
        while not pathlib.Path({str(done)!r}).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        print("last line", flush=True)
    """)
    published = publish(workspace, pipeline, "talker")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    node = None
    deadline = time.monotonic() + 30
    # THEN what it printed, and the job log's first line, can be read while it still runs
    while True:
        assert time.monotonic() < deadline, "the step's printed lines never reached its log while it ran"
        node = node or next(iter(service.steps(run_id)), None)
        if node is not None and "first line" in service.log(run_id, node) and "to stderr" in service.log(
                run_id, node, "STDERR") and "running" in service.log(run_id, node, "JobLog"):
            break
        time.sleep(0.2)
    assert service.steps(run_id)[node]["StatusCode"] == 2  # still running
    # AND once it ends, each log is whole, in order
    done.write_text("")
    assert service.wait_run(run_id)["Status"]["StatusCode"] == 3
    assert service.log(run_id, node) == "first line\nlast line\n"
    assert service.log(run_id, node, "STDERR") == "to stderr\n"
    joblog = service.log(run_id, node, "JobLog")
    assert joblog.index("running") < joblog.index("exited with code 0") < joblog.index("Finished")


def test_any_part_of_a_log_is_read_with_a_range_the_start_of_a_long_one_too(service, workspace, tmp_path) -> None:
    # GIVEN a step that prints a first line, then more than an answer without Range holds (8 MiB)
    pipeline = make.single(tmp_path / "code", """
        print("FIRST LINE", flush=True)
        chunk = "x" * 1023 + "\\n"
        for _ in range(9 * 1024):
            sys.stdout.write(chunk)
        print("LAST LINE")
    """)
    published = publish(workspace, pipeline, "long-log")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    assert service.wait_run(run_id)["Status"]["StatusCode"] == 3
    [node] = service.steps(run_id)
    url = f"/PipelineRuns/{run_id}/Graph/Shareable/STDOUT?nodeId={node}"
    size = len(b"FIRST LINE\n") + 9 * 1024 * 1024 + len(b"LAST LINE\n")
    # WHEN it is read without Range: its end, and a first line that says how to read the rest
    whole = service.get(url)
    assert whole.status_code == 200 and whole.headers["Accept-Ranges"] == "bytes"
    assert whole.text.startswith("[... the first") and "Range" in whole.text.splitlines()[0]
    assert "FIRST LINE" not in whole.text and whole.text.endswith("LAST LINE\n")
    # THEN a Range reads its start, and any other part, as written
    start = service.get(url, headers={"Range": "bytes=0-10"})
    assert start.status_code == 206 and start.content == b"FIRST LINE\n"
    assert start.headers["Content-Range"] == f"bytes 0-10/{size}"
    assert start.headers["Content-Type"].startswith("text/plain")
    tail = service.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == b"LAST LINE\n"
    # a reader that follows the log asks from what it has: nothing more is a 416 saying the size
    assert_error(service.get(url, headers={"Range": f"bytes={size}-"}), 416, "RangeNotSatisfiable")
    # the job log, rendered, is read in parts alike
    job = service.get(f"/PipelineRuns/{run_id}/Graph/Shareable/JobLog?nodeId={node}", headers={"Range": "bytes=0-3"})
    assert job.status_code == 206 and job.content == service.log(run_id, node, "JobLog").encode()[:4]


def test_a_step_over_its_timeout_fails_with_a_timeout_reason(service, workspace, tmp_path) -> None:
    pipeline = make.single(tmp_path / "code", "time.sleep(60)\n", timeout_seconds=1)
    published = publish(workspace, pipeline, "slow")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    final = service.wait_run(run_id, timeout=30)
    assert final["Status"]["StatusCode"] == 2
    [step] = service.steps(run_id).values()
    assert "timed out after 1s" in step["StatusDetail"]


def test_a_duplicated_message_runs_the_script_once(service, workspace, tmp_path, host) -> None:
    from pipelines.store import get_account

    marker = tmp_path / "runs.txt"
    pipeline = make.single(tmp_path / "code", f"""
        mark({str(marker)!r}, "ran")
        time.sleep(1)
    """)
    published = publish(workspace, pipeline, "dup")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    node = the_only_step(service, run_id)
    # the same message again, while the first is being handled, and once more after
    account = get_account()
    queue = account.queue(account.settings.steps_queue_name)
    payload = {"ws": "ws1", "run": run_id, "node": node, "attempt": 1}
    queue.send_message(base64.b64encode(json.dumps(payload).encode()).decode())
    service.wait_run(run_id)
    queue.send_message(base64.b64encode(json.dumps(payload).encode()).decode())
    time.sleep(2)
    assert marker.read_text().split() == ["ran"]


# -- endpoints -------------------------------------------------------------------------------------
def test_endpoint_submits_resolve_default_or_asked_version(service, workspace, tmp_path) -> None:
    first = publish(workspace, load_pipeline(EXAMPLE), "v0")
    second = publish(workspace, load_pipeline(EXAMPLE), "v1")
    endpoint = PipelineEndpoint.publish(workspace, "front", None, first)
    endpoint.add(second)
    by_default = service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}", json={}).json()
    assert (by_default["PipelineId"], by_default["PipelineVersion"]) == (first.id, "0")
    assert by_default["PipelineEndpointId"] == endpoint.id
    in_path = service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}/1", json={}).json()
    assert (in_path["PipelineId"], in_path["PipelineVersion"]) == (second.id, "1")
    in_query = service.post(
        f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}", params={"pipelineVersion": "1"}, json={}
    ).json()
    assert in_query["PipelineVersion"] == "1"
    by_name = service.post(
        "/PipelineRuns/PipelineEndpointSubmit/Name", params={"name": "front", "pipelineVersion": "1"}, json={}
    )
    assert by_name.status_code == 200 and by_name.json()["PipelineId"] == second.id
    # both given and different
    conflicting = service.post(
        f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}/0", params={"pipelineVersion": "1"}, json={}
    )
    assert_error(conflicting, 400)
    assert_error(service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}/9", json={}), 404, "NotFound")
    for run in (by_default, in_path, in_query):
        assert service.wait_run(run["Id"])["Status"]["StatusCode"] == 3


# -- refusals --------------------------------------------------------------------------------------
def test_bad_submits_are_refused_and_write_no_run(service, workspace) -> None:
    published = publish(workspace, load_pipeline(EXAMPLE), "strict")
    url = f"/PipelineRuns/PipelineSubmit/{published.id}"
    body = assert_error(
        service.post(url, json={"ParameterAssignments": {"nope": 1, "pipeline_arg": "abc"}}), 400, "InvalidParameter"
    )
    targets = {d["Target"] for d in body["Error"]["Details"]}
    assert targets == {"ParameterAssignments.nope", "ParameterAssignments.pipeline_arg"}
    assert_error(service.post(url, json={"ParameterAssignments": {"pipeline_arg": 2.5}}), 400, "InvalidParameter")
    # a value of no parameter's shape is listed beside the other bad keys, an unknown name as unknown
    for shape in (None, {"a": 1}, [1]):
        body = assert_error(service.post(url, json={
            "ParameterAssignments": {"pipeline_arg": shape, "nope": shape},
            "DataSetDefinitionValueAssignments": {"nope_ds": {"SavedDataSetReference": {"Id": "x"}}},
        }), 400, "InvalidParameter")
        details = {d["Target"]: d["Message"] for d in body["Error"]["Details"]}
        assert set(details) == {
            "ParameterAssignments.pipeline_arg", "ParameterAssignments.nope",
            "DataSetDefinitionValueAssignments.nope_ds",
        }, details
        assert "is not a parameter of this pipeline" in details["ParameterAssignments.nope"]
    assert_error(service.post(url, content=b'{"ExperimentName": '), 400, "UserError")
    assert_error(service.post(url, json=[{"ParameterAssignments": {}}]), 400, "UserError")
    assert_error(service.post(url, json={"Tags": "not an object"}), 400)
    datapath = {"DataStoreName": "workspaceblobstore", "RelativePath": "x"}
    assert_error(service.post(url, json={"DataPathAssignments": {"pipeline_arg": datapath}}), 400)
    assert_error(service.post("/PipelineRuns/PipelineSubmit/unknown", json={}), 404, "NotFound")
    assert_error(service.get("/PipelineRuns/unknown"), 404, "NotFound")
    assert_error(service.post("/PipelineRuns/unknown/Cancel"), 404, "NotFound")
    # disabled: 409 EntityDisabled
    PublishedPipeline.get(workspace, published.id).disable()
    assert_error(service.post(url, json={}), 409, "EntityDisabled")
    assert service.get(f"/PipelineRuns/Pipeline/{published.id}").json() == []


def test_a_disabled_endpoint_refuses_runs(service, workspace) -> None:
    endpoint = PipelineEndpoint.publish(workspace, "off", None, publish(workspace, load_pipeline(EXAMPLE), "p"))
    endpoint.disable()
    assert_error(service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}", json={}), 409, "EntityDisabled")


def test_a_body_over_the_limit_is_413(service, workspace, monkeypatch) -> None:
    published = publish(workspace, load_pipeline(EXAMPLE), "big")
    huge = b'{"Description": "' + b"x" * (1_048_576 + 10) + b'"}'
    assert_error(service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", content=huge), 413, "PayloadTooLarge")


# -- idempotency and listing ----------------------------------------------------------------------------
def test_an_idempotency_key_returns_the_first_run_even_when_racing(service, workspace) -> None:
    import concurrent.futures

    published = publish(workspace, load_pipeline(EXAMPLE), "idem")
    url = f"/PipelineRuns/PipelineSubmit/{published.id}"
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: service.post(url, json={}, headers={"Idempotency-Key": "k-1"}), range(4)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["Id"] for a in answers}) == 1
    other = service.post(url, json={}, headers={"x-ms-client-request-id": "k-2"}).json()
    assert other["Id"] != answers[0].json()["Id"]
    listed = service.get(f"/PipelineRuns/Pipeline/{published.id}").json()
    assert [r["Id"] for r in listed] == [other["Id"], answers[0].json()["Id"]]  # newest first


def test_run_records_keep_what_was_asked(service, workspace) -> None:
    published = publish(workspace, load_pipeline(EXAMPLE), "rec")
    body = {"ExperimentName": "exp", "Description": "d", "RunSource": "EventGrid", "tags": {"team": "a"},
            "Properties": {"p": "1"}, "ContinueRunOnStepFailure": True}
    run = service.post(
        f"/PipelineRuns/PipelineSubmit/{published.id}", params={"parentRunId": "parent-1"}, json=body
    ).json()
    assert run["RunHistoryExperimentName"] == "exp" and run["Description"] == "d"
    assert run["RunSource"] == "EventGrid" and run["tags"] == {"team": "a"} and run["Properties"] == {"p": "1"}
    assert run["ParentRunId"] == "parent-1"
    assert isinstance(run["Status"]["StatusCode"], int)


def test_a_step_whose_message_is_poisoned_fails_with_the_reason(service, workspace, tmp_path) -> None:
    from pipelines.authoring import Pipeline, PipelineData, PythonScriptStep
    from pipelines.store import get_account, messages

    make.write(tmp_path / "code", "slow.py", "time.sleep(2)\n")
    handed = PipelineData("handed")
    pipeline = Pipeline(steps=[
        PythonScriptStep("slow.py", name="first", source_directory=tmp_path / "code", outputs=[handed],
                         arguments=["--out", handed]),
        PythonScriptStep("slow.py", name="second", source_directory=tmp_path / "code", inputs=[handed],
                         arguments=["--in", handed]),
    ])
    published = publish(workspace, pipeline, "poisoned")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    second = next(node for node, s in service.steps(run_id).items() if s["Name"] == "second")
    # (once the first step runs: poisoning earlier would rightly cancel it while still queued)
    deadline = time.monotonic() + 30
    while not any(s["Name"] == "first" and s["StatusCode"] == 2 for s in service.steps(run_id).values()):
        assert time.monotonic() < deadline, "the first step never started"
        time.sleep(0.05)
    # WHEN the host moves the second step's message to the poison queue (as after maxDequeueCount failures)
    account = get_account()
    poison = account.queue(account.settings.poison_queue_name)
    messages.send(poison, {"ws": "ws1", "run": run_id, "node": second, "attempt": 1})
    # THEN that step fails with the reason, and so does the run once the first step ends
    final = service.wait_run(run_id, timeout=30)
    assert final["Status"]["StatusCode"] == 2
    assert "poison" in final["Status"]["StatusDetail"]
    steps = {s["Name"]: s for s in service.steps(run_id).values()}
    assert steps["second"]["StatusCode"] == 3 and "poison" in steps["second"]["StatusDetail"]
    assert steps["first"]["StatusCode"] == 4


def test_a_script_reads_its_context_and_logs_metrics_onto_its_step(service, workspace, tmp_path) -> None:
    from pipelines.authoring import Pipeline, PipelineData, PipelineParameter, PythonScriptStep

    make.write(tmp_path / "code", "train.py", """
        from pipelines.runtime import Run
        run = Run.get_context()
        assert not run.offline
        print("rate", run.parameters["rate"], type(run.parameters["rate"]).__name__)
        pathlib.Path(run.outputs["model"], "model.txt").write_text("weights")
        run.log("accuracy", 0.93)
        run.log_list("loss", [0.5, 0.25])
        # SDK v1's read of the pipeline run: its id and tags, and no way to write them
        print("parent", run.parent.id, sorted(run.parent.get_tags().items()), run.parent.experiment_name)
        assert not hasattr(run.parent, "tag")
    """)
    model = PipelineData("model")
    pipeline = Pipeline(steps=[PythonScriptStep(
        "train.py", name="train", source_directory=tmp_path / "code", outputs=[model],
        arguments=["--rate", PipelineParameter("rate", default_value=0.1), "--model", model],
    )])
    published = publish(workspace, pipeline, "metrics")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}",
                          json={"ParameterAssignments": {"rate": "0.5"}, "ExperimentName": "ctx",
                                "tags": {"BuildId": "42"}}).json()["Id"]
    assert service.wait_run(run_id)["Status"]["StatusCode"] == 3
    [(node, step)] = service.steps(run_id).items()
    assert step["Metrics"] == {"accuracy": 0.93, "loss": [0.5, 0.25]}
    assert "rate 0.5 float" in service.log(run_id, node)
    assert f"parent {run_id} [('BuildId', '42')] ctx" in service.log(run_id, node)


def test_runs_of_a_pipeline_are_listed_newest_first_in_pages(service, workspace) -> None:
    published = publish(workspace, load_pipeline(EXAMPLE), "paged")
    ids = [service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"] for _ in range(3)]
    first = service.get(f"/PipelineRuns/Pipeline/{published.id}", params={"top": "2"})
    token_ = first.headers["x-ms-continuation"]
    second = service.get(f"/PipelineRuns/Pipeline/{published.id}", params={"top": "2", "continuationToken": token_})
    assert [r["Id"] for r in first.json() + second.json()] == ids[::-1]
    assert "x-ms-continuation" not in second.headers
    assert_error(service.get("/PipelineRuns/Pipeline/unknown"), 404, "NotFound")


def test_a_step_gets_no_storage_connection_or_identity_of_the_app(service, workspace, tmp_path, monkeypatch) -> None:
    pipeline = make.single(tmp_path / "code", """
        leaked = sorted(k for k in os.environ if k.startswith(("AzureWebJobs", "PIPELINES_AUTH_", "IDENTITY_")))
        print("leaked", leaked)
    """)
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://169.254.0.1/msi")  # as in Azure
    published = publish(workspace, pipeline, "env")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    assert service.wait_run(run_id)["Status"]["StatusCode"] == 3
    assert "leaked []" in service.log(run_id, the_only_step(service, run_id))


def test_an_idempotency_key_whose_request_died_is_free_again(service, workspace) -> None:
    from datetime import UTC, datetime, timedelta

    from pipelines.store import Table, get_account

    published = publish(workspace, load_pipeline(EXAMPLE), "abandoned")
    url = f"/PipelineRuns/PipelineSubmit/{published.id}"
    first = service.post(url, json={}, headers={"Idempotency-Key": "k-died"}).json()["Id"]
    service.wait_run(first)
    # GIVEN the key's request died before writing its run (its run row is gone), two minutes ago
    account = get_account()
    runs, keys = Table(account.table("Runs")), Table(account.table("Idempotency"))
    runs.delete(f"ws1|{first}", "run")
    [row] = keys.query_all("RunId eq @run", parameters={"run": first})
    row["Created"] = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
    keys.upsert(row)
    # WHEN the client retries with the same key
    retried = service.post(url, json={}, headers={"Idempotency-Key": "k-died"})
    # THEN it gets a new run rather than a 409 for a day
    assert retried.status_code == 200, retried.text
    assert retried.json()["Id"] != first


def test_parent_run_id_may_come_in_the_body_too(service, workspace) -> None:
    published = publish(workspace, load_pipeline(EXAMPLE), "parent")
    url = f"/PipelineRuns/PipelineSubmit/{published.id}"
    assert service.post(url, json={"ParentRunId": "from-body"}).json()["ParentRunId"] == "from-body"
    both = service.post(url, params={"parentRunId": "from-query"}, json={"ParentRunId": "from-body"}).json()
    assert both["ParentRunId"] == "from-query"
    # in the run history, the run names its parent and is the root of its own tree, its step runs' root too
    run = service.get(f"{service.hs}/runs/{both['Id']}").json()
    assert (run["parentRunId"], run["rootRunId"]) == ("from-query", both["Id"])
    tree = service.post(f"{service.hs}/experiments/{both['RunHistoryExperimentName']}/runs:query",
                        json={"filter": f"RootRunId eq '{both['Id']}'"}).json()["value"]
    assert both["Id"] in {r["runId"] for r in tree}
    assert all(r["rootRunId"] == both["Id"] for r in tree)


# -- unknown keys ------------------------------------------------------------------------------------------
def test_a_near_miss_of_a_known_key_is_refused_naming_the_key_it_meant(service, workspace) -> None:
    published = publish(workspace, load_pipeline(EXAMPLE), "keys")
    url = f"/PipelineRuns/PipelineSubmit/{published.id}"
    for sent, meant in (("ParamAssignments", "ParameterAssignments"), ("parameter_assignments", "ParameterAssignments"),
                        ("ParameterAssignment", "ParameterAssignments"), ("ExperimentNmae", "ExperimentName"),
                        ("Tag", "Tags"), ("DataPathAssignment", "DataPathAssignments")):
        error = assert_error(service.post(url, json={sent: {}}), 400, "UserError")["Error"]
        assert error["Target"] == sent and error["Message"] == f"unknown key {sent!r}: did you mean {meant!r}?"
    # every problem in one answer
    both = assert_error(service.post(url, json={"ParamAssignments": {}, "Tag": {}, "ExperimentName": "a b"}), 400)
    assert {d["Target"] for d in both["Error"]["Details"]} == {"ParamAssignments", "Tag", "ExperimentName"}
    assert service.get(f"/PipelineRuns/Pipeline/{published.id}").json() == []
    # other unknown keys are accepted, as the old service did
    accepted = service.post(url, json={"ParameterAssignments": {"pipeline_arg": 3}, "Flags": {}, "Callback": "x"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["ParameterAssignments"] == {"pipeline_arg": "3"}


def test_unknown_keys_a_submit_accepted_are_listed_in_a_header(service, workspace) -> None:
    published = publish(workspace, load_pipeline(EXAMPLE), "keys")
    url = f"/PipelineRuns/PipelineSubmit/{published.id}"
    accepted = service.post(url, json={"ParameterAssignments": {"pipeline_arg": 3}, "Flags": {}, "Call back": "x"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.headers["x-ms-ignored-keys"] == "Flags,Call%20back"
    assert "x-ms-ignored-keys" not in service.post(url, json={}).headers
