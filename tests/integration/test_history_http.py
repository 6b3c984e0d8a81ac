"""Runs back out the way Azure ML v1 callers read them: the run-history family, step runs,
outputs. Against the local host on Azurite, with step scripts in real child processes.

The first test is the whole sequence of a client that knows only the host (the
Dynamics 365 demand-forecasting client rebuilds these paths on the authority of
its configured URL): submit at the root path, poll `runs/{id}/details`, list the
children, query the active runs, cancel, download an output.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from pipelines.client import PipelineEndpoint, Workspace, publish
from tests import pipelines_for_tests as make
from tests.service import Service, assert_error

# Exact keys of SDK v1's generated models (azureml/_restclient/models), which its
# deserializer matches case-sensitively.
RUN_DTO_KEYS = {
    "runId", "parentRunId", "rootRunId", "status", "startTimeUtc", "endTimeUtc", "createdUtc", "runNumber",
    "experimentId", "name", "displayName", "description", "runType", "properties", "tags", "target", "error",
}
RUN_DETAILS_KEYS = {
    "runId", "target", "status", "startTimeUtc", "endTimeUtc", "error", "warnings", "properties",
    "inputDatasets", "outputDatasets", "runDefinition", "logFiles",
}
PAGINATED_KEYS = {"value", "continuationToken"}
EXPERIMENT_KEYS = {"experimentId", "name", "createdUtc", "lastCreatedRunUtc"}
FINISHED = ("Completed", "Failed", "Canceled")


@pytest.fixture
def host_env() -> dict[str, str]:
    """A short step lease: tests here wait for a lost worker's lease to expire."""
    return {"PIPELINES_STEP_LEASE_SECONDS": "6"}


@pytest.fixture
def scoring(workspace: Workspace, tmp_path: Path) -> PipelineEndpoint:
    published = publish(workspace, make.scoring(tmp_path / "scoring"), "Scoring", None, "1.0")
    return PipelineEndpoint.publish(workspace, "scoring-endpoint", None, published)


def submit(service: Service, endpoint_id: str, experiment: str = "forecast", **body: Any) -> str:
    response = service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint_id}",
                            json={"ExperimentName": experiment, **body})
    assert response.status_code == 200, response.text
    return str(response.json()["Id"])


def details(service: Service, run_id: str) -> dict[str, Any]:
    response = service.get(f"{service.hs}/runs/{run_id}/details")
    assert response.status_code == 200, response.text
    return dict(response.json())


