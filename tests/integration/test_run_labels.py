"""What a caller changes on a run through the run-history family, as SDK v1's `run.tag()`,
`set_tags()`, `add_properties()`, `remove_tags()` and `display_name = ...` send it, and how
the run reads, and is found, afterwards. Against the local host on Azurite."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import pytest

from pipelines.client import Workspace, publish
from tests import pipelines_for_tests as make
from tests.service import Service, assert_error


def finished_run(service: Service, workspace: Workspace, tmp_path: Path, experiment: str = "labels") -> str:
    published = publish(workspace, make.single(tmp_path / "code", "print(1)\n"), "labelled")
    submitted = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}",
                             json={"ExperimentName": experiment, "Tags": {"team": "forecast"},
                                   "Properties": {"BuildId": "17"}})
    assert submitted.status_code == 200, submitted.text
    run_id = str(submitted.json()["Id"])
    assert service.wait_run(run_id)["Status"]["StatusCode"] == 3
    return run_id


def test_a_run_is_tagged_given_properties_and_renamed_and_is_found_by_its_new_tag(
    service: Service, workspace: Workspace, tmp_path: Path
) -> None:
    run_id = finished_run(service, workspace, tmp_path)
    run_url = f"{service.hs}/experiments/labels/runs/{run_id}"
    # WHEN a release job tags the run, adds a property and names it, as SDK v1 sends it (a CreateRunDto)
    patched = service.call("PATCH", run_url, json={
        "runId": run_id, "tags": {"approved": "true", "DeploymentCandidate": None},
        "properties": {"ReleaseId": "42"}, "displayName": "nightly 42", "status": "Completed"})
    # THEN the answer is the run as it now is, the key nothing read listed
    assert patched.status_code == 200, patched.text
    dto = patched.json()
    assert dto["tags"] == {"team": "forecast", "approved": "true", "DeploymentCandidate": ""}
    assert dto["properties"]["ReleaseId"] == "42" and dto["properties"]["BuildId"] == "17"
    assert dto["properties"]["azureml.runsource"] == "azureml.PipelineRun"  # the service's own stay
    assert dto["displayName"] == "nightly 42" and dto["status"] == "Completed"
    assert patched.headers["x-ms-ignored-keys"] == "status"
    # AND every reader sees it: run history, its query by tag, and the pipelines family
    assert service.get(run_url).json()["tags"]["approved"] == "true"
    found = service.post(f"{service.hs}/experiments/labels/runs:query",
                         json={"filter": "tags/approved eq 'true'"}).json()["value"]
    assert [r["runId"] for r in found] == [run_id]
    assert service.get(f"/PipelineRuns/{run_id}").json()["tags"]["approved"] == "true"
    # WHEN a tag changes and one is removed (the body of run.remove_tags is the keys' list)
    service.call("PATCH", run_url, json={"tags": {"approved": "false"}})
    removed = service.call("DELETE", f"{run_url}/tags", json=["DeploymentCandidate", "never-set"])
    # THEN tags are mutable
    assert removed.status_code == 200, removed.text
    assert removed.json()["tags"] == {"team": "forecast", "approved": "false"}
    # AND properties are a record: the same value again is no change, another is a 409
    assert service.call("PATCH", run_url, json={"properties": {"ReleaseId": "42"}}).status_code == 200
    changed = assert_error(service.call("PATCH", run_url, json={"properties": {"ReleaseId": "43"}}), 409)
    assert changed["Error"]["Target"] == "properties.ReleaseId"
    assert_error(service.call("PATCH", run_url, json={"properties": {"azureml.pipelineid": "x"}}), 409)
    reserved = assert_error(service.call("PATCH", run_url, json={"properties": {"azureml.mine": "x"}}), 400)
    assert reserved["Error"]["Target"] == "properties.azureml.mine"
    assert service.get(run_url).json()["properties"]["ReleaseId"] == "42"


def test_what_a_run_cannot_take_is_a_4xx_and_changes_nothing(
    service: Service, workspace: Workspace, tmp_path: Path
) -> None:
    run_id = finished_run(service, workspace, tmp_path)
    run_url = f"{service.hs}/experiments/labels/runs/{run_id}"
    before = service.get(run_url).json()
    for body, target in (
        ({"tags": ["a"]}, "tags"),
        ({"tags": {"a": 1}}, "tags"),
        ({"tags": {"": "x"}}, "tags"),
        ({"tags": {"k": "v" * 1001}}, "tags.k"),
        ({"tags": {"k": "a\u0000b"}}, "tags.k"),
        ({"properties": {"k" * 101: "v"}}, "properties." + "k" * 100 + "..."),
        ({"tags": {f"t{i}": "v" for i in range(50)}}, "tags"),  # 51 with the one it has
        ({"displayName": 5}, "displayName"),
        ({"description": "d" * 5001}, "description"),
    ):
        refused = assert_error(service.call("PATCH", run_url, json=body), 400)
        assert refused["Error"]["Target"] == target, (body, refused)
    assert_error(service.call("PATCH", run_url, content=b"[1, 2]"), 400)
    assert_error(service.call("DELETE", f"{run_url}/tags", json={"tags": ["team"]}), 400)
    # a step run's tags are its pipeline run's; another experiment's run, or none, is a 404
    step_run = service.get(f"{run_url}/children").json()["value"][0]["runId"]
    step = assert_error(service.call("PATCH", f"{service.hs}/experiments/labels/runs/{step_run}",
                                     json={"tags": {"a": "b"}}), 400)
    assert run_id in step["Error"]["Message"]
    assert_error(service.call("PATCH", f"{service.hs}/experiments/other/runs/{run_id}", json={"tags": {}}), 404)
    assert_error(service.call("PATCH", f"{service.hs}/experiments/labels/runs/nope", json={"tags": {}}), 404)
    # reading roles cannot write
    assert_error(service.call("PATCH", run_url, json={"tags": {"a": "b"}}, roles=["Pipelines.Read"]), 403)
    assert service.get(run_url).json()["tags"] == before["tags"]


def test_concurrent_tags_are_all_kept(service: Service, workspace: Workspace, tmp_path: Path) -> None:
    run_id = finished_run(service, workspace, tmp_path)
    experiment_id = service.get(f"{service.hs}/experiments/labels").json()["experimentId"]
    by_id = f"{service.hs}/experimentids/{experiment_id}/runs/{run_id}"
    # WHEN eight callers tag the run at once, each its own key (by the experiment's id, as SDK v1 does)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda i: service.call("PATCH", by_id, json={"tags": {f"k{i}": str(i)}}), range(8)))
    # THEN none is lost: each write is made on the row as it is (ETag), again when another came first
    assert [a.status_code for a in answers] == [200] * 8
    tags = service.get(f"{service.hs}/runs/{run_id}").json()["tags"]
    assert tags == {"team": "forecast", **{f"k{i}": str(i) for i in range(8)}}


def test_the_python_client_tags_a_run_as_sdk_v1_did(service: Service, workspace: Workspace, tmp_path: Path) -> None:
    from pipelines.client import PipelineRun
    from pipelines.client.workspace import ServiceError

    run = PipelineRun.get(workspace, finished_run(service, workspace, tmp_path))
    run.tag("approved", "true")
    run.tag("DeploymentCandidate")
    run.add_properties({"ReleaseId": "42"})
    run.remove_tags(["team"])
    assert run.get_tags() == {"approved": "true", "DeploymentCandidate": ""}
    assert run.get_properties()["ReleaseId"] == "42" and run.get_properties()["BuildId"] == "17"
    with pytest.raises(ServiceError) as refused:
        run.add_properties({"ReleaseId": "43"})
    assert refused.value.status == 409


def test_an_experiment_is_archived_tagged_and_reactivated(service: Service, workspace: Workspace,
                                                           tmp_path: Path) -> None:
    finished_run(service, workspace, tmp_path, experiment="seasonal")
    experiment = service.get(f"{service.hs}/experiments/seasonal").json()
    url = f"{service.hs}/experimentids/{experiment['experimentId']}"

    def listed(view: str) -> list[str]:
        return [e["name"] for e in service.get(f"{service.hs}/experiments?viewType={view}").json()["value"]]

    # WHEN it is archived and tagged (SDK v1's ModifyExperimentDto)
    archived = service.call("PATCH", url, json={"archive": True, "tags": {"owner": "forecast"},
                                                "description": "old season"})
    # THEN it says so, and is listed as archived only
    assert archived.status_code == 200, archived.text
    assert archived.json()["archivedTime"] and archived.json()["tags"] == {"owner": "forecast"}
    assert archived.json()["description"] == "old season"
    assert "seasonal" not in listed("ActiveOnly") and "seasonal" in listed("ArchivedOnly") + listed("All")
    found = service.post(f"{service.hs}/experiments:query",
                         json={"filter": "tags/owner eq 'forecast'", "viewType": "All"}).json()["value"]
    assert [e["name"] for e in found] == ["seasonal"]
    # WHEN it is reactivated
    back = service.call("PATCH", url, json={"archive": False}).json()
    assert back["archivedTime"] is None and "seasonal" in listed("ActiveOnly") and back["tags"] == {"owner": "forecast"}
    # AND it is not renamed, and what it cannot take is a 400
    for body, target in (({"name": "other"}, "name"), ({"archive": "yes"}, "archive"),
                         ({"tags": {"k": "a\u0000"}}, "tags.k"), ({"description": 5}, "description")):
        assert assert_error(service.call("PATCH", url, json=body), 400)["Error"]["Target"] == target
    assert service.call("PATCH", url, json={"name": "seasonal"}).status_code == 200  # its own name: nothing
    # AND its tags are removed as SDK v1's experiment.remove_tags() asks (a key it lacks is no matter)
    removed = service.post(f"{url}/tags:delete", json={"tags": ["owner", "never-set"]})
    assert removed.status_code == 200 and removed.json() == {"errors": {}}, removed.text
    assert service.get(f"{service.hs}/experiments/seasonal").json()["tags"] == {}
    assert assert_error(service.post(f"{url}/tags:delete", json={"tags": "owner"}), 400)["Error"]["Target"] == "tags"
    assert_error(service.call("PATCH", f"{service.hs}/experimentids/nope", json={"archive": True}), 404)


def test_the_python_client_archives_and_tags_an_experiment(service: Service, workspace: Workspace,
                                                            tmp_path: Path) -> None:
    from pipelines.client import Experiment

    finished_run(service, workspace, tmp_path, experiment="clienty")
    experiment = Experiment(workspace, "clienty")
    experiment.tag("owner", "forecast")
    experiment.archive()
    assert experiment.archived_time and experiment.tags == {"owner": "forecast"}
    assert "clienty" not in [e.name for e in Experiment.list(workspace)]
    assert "clienty" in [e.name for e in Experiment.list(workspace, view_type="ArchivedOnly")]
    experiment.reactivate()
    experiment.remove_tags(["owner"])
    assert Experiment(workspace, "clienty").tags == {} and Experiment(workspace, "clienty").archived_time is None
    assert "clienty" in [e.name for e in Experiment.list(workspace)]


def test_concurrent_experiment_tags_are_all_kept(service: Service, workspace: Workspace, tmp_path: Path) -> None:
    finished_run(service, workspace, tmp_path, experiment="busy")
    url = f"{service.hs}/experimentids/{service.get(f'{service.hs}/experiments/busy').json()['experimentId']}"
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda i: service.call("PATCH", url, json={"tags": {f"k{i}": str(i)}}), range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert service.get(f"{service.hs}/experiments/busy").json()["tags"] == {f"k{i}": str(i) for i in range(8)}