def poll_until(service: Service, run_id: str, statuses: tuple[str, ...], timeout: float = 60) -> list[str]:
    """Poll `runs/{id}/details` as the compiled client does; returns every status seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        status = details(service, run_id)["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in statuses:
            return seen
        assert time.monotonic() < deadline, f"run {run_id} stayed {seen}"
        time.sleep(0.1)


def query(service: Service, experiment: str, **body: Any) -> httpx.Response:
    # SDK v1 sends runs:query with this content type; the body is JSON all the same.
    return service.post(f"{service.hs}/experiments/{experiment}/runs:query", json=body,
                        headers={"Content-Type": "application/json-patch+json; charset=utf-8"})


def all_pages(service: Service, experiment: str, **body: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token_: str | None = None
    for _ in range(1000):
        response = query(service, experiment, **body, **({"continuationToken": token_} if token_ else {}))
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["value"]
        token_ = page["continuationToken"]
        if not token_:
            return found
    raise AssertionError("paging did not end")


# -- the whole sequence of a client that knows only the host ---------------------------------------------
def test_a_client_that_knows_only_the_host_follows_a_run_to_its_output(
    service: Service, scoring: PipelineEndpoint, workspace: Workspace, tmp_path: Path
) -> None:
    # GIVEN a run submitted at the root path, exactly where Azure ML served it
    assert service.ws.startswith(service.base_url + "/pipelines/v1.0/subscriptions/")
    run_id = submit(service, scoring.id)

    # WHEN the client polls runs/{id}/details until the run ends
    seen = poll_until(service, run_id, FINISHED)

    # THEN it went forward through the history words, and ended Completed
    assert seen[-1] == "Completed", seen
    assert set(seen) <= {"NotStarted", "Running", "Completed"}, seen
    final = details(service, run_id)
    assert set(final) >= RUN_DETAILS_KEYS
    assert final["runId"] == run_id and final["error"] is None and final["endTimeUtc"]

    # AND its children are the two steps, each a run of its own with the ids agreeing everywhere
    children = service.get(f"{service.hs}/experiments/forecast/runs/{run_id}/children").json()
    assert set(children) == PAGINATED_KEYS and children["continuationToken"] is None
    assert [c["name"] for c in children["value"]] == ["train", "score"]
    nodes = service.steps(run_id)
    assert {c["runId"] for c in children["value"]} == {n["RunId"] for n in nodes.values()}
    for child in children["value"]:
        assert set(child) >= RUN_DTO_KEYS
        assert child["parentRunId"] == child["rootRunId"] == run_id
        assert child["runType"] == "azureml.StepRun" and child["status"] == "Completed"
        assert child["experimentId"] == final_run(service, run_id)["experimentId"]
        assert child["tags"]["azureml.pipeline"] == run_id

    # AND the active runs do not hold it any more
    active = query(service, "forecast", filter="Status eq 'Running'").json()
    assert run_id not in {r["runId"] for r in active["value"]}

    # AND the scored file comes back byte for byte, by the AMLv1 outputs route
    score = next(c for c in children["value"] if c["name"] == "score")
    node_id = score["tags"]["azureml.nodeid"]
    outputs = service.post(f"/PipelineRuns/{run_id}/Outputs", json=[node_id]).json()
    reference = outputs["predictions"]["DataLocation"]["DataReference"]
    assert reference["Type"] == "AzureBlob"
    listing = service.get(reference["AzureBlobReference"]["Uri"]).json()
    files = {f["Path"]: f for f in listing["Files"]}
    assert set(files) == {"predictions.csv", "details/summary one.json"}
    downloaded = service.get(files["predictions.csv"]["Url"])
    assert downloaded.status_code == 200
    assert downloaded.content == make.PREDICTIONS.encode()
    assert outputs["predictions"]["LogicalSizeInBytes"] == len(make.PREDICTIONS) + len('{"rows": 200}')


def final_run(service: Service, run_id: str) -> dict[str, Any]:
    response = service.get(f"{service.hs}/runs/{run_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def held_run(service: Service, workspace: Workspace, tmp_path: Path) -> str:
    """A run of experiment `held` whose one step is running, and holds until it is stopped."""
    published = publish(workspace, make.held(tmp_path / "held", tmp_path / "release"), "Held", None, "1.0")
    endpoint = PipelineEndpoint.publish(workspace, "held-endpoint", None, published)
    run_id = submit(service, endpoint.id, experiment="held")
    poll_until(service, run_id, ("Running",))
    wait_for_log(service, run_id, "holding")
    return run_id


def test_cancel_mid_step_reads_cancel_requested_then_canceled(
    service: Service, workspace: Workspace, tmp_path: Path
) -> None:
    # GIVEN a run whose one step is running (and takes a moment to stop)
    run_id = held_run(service, workspace, tmp_path)

    # WHEN it is canceled on the pipelines family's route
    response = service.post(f"/PipelineRuns/{run_id}/Cancel")
    assert response.status_code == 200, response.text

    # THEN the history says CancelRequested until the step stopped, then Canceled
    seen = poll_until(service, run_id, ("Canceled", "Completed", "Failed"))
    assert seen[0] == "CancelRequested" and seen[-1] == "Canceled", seen
    child = service.get(f"{service.hs}/experiments/held/runs/{run_id}/children").json()["value"][0]
    assert child["status"] == "Canceled"
    # AND canceling a run that has ended changes nothing and is not an error
    again = service.post(f"/PipelineRuns/{run_id}/Cancel")
    assert again.status_code == 200 and again.json()["Status"]["StatusCode"] == 4
    assert details(service, run_id)["status"] == "Canceled"


def wait_for_log(service: Service, run_id: str, text: str, timeout: float = 30) -> None:
    [node_id] = service.steps(run_id)
    deadline = time.monotonic() + timeout
    while text not in service.log(run_id, node_id):
        assert time.monotonic() < deadline, f"{text!r} never appeared in the log"
        time.sleep(0.05)


# -- run and step run shapes --------------------------------------------------------------------------------
def test_every_history_answer_has_the_sdk_keys_with_their_casing(service: Service, scoring: PipelineEndpoint) -> None:
    run_id = submit(service, scoring.id, Tags={"team": "forecast"}, DisplayName="nightly")
    poll_until(service, run_id, FINISHED)
    by_experiment = service.get(f"{service.hs}/experiments/forecast/runs/{run_id}").json()
    by_workspace = final_run(service, run_id)
    for run in (by_experiment, by_workspace):
        assert set(run) >= RUN_DTO_KEYS
        assert run["runType"] == "azureml.PipelineRun" and run["rootRunId"] == run_id
        assert run["parentRunId"] is None and isinstance(run["runNumber"], int)
        assert run["tags"] == {"team": "forecast"} and run["displayName"] == "nightly"
        assert all(isinstance(v, str) for v in run["properties"].values())
    # The details of the pipeline run and of a step run; a step names its logs
    assert set(details(service, run_id)) >= RUN_DETAILS_KEYS
    step_id = next(iter(service.steps(run_id).values()))["RunId"]
    step = details(service, step_id)
    assert set(step) >= RUN_DETAILS_KEYS and step["runId"] == step_id
    assert sorted(step["logFiles"]) == [
        "azureml-logs/55_job_log.txt", "azureml-logs/65_stderr.txt", "azureml-logs/70_driver_log.txt"]
    # The experiment it ran in
    experiment = service.get(f"{service.hs}/experiments/forecast").json()
    assert set(experiment) >= EXPERIMENT_KEYS and experiment["name"] == "forecast"
    assert experiment["experimentId"] == by_workspace["experimentId"]
    assert experiment["lastCreatedRunUtc"] == by_workspace["createdUtc"]
    listed = service.get(f"{service.hs}/experiments").json()
    assert [e["name"] for e in listed["value"]] == ["forecast"]
    by_id = service.get(f"{service.hs}/experimentids/{experiment['experimentId']}/runs/{run_id}")
    assert by_id.status_code == 200 and by_id.json()["runId"] == run_id


def test_step_logs_named_by_details_are_read_with_the_same_token(service: Service, scoring: PipelineEndpoint) -> None:
    run_id = submit(service, scoring.id)
    poll_until(service, run_id, FINISHED)
    score = next(n for n in service.steps(run_id).values() if n["Name"] == "score")
    logs = details(service, score["RunId"])["logFiles"]
    assert "scored 200 rows" in service.get(logs["azureml-logs/70_driver_log.txt"]).text
    assert "a warning" in service.get(logs["azureml-logs/65_stderr.txt"]).text


def test_step_logs_named_by_details_are_read_without_a_token_as_sdk_v1_reads_them(
    service: Service, scoring: PipelineEndpoint
) -> None:
    # GIVEN a finished run, and the links its step's details give (SDK v1's get_details_with_logs()
    # and wait_for_completion() read them with no token, as they read Azure ML's blob SAS URLs)
    run_id = submit(service, scoring.id)
    poll_until(service, run_id, FINISHED)
    steps = {n["Name"]: n for n in service.steps(run_id).values()}
    logs = details(service, steps["score"]["RunId"])["logFiles"]
    driver, stderr = logs["azureml-logs/70_driver_log.txt"], logs["azureml-logs/65_stderr.txt"]
    # WHEN they are read without a token THEN each answers its log
    assert "scored 200 rows" in httpx.get(driver, timeout=30).text
    assert "a warning" in httpx.get(stderr, timeout=30).text
    assert httpx.get(logs["azureml-logs/55_job_log.txt"], timeout=30).status_code == 200
    # AND a link opens its own log only: another step, another log, another route, or a POST
    # with its signature are 401s, as is a link whose signature or expiry was changed
    url, _, query = driver.partition("?")
    score_node = steps["score"]["RunId"].rsplit("_", 1)[1]
    other_node = [n["RunId"].rsplit("_", 1)[1] for name, n in steps.items() if name != "score"][0]
    forged = {
        "another step": driver.replace(f"nodeId={score_node}", f"nodeId={other_node}"),
        "another log": driver.replace("/STDOUT?", "/STDERR?"),
        "another route": f"{service.ws}/PipelineRuns/{run_id}?{query}",
        "a changed signature": driver[:-2] + ("AA" if not driver.endswith("AA") else "BB"),
        "a later expiry": re.sub(r"se=(\d+)", lambda m: f"se={int(m.group(1)) + 3600}", driver),
        "no signature": driver.split("&se=")[0],
        "a superscript expiry": re.sub(r"se=(\d+)", "se=%C2%B2", driver),
        "a signature that is not ASCII": re.sub(r"sig=[^&]+", "sig=%C3%A9%E2%80%8B", driver),
    }
    for label, link in forged.items():
        assert link != driver, label
        answer = httpx.get(link, timeout=30)
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer"), label
    assert httpx.post(url + "?" + query, json=[score_node], timeout=30).status_code == 401
    # AND with a token, the token decides: a reader's reads, a token without a role does not
    assert "scored 200 rows" in service.get(driver).text
    assert service.get(driver, roles=["Other.Role"]).status_code == 403


def test_run_numbers_count_up_and_steps_take_the_numbers_after_their_run(
    service: Service, scoring: PipelineEndpoint
) -> None:
    first, second = submit(service, scoring.id), submit(service, scoring.id)
    numbers = [final_run(service, r)["runNumber"] for r in (first, second)]
    assert numbers[1] == numbers[0] + 3  # a run and its two steps
    steps = service.get(f"{service.hs}/experiments/forecast/runs/{first}/children").json()["value"]
    assert [s["runNumber"] for s in steps] == [numbers[0] + 1, numbers[0] + 2]


# -- queries ------------------------------------------------------------------------------------------------
def test_queries_read_filters_as_sdk_v1_writes_them(service: Service, scoring: PipelineEndpoint) -> None:
    run_id = submit(service, scoring.id, Tags={"k": "v"})
    other = submit(service, scoring.id, Tags={"k": "w"})
    for run in (run_id, other):
        poll_until(service, run, FINISHED)

    def ids(filter_: str) -> set[str]:
        return {r["runId"] for r in all_pages(service, "forecast", filter=filter_, orderby="StartTimeUtc desc",
                                              top=500)}

    step_ids = {n["RunId"] for n in service.steps(run_id).values()}
    assert ids("(ParentRunId eq null)") == {run_id, other}  # Experiment.get_runs()
    assert ids('((RunType eq azureml.PipelineRun or Properties/azureml.runsource eq azureml.PipelineRun)'
               ' and (Tags/k eq "v"))') == {run_id}
    assert ids(f"(RootRunId eq {run_id} and RunId ne {run_id})") == step_ids  # get_children(recursive=True)
    assert ids("(Status eq Completed) and (ParentRunId eq null)") == {run_id, other}
    assert ids("Status eq 'Running' or Status eq 'NotStarted'") == set()
    # Run.list(tags="k"): the runs that have the tag, and none for a tag no run has
    assert ids("(Tags/k ne null or Tags/k eq null) and ParentRunId eq null") == {run_id, other}
    assert ids("(Tags/missing ne null or Tags/missing eq null)") == set()
    assert ids("CreatedUtc gt datetime'2000-01-01T00:00:00Z' and RunType eq 'azureml.StepRun'") >= step_ids
    # ExperimentClient.get_runs_by_run_ids: bare ids joined by or, RunId desc, a page at a time
    by_id = all_pages(service, "forecast", filter=f"RunId eq {run_id} or RunId eq {other}", orderby="RunId desc",
                      top=1)
    assert [r["runId"] for r in by_id] == sorted([run_id, other], reverse=True)


def test_a_query_for_active_runs_finds_a_running_run_and_not_finished_ones(
    service: Service, scoring: PipelineEndpoint, workspace: Workspace, tmp_path: Path
) -> None:
    finished = submit(service, scoring.id, experiment="mixed")
    poll_until(service, finished, FINISHED)
    release = tmp_path / "release"
    published = publish(workspace, make.held(tmp_path / "held", release), "Held", None, "1.0")
    running = submit(service, PipelineEndpoint.publish(workspace, "held", None, published).id, experiment="mixed")
    poll_until(service, running, ("Running",))
    try:
        active = query(service, "mixed", filter="Status eq 'Running' or Status eq 'NotStarted' or Status eq 'Queued'")
        assert [r["runId"] for r in active.json()["value"] if r["parentRunId"] is None] == [running]
        # what a client cancels before it submits again: each active pipeline run
        for run in active.json()["value"]:
            if run["runType"] == "azureml.PipelineRun":
                assert service.post(f"/PipelineRuns/{run['runId']}/Cancel").status_code == 200
    finally:
        release.touch()
    assert poll_until(service, running, FINISHED)[-1] == "Canceled"


def test_paging_under_concurrent_submits_shows_no_run_twice_and_skips_none(
    service: Service, scoring: PipelineEndpoint
) -> None:
    # GIVEN seven runs already in the experiment
    before = {submit(service, scoring.id, experiment="paged") for _ in range(7)}
    # WHEN a client pages through two at a time while others submit more
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        more = [pool.submit(submit, service, scoring.id, "paged") for _ in range(4)]
        seen: list[str] = []
        token_: str | None = None
        while True:
            body = {"filter": "ParentRunId eq null", "top": 2, **({"continuationToken": token_} if token_ else {})}
            page = query(service, "paged", **body).json()
            assert len(page["value"]) <= 2
            seen += [r["runId"] for r in page["value"]]
            token_ = page["continuationToken"]
            if not token_:
                break
        submitted_meanwhile = {f.result() for f in more}
    # THEN every run that was there is seen exactly once, and nothing else twice
    assert len(seen) == len(set(seen))
    assert before <= set(seen) <= before | submitted_meanwhile
    # AND newest first
    created = [final_run(service, r)["createdUtc"] for r in seen]
    assert created == sorted(created, reverse=True)


def test_pages_of_an_experiment_with_its_step_runs_hold_every_run_once(
    service: Service, scoring: PipelineEndpoint
) -> None:
    # GIVEN three finished runs of two steps each: nine records (runs and step runs)
    runs = [submit(service, scoring.id, experiment="stepped") for _ in range(3)]
    for run_id in runs:
        poll_until(service, run_id, FINISHED)
    everything = query(service, "stepped", top=1000).json()
    assert everything["continuationToken"] is None and len(everything["value"]) == 9
    expected = [r["runId"] for r in everything["value"]]
    # WHEN a client pages through them at every page size, a page filling up on a run's last
    # record or in the middle of its steps
    for top in range(1, 10):
        seen = [r["runId"] for r in all_pages(service, "stepped", top=top)]
        # THEN it sees every one, once, in the order of the whole answer
        assert seen == expected, f"top={top}"
    # AND a filter that step runs match pages the same way
    steps = [r["runId"] for r in query(service, "stepped", filter="RunType eq 'azureml.StepRun'", top=1000)
             .json()["value"]]
    assert len(steps) == 6
    for top in (1, 2, 4, 5):
        assert [r["runId"] for r in all_pages(service, "stepped", filter="RunType eq 'azureml.StepRun'",
                                               top=top)] == steps


def test_children_page_and_order(service: Service, scoring: PipelineEndpoint) -> None:
    run_id = submit(service, scoring.id)
    poll_until(service, run_id, FINISHED)
    base = f"{service.hs}/experiments/forecast/runs/{run_id}/children"
    first = service.get(base, params={"$top": 1}).json()
    assert [c["name"] for c in first["value"]] == ["train"] and first["continuationToken"]
    second = service.get(base, params={"$top": 1, "$continuationToken": first["continuationToken"]}).json()
    assert [c["name"] for c in second["value"]] == ["score"] and second["continuationToken"] is None
    newest = service.get(base, params={"$orderby": "StartTimeUtc desc", "$top": 500}).json()
    assert [c["name"] for c in newest["value"]] == ["score", "train"]
    only = service.get(base, params={"$filter": "Name eq 'score'"}).json()
    assert [c["name"] for c in only["value"]] == ["score"]


# -- outputs ---------------------------------------------------------------------------------------------------
def test_outputs_download_in_ranges_and_refuse_escaping_paths(service: Service, scoring: PipelineEndpoint) -> None:
    run_id = submit(service, scoring.id)
    poll_until(service, run_id, FINISHED)
    score = next(n for n, s in service.steps(run_id).items() if s["Name"] == "score")
    base = f"/PipelineRuns/{run_id}/Steps/{score}/Outputs/predictions"
    whole = make.PREDICTIONS.encode()
    # a range, an open-ended range and the last bytes
    part = service.get(base + "/files/predictions.csv", headers={"Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, whole[10:20])
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(whole)}"
    assert service.get(base + "/files/predictions.csv", headers={"Range": "bytes=100-"}).content == whole[100:]
    assert service.get(base + "/files/predictions.csv", headers={"Range": "bytes=-5"}).content == whole[-5:]
    assert_error(service.get(base + "/files/predictions.csv", headers={"Range": f"bytes={len(whole)}-"}), 416)
    # a file in a subfolder, its name quoted
    nested = service.get(base + "/files/details/" + quote("summary one.json"))
    assert nested.json() == {"rows": 200}
    # paths that leave the output folder, encoded or not (as sent: no client-side normalising)
    for path in ("../../train/outputs/model/model.txt", "%2e%2e/x", "%252e%252e/x", "..%2f..%2fsecret",
                 "details/%2E%2E/%2E%2E/x", "details/..%5c..%5cx"):
        status, body = raw_get(service, f"{service.ws}{base}/files/{path}")
        assert status == 400, (path, status, body)
        assert b"model.txt" not in body or b"Error" in body
    # unknown names are 404s naming them
    assert "nope" in assert_error(service.get(f"/PipelineRuns/{run_id}/Steps/{score}/Outputs/nope"), 404)[
        "Error"]["Message"]
    assert_error(service.get(base + "/files/nope.csv"), 404)
    assert_error(service.get(f"/PipelineRuns/{run_id}/Steps/zzzz/Outputs/predictions"), 404)
    assert_error(service.post(f"/PipelineRuns/{run_id}/Outputs", json=["zzzz"]), 404)


def raw_get(service: Service, url: str) -> tuple[int, bytes]:
    """GET with the path exactly as written (httpx would resolve `..` before sending)."""
    parsed = httpx.URL(url)
    connection = http.client.HTTPConnection(parsed.host, parsed.port, timeout=30)
    try:
        connection.request("GET", url[len(f"http://{parsed.host}:{parsed.port}"):], headers=service.headers())
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_node_status_and_status_code_name_one_step(service: Service, scoring: PipelineEndpoint) -> None:
    run_id = submit(service, scoring.id)
    poll_until(service, run_id, FINISHED)
    node_id, status = next(iter(service.steps(run_id).items()))
    one = service.post(f"/PipelineRuns/{run_id}/Graph/Node/Status", json=[node_id])
    assert one.status_code == 200 and one.json()["RunId"] == status["RunId"] and one.json()["StatusCode"] == 4
    code = service.post(f"/PipelineRuns/{run_id}/Graph/Node/StatusCode", json=[node_id],
                        headers={"Content-Type": "application/json-patch+json; charset=utf-8"})
    assert code.headers["Content-Type"].startswith("application/json") and code.json() == "Finished"


# -- bad input ------------------------------------------------------------------------------------------------
def test_bad_history_requests_are_400s_and_404s_naming_what_is_wrong(
    service: Service, scoring: PipelineEndpoint
) -> None:
    run_id = submit(service, scoring.id)
    for body, target in (
        ({"filter": "Status eq"}, "filter"),
        ({"filter": "Colour eq 'red'"}, "filter"),
        ({"filter": "Status eq 'Sleeping'"}, "filter"),
        ({"filter": "CreatedUtc gt 'yesterday'"}, "filter"),
        ({"filter": "(Status eq Running"}, "filter"),
        ({"filter": "Status eq Running Status"}, "filter"),
        ({"top": 0}, "top"),
        ({"top": 1001}, "top"),
        ({"top": "many"}, "top"),
        ({"continuationToken": "not-a-token"}, "continuationToken"),
        ({"continuationToken": "eyJxIjoiMTIzIn0"}, "continuationToken"),  # {"q":"123"}: another query's
        ({"orderby": "Colour desc"}, "orderby"),
        ({"orderBy": "Colour desc"}, "orderby"),  # keys in any case: read, not ignored
        ({"Top": 0}, "top"),
        ({"top": 2, "TOP": 3}, "top"),
    ):
        assert assert_error(query(service, "forecast", **body), 400)["Error"]["Target"] == target, body
    newest_first = query(service, "forecast", Filter=f"RunId eq '{run_id}'", orderBy="CreatedUtc desc", TOP=1)
    assert newest_first.status_code == 200, newest_first.text
    assert [r["runId"] for r in newest_first.json()["value"]] == [run_id]
    assert_error(service.post(f"{service.hs}/experiments/forecast/runs:query", content=b"{nope"), 400)
    children = f"{service.hs}/experiments/forecast/runs/{run_id}/children"
    for top in ("0", "1001", "abc"):  # named as the caller sent it
        assert assert_error(service.get(children, params={"$top": top}), 400)["Error"]["Target"] == "$top"
    assert_error(service.get(children, params={"$continuationToken": "garbage!"}), 400)
    assert_error(service.get(children, params={"$filter": "RunId eq"}), 400)
    missing = assert_error(service.get(f"{service.hs}/runs/no-such-run/details"), 404)
    assert "no-such-run" in missing["Error"]["Message"]
    assert_error(service.get(f"{service.hs}/runs/{run_id}_zzzz"), 404)
    assert_error(service.get(f"{service.hs}/experiments/elsewhere/runs/{run_id}"), 404)
    assert "nowhere" in assert_error(service.get(f"{service.hs}/experiments/nowhere"), 404)["Error"]["Message"]
    assert_error(service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{scoring.id}",
                              json={"ExperimentName": "../../x"}), 400)


def test_history_routes_need_the_read_role(service: Service, scoring: PipelineEndpoint) -> None:
    run_id = submit(service, scoring.id)
    url = f"{service.hs}/runs/{run_id}/details"
    assert httpx.get(url, timeout=30).status_code == 401
    assert service.get(url, roles=["Pipelines.Read"]).status_code == 200
    assert_error(service.get(url, roles=["Some.Other"]), 403)


# -- the Python client and the command line ------------------------------------------------------------------
def test_the_client_reads_runs_as_sdk_v1_did_and_downloads_an_output(
    service: Service, scoring: PipelineEndpoint, workspace: Workspace, tmp_path: Path
) -> None:
    from pipelines.client import Experiment, HistoryRun, PipelineRun, StepRun

    run = scoring.submit("forecast", {})
    assert run.wait_for_completion(show_output=False) == "Finished"
    pipeline_run = PipelineRun.get(workspace, run.id)
    assert pipeline_run.get_details()["status"] == "Completed"
    steps = pipeline_run.get_children()
    assert [s.name for s in steps] == ["train", "score"] and all(isinstance(s, StepRun) for s in steps)
    [score] = pipeline_run.find_step_run("score")
    assert isinstance(HistoryRun.get(workspace, score.id), StepRun)
    assert "scored 200 rows" in score.get_log()
    # WHEN the step's output is downloaded as SDK v1's PortDataReference did
    folder = score.get_output_data("predictions").download(tmp_path / "out", show_progress=False)
    # THEN the files are there, byte for byte, under the output's name
    assert Path(folder) == tmp_path / "out" / "predictions"
    assert (Path(folder) / "predictions.csv").read_bytes() == make.PREDICTIONS.encode()
    assert (Path(folder) / "details" / "summary one.json").read_text() == '{"rows": 200}'
    with pytest.raises(Exception, match="exists"):
        score.get_output_data("predictions").download(tmp_path / "out", show_progress=False)
    with pytest.raises(Exception, match="no output 'nope'"):
        score.get_output_data("nope")
    # AND the experiment lists the run
    assert run.id in [r.id for r in Experiment(workspace, "forecast").get_runs()]
    assert [e.name for e in Experiment.list(workspace)] == ["forecast"]


def test_a_file_larger_than_one_part_comes_down_in_ranges(
    service: Service, workspace: Workspace, tmp_path: Path
) -> None:
    from pipelines.client import PipelineRun

    # over one answer (32 MiB), so a plain GET is refused; five 8 MiB parts for the client
    size = 32 * 1024 * 1024 + 12345
    script = f"""
        p = argparse.ArgumentParser(); p.add_argument("--out"); a = p.parse_args()
        pattern = bytes(range(251))  # a prime length: no part of the file repeats at a part boundary
        data = (pattern * ({size} // 251 + 1))[:{size}]
        pathlib.Path(a.out, "big.bin").write_bytes(data)
    """
    make.write(tmp_path / "big", "big.py", script)
    from pipelines.authoring import Pipeline, PipelineData, PythonScriptStep

    out = PipelineData("blob")
    pipeline = Pipeline(steps=[PythonScriptStep("big.py", name="big", arguments=["--out", out], outputs=[out],
                                                source_directory=tmp_path / "big")])
    run = publish(workspace, pipeline, "Big", None, "1.0").submit("big", {})
    assert run.wait_for_completion(show_output=False) == "Finished"
    [step] = PipelineRun.get(workspace, run.id).get_children()
    reference = step.get_output_data("blob")
    assert reference.size == size
    folder = reference.download(tmp_path / "down", show_progress=False)
    assert (Path(folder) / "big.bin").read_bytes() == (bytes(range(251)) * (size // 251 + 1))[:size]
    # a GET without Range of a file over one answer is refused with the reason, not cut short
    [file] = reference.files()
    refused = service.get(file.url)
    assert refused.status_code == 400 and "Range" in refused.json()["Error"]["Message"]


def test_the_command_line_lists_runs_and_downloads_outputs(host, service: Service, scoring: PipelineEndpoint,
                                                          tmp_path: Path) -> None:
    from tests.integration.test_cli import cli

    run_id = submit(service, scoring.id)
    poll_until(service, run_id, FINISHED)
    listed = cli(host, "run", "list", "--experiment", "forecast")
    assert listed.returncode == 0, listed.stderr
    assert [r["runId"] for r in json.loads(listed.stdout)] == [run_id]
    none = cli(host, "run", "list", "--status", "Running")
    assert none.returncode == 0 and json.loads(none.stdout) == []
    downloaded = cli(host, "run", "download", run_id, "--step", "score", "-d", str(tmp_path / "d"), "--no-progress")
    assert downloaded.returncode == 0, downloaded.stderr
    assert (tmp_path / "d" / "score" / "predictions" / "predictions.csv").read_bytes() == make.PREDICTIONS.encode()
    everything = cli(host, "run", "download", run_id, "-d", str(tmp_path / "all"))
    assert everything.returncode == 0, everything.stderr
    assert (tmp_path / "all" / "train" / "model" / "model.txt").read_text() == "weights 1 2 3"
    missing = cli(host, "run", "download", run_id, "--step", "score", "--output", "nope", "-d", str(tmp_path))
    assert missing.returncode == 1 and "nope" in missing.stderr and "Traceback" not in missing.stderr


def test_a_running_step_runs_cancel_uri_cancels_its_pipeline_run_as_sdk_v1s_run_cancel_posts_it(
    service: Service, workspace: Workspace, tmp_path: Path
) -> None:
    # GIVEN a run whose one step is running
    run_id = held_run(service, workspace, tmp_path)
    step = service.get(f"{service.hs}/experiments/held/runs/{run_id}/children").json()["value"][0]
    # THEN the step run and its pipeline run name the pipeline run's cancel
    cancel = f"{service.ws}/PipelineRuns/{run_id}/Cancel"
    assert step["cancelUri"] == cancel and final_run(service, run_id)["cancelUri"] == cancel
    # WHEN SDK v1's StepRun.cancel() posts to it THEN the run ends Canceled
    assert service.post(step["cancelUri"]).status_code == 200
    assert poll_until(service, run_id, ("Canceled", "Completed", "Failed"))[-1] == "Canceled"
    # AND runs that have ended have none
    ended = service.get(f"{service.hs}/runs/{step['runId']}").json()
    assert ended["cancelUri"] is None and final_run(service, run_id)["cancelUri"] is None
