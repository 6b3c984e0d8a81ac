"""Datastores, datasets and swapping them per run, over HTTP against the local host and Azurite.

The step scripts run as real child processes and read what the worker staged.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.authoring import (
    DataPath,
    DataPathComputeBinding,
    DatasetConsumptionConfig,
    DatasetRef,
    Pipeline,
    PipelineParameter,
    PythonScriptStep,
)
from pipelines.client import Dataset, Datastore, PublishedPipeline, ServiceError, Workspace, publish
from pipelines.client.publish import load_pipeline
from pipelines.store import get_account
from tests import pipelines_for_tests as make
from tests.service import ROOT, VECTORS, Service, assert_error, token

EXAMPLE = ROOT / "examples" / "batch_scoring"


def blobstore(workspace: Workspace) -> Datastore:
    return Datastore.get(workspace, "workspaceblobstore")


def the_example_registered(workspace: Workspace) -> tuple[str, str]:
    """The example's data uploaded and its two datasets registered: (train id, full id)."""
    blobstore(workspace).upload(EXAMPLE / "data", target_path="batch_scoring", show_progress=False)
    store = blobstore(workspace)
    train = Dataset.Tabular.from_delimited_files(path=[(store, "batch_scoring/train.csv")]).register(
        workspace, "train"
    )
    full = Dataset.Tabular.from_delimited_files(path=store.path("batch_scoring/full.csv")).register(
        workspace, "full"
    )
    return str(train.id), str(full.id)


def step_log(service: Service, run_id: str, name: str) -> str:
    """The log of the execution that wrote the step's outputs: a step that reused another
    run's (ReuseInfo; runs here may share their training step) did not run itself."""
    node, step = next((node, step) for node, step in service.steps(run_id).items() if step["Name"] == name)
    reused = step.get("ReuseInfo")
    return service.log(reused["PipelineRunId"], reused["NodeId"]) if reused else service.log(run_id, node)


def data_echo(folder: Path) -> Pipeline:
    """The vectors' parameters: `input_datapath` (datapath), `tabular_ds_param` (dataset), and `count`."""
    make.write(
        folder,
        "echo_data.py",
        """
        from pipelines.runtime import Run
        run = Run.get_context()
        print("argument", sys.argv[2], pathlib.Path(sys.argv[2]).name)
        for name, data in sorted(run.input_datasets.items()):
            rows = data.to_csv_rows()
            first = rows[0] if rows else None
            print(f"{name}: {len(rows)} rows, first {first}, dataset {data.name} v{data.version}")
    """,
    )
    datapath = PipelineParameter("input_datapath", DataPath("workspaceblobstore", "incoming/default.csv"))
    dataset = PipelineParameter("tabular_ds_param", DatasetRef.get_by_name("vectors"))
    return Pipeline(
        steps=[
            PythonScriptStep(
                "echo_data.py",
                name="echo",
                source_directory=folder,
                arguments=[
                    "--path",
                    (datapath, DataPathComputeBinding()),
                    "--count",
                    PipelineParameter("count", 3),
                ],
                inputs=[DatasetConsumptionConfig("tabular_dataset", dataset)],
            )
        ]
    )


def upload_text(workspace: Workspace, path: str, text: str, tmp_path: Path) -> None:
    local = tmp_path / "uploads" / path.replace("/", "_")
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(text)
    blobstore(workspace).upload_file(local, path, overwrite=True)


# -- the example -----------------------------------------------------------------------------------
def test_the_example_scores_its_default_dataset_then_another_by_id(service, workspace) -> None:
    # GIVEN the example's data registered as "train" (30 rows) and "full" (240 rows), the example published
    train_id, full_id = the_example_registered(workspace)
    published = publish(workspace, load_pipeline(EXAMPLE), "batch-scoring")
    url = f"/PipelineRuns/PipelineSubmit/{published.id}"
    # WHEN it runs with its default, then with the scoring dataset swapped by id
    default_run = service.post(url, json={"ExperimentName": "batch-scoring"}).json()
    swap = {
        "DataSetDefinitionValueAssignments": {"scoring_data": {"SavedDataSetReference": {"Id": train_id}}}
    }
    swapped_run = service.post(url, json=swap).json()
    # THEN both finish; the default scored "full", the swapped run the other data
    for run in (default_run, swapped_run):
        assert service.wait_run(run["Id"])["Status"]["StatusCode"] == 3, service.steps(run["Id"])
    assert f"scored 240 rows of dataset full v1 ({full_id})" in step_log(service, default_run["Id"], "score")
    assert f"scored 30 rows of dataset train v1 ({train_id})" in step_log(service, swapped_run["Id"], "score")
    assert "trained on 30 rows of dataset train v1" in step_log(service, swapped_run["Id"], "train")
    # the run records what it resolved: the exact registration and its paths
    recorded = service.get(f"/PipelineRuns/{swapped_run['Id']}").json()["DataSetDefinitionValueAssignments"]
    assert recorded["scoring_data"] == {"DataSetReference": {"Id": train_id, "Name": "train", "Version": "1"}}
    # a run that assigned nothing records the default as resolved at submit
    recorded = service.get(f"/PipelineRuns/{default_run['Id']}").json()["DataSetDefinitionValueAssignments"]
    assert recorded["scoring_data"] == {"DataSetReference": {"Id": full_id, "Name": "full", "Version": "1"}}
    steps = {s["Name"]: s for s in service.steps(default_run["Id"]).values()}
    assert steps["score"]["Metrics"]["scored_rows"] == 240 and steps["score"]["Metrics"]["accuracy"] > 0.8


def test_a_new_version_does_not_change_what_an_earlier_run_recorded(service, workspace, tmp_path) -> None:
    # GIVEN a run that asked for the latest "full" (version 1, 240 rows)
    the_example_registered(workspace)
    published = publish(workspace, load_pipeline(EXAMPLE), "batch-scoring")
    url = f"/PipelineRuns/PipelineSubmit/{published.id}"
    latest = {"DataSetDefinitionValueAssignments": {"scoring_data": {"DataSetReference": {"Name": "full"}}}}
    first = service.post(url, json=latest).json()
    assert first["DataSetDefinitionValueAssignments"]["scoring_data"]["DataSetReference"]["Version"] == "1"
    # WHEN "full" gets a version 2 over other data
    upload_text(
        workspace,
        "batch_scoring/small.csv",
        "id,sepal_length,sepal_width,species\n1,5.0,3.4,setosa\n",
        tmp_path,
    )
    second_version = Dataset.Tabular.from_delimited_files("batch_scoring/small.csv").register(
        workspace, "full", create_new_version=True
    )
    assert second_version.version == 2
    # THEN the first run still records and reads version 1; a new run gets version 2
    assert service.wait_run(first["Id"])["Status"]["StatusCode"] == 3
    again = service.get(f"/PipelineRuns/{first['Id']}").json()["DataSetDefinitionValueAssignments"][
        "scoring_data"
    ]
    assert again["DataSetReference"]["Version"] == "1"
    assert "scored 240 rows of dataset full v1" in step_log(service, first["Id"], "score")
    later = service.post(url, json=latest).json()
    assert later["DataSetDefinitionValueAssignments"]["scoring_data"]["DataSetReference"]["Version"] == "2"
    assert service.wait_run(later["Id"])["Status"]["StatusCode"] == 3
    assert "scored 1 rows of dataset full v2" in step_log(service, later["Id"], "score")
    # a version named explicitly is that version
    pinned = {
        "DataSetDefinitionValueAssignments": {
            "scoring_data": {"DataSetReference": {"Name": "full", "Version": "1"}}
        }
    }
    answered = service.post(url, json=pinned).json()
    assert answered["DataSetDefinitionValueAssignments"]["scoring_data"]["DataSetReference"]["Version"] == "1"


# -- datapaths and the request vectors -------------------------------------------------------------
def test_a_datapath_assignment_makes_the_step_read_that_file(service, workspace, tmp_path) -> None:
    # GIVEN the pipeline of the vectors, its default data, and another file at the vector's path
    upload_text(workspace, "incoming/default.csv", "v\ndefault\n", tmp_path)
    upload_text(workspace, "incoming/2026-11-24/data.csv", "v\nnovember\nsecond\n", tmp_path)
    Dataset.Tabular.from_delimited_files("incoming/default.csv").register(workspace, "vectors")
    published = publish(workspace, data_echo(tmp_path / "code"), "vectors")
    url = f"/PipelineRuns/PipelineSubmit/{published.id}"
    # WHEN datapath-swap.json is posted as a client sends it, byte for byte
    body = (VECTORS / "datapath-swap.json").read_bytes()
    response = service.post(url, content=body, headers={"Content-Type": "application/json"})
    # THEN it is accepted, recorded, and the step reads that file (by the input's name, as its argument too)
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["DataPathAssignments"] == {
        "input_datapath": {"DataStoreName": "workspaceblobstore", "RelativePath": "incoming/2026-11-24/data.csv"}
    }
    assert service.wait_run(run["Id"])["Status"]["StatusCode"] == 3, service.steps(run["Id"])
    log = step_log(service, run["Id"], "echo")
    assert "argument" in log and "data.csv" in log
    assert "input_datapath: 2 rows, first ['november']" in log
    assert "tabular_dataset: 1 rows, first ['default'], dataset vectors v1" in log
    # and without an assignment the default file is read
    default = service.post(url, json={}).json()
    assert service.wait_run(default["Id"])["Status"]["StatusCode"] == 3
    assert "input_datapath: 1 rows, first ['default']" in step_log(service, default["Id"], "echo")


def test_the_dataset_swap_vector_is_accepted_with_a_real_id(service, workspace, tmp_path) -> None:
    # GIVEN the vectors' pipeline and a second dataset
    upload_text(workspace, "incoming/default.csv", "v\ndefault\n", tmp_path)
    upload_text(workspace, "other/one.csv", "v\nswapped\n", tmp_path)
    Dataset.Tabular.from_delimited_files("incoming/default.csv").register(workspace, "vectors")
    other = Dataset.Tabular.from_delimited_files("other/one.csv").register(workspace, "other")
    published = publish(workspace, data_echo(tmp_path / "code"), "vectors")
    # WHEN dataset-swap.json is posted, its placeholder replaced by that id and nothing else changed
    raw = (VECTORS / "dataset-swap.json").read_bytes()
    assert raw.count(b"<dataset id>") == 1
    response = service.post(
        f"/PipelineRuns/PipelineSubmit/{published.id}",
        content=raw.replace(b"<dataset id>", str(other.id).encode()),
    )
    # THEN the run reads the swapped dataset under the step's consumption name
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["RunHistoryExperimentName"] == "MyRestPipeline"
    assert run["DataSetDefinitionValueAssignments"]["tabular_ds_param"]["DataSetReference"]["Id"] == other.id
    assert service.wait_run(run["Id"])["Status"]["StatusCode"] == 3
    assert "tabular_dataset: 1 rows, first ['swapped'], dataset other v1" in step_log(
        service, run["Id"], "echo"
    )


# -- refusals --------------------------------------------------------------------------------------
def test_every_bad_assignment_is_a_400_naming_its_key_and_writes_no_run(service, workspace, tmp_path) -> None:
    # GIVEN the vectors' pipeline, with a dataset of its own
    upload_text(workspace, "incoming/default.csv", "v\ndefault\n", tmp_path)
    registered = Dataset.Tabular.from_delimited_files("incoming/default.csv").register(workspace, "vectors")
    published = publish(workspace, data_echo(tmp_path / "code"), "vectors")
    url = f"/PipelineRuns/PipelineSubmit/{published.id}"
    unknown_id = "00000000-0000-4000-8000-000000000000"

    def datapath(path: str, store: str = "workspaceblobstore") -> dict[str, object]:
        return {"DataPathAssignments": {"input_datapath": {"DataStoreName": store, "RelativePath": path}}}

    def dataset(value: object, name: str = "tabular_ds_param") -> dict[str, object]:
        return {"DataSetDefinitionValueAssignments": {name: value}}

    cases = [
        # an Id and a Version that disagree
        (
            dataset({"DataSetReference": {"Id": registered.id, "Version": "2"}}),
            "DataSetDefinitionValueAssignments.tabular_ds_param",
        ),
        (
            dataset({"DataSetReference": {"Name": "vectors", "Version": "x"}}),
            "DataSetDefinitionValueAssignments.tabular_ds_param",
        ),
        (
            dataset({"SavedDataSetReference": {"Name": "vectors"}}),
            "DataSetDefinitionValueAssignments.tabular_ds_param",
        ),
        (dataset({"Something": {}}), "DataSetDefinitionValueAssignments.tabular_ds_param"),
        (
            dataset({"LiteralValue": {"DataStoreName": "nostore", "RelativePath": "a.csv"}}),
            "DataSetDefinitionValueAssignments.tabular_ds_param",
        ),
        (
            dataset({"LiteralValue": {"DataStoreName": "workspaceblobstore", "RelativePath": "../a.csv"}}),
            "DataSetDefinitionValueAssignments.tabular_ds_param",
        ),
        (datapath("a.csv", store="nostore"), "DataPathAssignments.input_datapath"),
        (datapath("a.csv", store="bad/name"), "DataPathAssignments.input_datapath"),
        *[
            (datapath(p), "DataPathAssignments.input_datapath")
            for p in (
                "../secret.csv",
                "/etc/passwd",
                "%2e%2e/secret",
                "%252e%252e/secret",
                "a/%2E%2E/%2e%2e/b",
                "..\\up.csv",
                "C:/x.csv",
                "https://evil.example/x.csv",
                "",
            )
        ],
        # assignments to a parameter that is not a data parameter, or of the wrong kind
        ({"ParameterAssignments": {"tabular_ds_param": "x"}}, "ParameterAssignments.tabular_ds_param"),
        (
            {
                "DataPathAssignments": {
                    "count": {"DataStoreName": "workspaceblobstore", "RelativePath": "a.csv"}
                }
            },
            "DataPathAssignments.count",
        ),
        (
            dataset({"SavedDataSetReference": {"Id": unknown_id}}, name="count"),
            "DataSetDefinitionValueAssignments.count",
        ),
        (
            {
                "DataPathAssignments": {
                    "tabular_ds_param": {"DataStoreName": "workspaceblobstore", "RelativePath": "a.csv"}
                }
            },
            "DataPathAssignments.tabular_ds_param",
        ),
        (
            dataset({"SavedDataSetReference": {"Id": unknown_id}}, name="input_datapath"),
            "DataSetDefinitionValueAssignments.input_datapath",
        ),
        (dataset({"LiteralValue": {}}, name="nope"), "DataSetDefinitionValueAssignments.nope"),
    ]
    for body, target in cases:
        # WHEN each is submitted
        response = service.post(url, json=body)
        # THEN a 400 whose details name the key
        error = assert_error(response, 400, "InvalidParameter")["Error"]
        assert [d["Target"] for d in error["Details"]] == [target], (body, error)
    # a dataset (or a version of it) that is not registered is the contract's 404 (docs/contract.md §4)
    for value in (
        {"SavedDataSetReference": {"Id": unknown_id}},
        {"SavedDataSetReference": {"Id": "not-a-uuid"}},
        {"DataSetReference": {"Id": unknown_id}},
        {"DataSetReference": {"Name": "nope"}},
        {"DataSetReference": {"Name": "vectors", "Version": "7"}},
    ):
        error = assert_error(service.post(url, json=dataset(value)), 404, "NotFound")["Error"]
        assert [(d["Code"], d["Target"]) for d in error["Details"]] == [
            ("NotFound", "DataSetDefinitionValueAssignments.tabular_ds_param")
        ], (value, error)
    # several at once are reported together, in one 400 when any is not a missing registration
    both = {**datapath("../x"), **dataset({"SavedDataSetReference": {"Id": unknown_id}})}
    details = assert_error(service.post(url, json=both), 400)["Error"]["Details"]
    assert {(d["Code"], d["Target"]) for d in details} == {
        ("InvalidParameter", "DataPathAssignments.input_datapath"),
        ("NotFound", "DataSetDefinitionValueAssignments.tabular_ds_param"),
    }
    # and no run was written
    assert service.get(f"/PipelineRuns/Pipeline/{published.id}").json() == []


def test_another_workspace_sees_neither_the_datasets_nor_the_files(service, workspace, tmp_path) -> None:
    # GIVEN a dataset and its file in ws1
    upload_text(workspace, "private/x.csv", "v\n1\n", tmp_path)
    mine = Dataset.Tabular.from_delimited_files("private/x.csv").register(workspace, "mine")
    other = Workspace(
        base_url=workspace.base_url, resource_group="rg", name="ws2", token_provider=lambda: token()
    )
    # WHEN ws2 asks for them
    # THEN the dataset is unknown there and the same path holds no file in its workspaceblobstore
    with pytest.raises(ServiceError) as missing:
        Dataset.get_by_id(other, str(mine.id))
    assert missing.value.status == 404
    with pytest.raises(ServiceError) as empty:
        Dataset.Tabular.from_delimited_files("private/x.csv").register(other, "mine")
    assert empty.value.status == 400 and "no file matches" in empty.value.message


# -- datasets over HTTP ----------------------------------------------------------------------------
def test_datasets_register_read_and_list(service, workspace, tmp_path) -> None:
    # GIVEN a file
    upload_text(workspace, "t/a.csv", "x;y\n1;2\n", tmp_path)
    body = {
        "Name": "semi",
        "DatasetType": "Tabular",
        "Paths": [{"DataStoreName": "workspaceblobstore", "RelativePath": "t/*.csv"}],
        "Separator": ";",
        "Header": True,
        "Encoding": "latin1",
        "Tags": {"team": "ml"},
    }
    # WHEN it is registered twice and read back by id, by name, by version
    first = service.post("/Datasets", json=body).json()
    second = service.post("/Datasets", json=body).json()
    # THEN versions are "1" and "2", ids differ, and reads find each
    assert (first["Version"], second["Version"]) == ("1", "2") and first["Id"] != second["Id"]
    assert first["Separator"] == ";" and first["Encoding"] == "iso8859-1" and first["Tags"] == {"team": "ml"}
    assert service.get(f"/Datasets/{first['Id']}").json() == first
    assert service.get("/Datasets/Name", params={"name": "semi"}).json()["Id"] == second["Id"]
    assert service.get("/Datasets/Name", params={"name": "semi", "version": "1"}).json()["Id"] == first["Id"]
    page = service.get("/Datasets", params={"top": "1"})
    assert [d["Version"] for d in page.json()] == ["2"] and page.headers["x-ms-continuation"]
    rest = service.get(
        "/Datasets", params={"top": "1", "continuationToken": page.headers["x-ms-continuation"]}
    ).json()
    assert [d["Version"] for d in rest] == ["1"]
    # and the refusals
    assert_error(service.get("/Datasets/00000000-0000-4000-8000-000000000000"), 404, "NotFound")
    assert_error(service.get("/Datasets/Name", params={"name": "semi", "version": "9"}), 404)
    assert_error(
        service.post(
            "/Datasets",
            json={**body, "Paths": [{"DataStoreName": "workspaceblobstore", "RelativePath": "none/*.csv"}]},
        ),
        400,
    )
    assert_error(
        service.post(
            "/Datasets",
            json={**body, "Paths": [{"DataStoreName": "workspaceblobstore", "RelativePath": "../x"}]},
        ),
        400,
    )
    assert_error(service.post("/Datasets", json={**body, "Name": "a/b"}), 400)
    assert_error(service.post("/Datasets", json={**body, "DatasetType": "Graph"}), 400)
    assert_error(service.post("/Datasets", json={**body, "CreateNewVersion": False}), 409)
    assert_error(service.post("/Datasets", json=body, roles=["Pipelines.Read"]), 403, "Forbidden")


def test_concurrent_registrations_over_http_get_distinct_versions(service, workspace, tmp_path) -> None:
    # GIVEN a folder to register as a file dataset
    upload_text(workspace, "c/x.csv", "v\n1\n", tmp_path)
    body = {
        "Name": "busy",
        "DatasetType": "File",
        "Paths": [{"DataStoreName": "workspaceblobstore", "RelativePath": "c"}],
    }
    # WHEN six clients register the same name at once
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: service.post("/Datasets", json=body), range(6)))
    # THEN each gets its own id and version
    assert [a.status_code for a in answers] == [200] * 6
    assert sorted(int(a.json()["Version"]) for a in answers) == [1, 2, 3, 4, 5, 6]
    assert len({a.json()["Id"] for a in answers}) == 6


# -- datastores ------------------------------------------------------------------------------------
def test_a_datastore_in_use_cannot_be_removed(service, workspace, tmp_path) -> None:
    # GIVEN a container of the app's account registered as "landing", with a file
    created = service.put(
        "/Datastores/landing", json={"ContainerName": "landing-zone", "CreateIfNotExists": True}
    )
    assert created.status_code == 200, created.text
    assert created.json()["AccountUrl"] is None and created.json()["IsDefault"] is False
    store = Datastore.get(workspace, "landing")
    local = tmp_path / "l.csv"
    local.write_text("v\nlanding\n")
    store.upload_files([local], target_path="in")
    # and a published pipeline whose datapath default is on it, another whose dataset default is
    make.write(tmp_path / "code", "main.py", "print('ok')\n")
    on_path = publish(
        workspace,
        Pipeline(
            steps=[
                PythonScriptStep(
                    "main.py",
                    name="p",
                    source_directory=tmp_path / "code",
                    arguments=[
                        (PipelineParameter("src", DataPath("landing", "in/l.csv")), DataPathComputeBinding())
                    ],
                )
            ]
        ),
        "uses-path",
    )
    landing_set = Dataset.Tabular.from_delimited_files((store, "in/l.csv")).register(workspace, "landing_set")
    on_dataset = publish(
        workspace,
        Pipeline(
            steps=[
                PythonScriptStep(
                    "main.py",
                    name="d",
                    source_directory=tmp_path / "code",
                    inputs=[
                        DatasetConsumptionConfig(
                            "data", PipelineParameter("ds", DatasetRef(id=landing_set.id))
                        )
                    ],
                )
            ]
        ),
        "uses-dataset",
    )
    # WHEN it is removed
    refused = assert_error(service.call("DELETE", "/Datastores/landing"), 409)
    # THEN it is refused, naming both pipelines; once both are disabled it goes
    assert {d["Target"] for d in refused["Error"]["Details"]} == {on_path.id, on_dataset.id}
    PublishedPipeline.get(workspace, on_path.id).disable()
    assert_error(service.call("DELETE", "/Datastores/landing"), 409)
    PublishedPipeline.get(workspace, on_dataset.id).disable()
    assert service.call("DELETE", "/Datastores/landing").status_code == 200
    assert_error(service.get("/Datastores/landing"), 404, "NotFound")
    assert_error(service.call("DELETE", "/Datastores/workspaceblobstore"), 400)
    # AND a dataset on the removed datastore is refused at submit, as its default or sent, and no run is written
    PublishedPipeline.get(workspace, on_dataset.id).enable()
    submit = f"/PipelineRuns/PipelineSubmit/{on_dataset.id}"
    for body, target in (
        ({}, "ds"),
        ({"DataSetDefinitionValueAssignments": {"ds": {"SavedDataSetReference": {"Id": landing_set.id}}}},
         "DataSetDefinitionValueAssignments.ds"),
    ):
        error = assert_error(service.post(submit, json=body), 400, "InvalidParameter")["Error"]
        assert [d["Target"] for d in error["Details"]] == [target], error
        assert "reads datastore 'landing', which is no longer registered" in error["Message"], error
    assert service.get(f"/PipelineRuns/Pipeline/{on_dataset.id}").json() == []


def test_datastores_register_list_and_refuse_what_is_not_theirs(service, workspace) -> None:
    # GIVEN / WHEN a container and another account registered
    assert (
        service.put(
            "/Datastores/raw", json={"ContainerName": "raw-data", "CreateIfNotExists": True}
        ).status_code
        == 200
    )
    lake = service.post(
        "/Datastores",
        json={
            "Name": "lake",
            "ContainerName": "bronze",
            "AccountUrl": "https://lakeacct.blob.core.windows.net/",
        },
    )
    # THEN they are listed after the built-in one; the same registration again changes nothing
    assert lake.status_code == 200 and lake.json()["AccountUrl"] == "https://lakeacct.blob.core.windows.net"
    names = [s["Name"] for s in service.get("/Datastores").json()]
    assert names == ["workspaceblobstore", "lake", "raw"]
    assert service.get("/Datastores/workspaceblobstore").json()["IsDefault"] is True
    again = service.put("/Datastores/raw", json={"ContainerName": "raw-data"})
    assert again.status_code == 200
    # another container needs overwrite
    assert_error(
        service.put("/Datastores/raw", json={"ContainerName": "other-data", "CreateIfNotExists": True}), 409
    )
    assert (
        service.put(
            "/Datastores/raw",
            params={"overwrite": "true"},
            json={"ContainerName": "other-data", "CreateIfNotExists": True},
        ).json()["ContainerName"]
        == "other-data"
    )
    # the app's own containers, missing containers, hosts that are not storage, bad names
    own = get_account().settings.container_name("runs")
    for body in (
        {"ContainerName": own},
        {"ContainerName": "azure-webjobs-secrets"},
        {"ContainerName": "app-package-myapp-1234567", "CreateIfNotExists": True},
        {"ContainerName": "does-not-exist"},
        {"ContainerName": "Bad_Name"},
        {"ContainerName": "ok-name", "AccountUrl": "https://evil.example.com"},
    ):
        assert_error(service.put("/Datastores/x", json=body), 400)
    assert_error(service.put("/Datastores/workspaceblobstore", json={"ContainerName": "raw-data"}), 400)
    assert_error(service.put("/Datastores/bad-name", json={"ContainerName": "raw-data"}), 400)
    assert_error(
        service.put("/Datastores/raw2", json={"ContainerName": "raw-data"}, roles=["Pipelines.Read"]), 403
    )
    assert service.get("/Datastores", roles=["Pipelines.Read"]).status_code == 200


def test_uploads_whole_in_parts_and_refusals(service, workspace, tmp_path, monkeypatch) -> None:
    import pipelines.client.data as client_data

    # GIVEN a 300 KiB file and parts of 64 KiB (the real part is 8 MiB)
    monkeypatch.setattr(client_data, "PART_BYTES", 64 * 1024)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(300 * 1024))
    store = blobstore(workspace)
    # WHEN it is uploaded
    answer = store.upload_file(big, "blobs/big.bin")
    # THEN it is committed from its parts, whole, under the workspace's folder of workspaceblobstore
    assert answer["Committed"] is True and answer["Size"] == 300 * 1024
    blob = get_account().container("workspaceblobstore").read("ws1/blobs/big.bin")
    assert blob == big.read_bytes()
    # an existing file is refused without overwrite (and skipped by upload_files), replaced with it
    with pytest.raises(ServiceError) as exists:
        store.upload_file(big, "blobs/big.bin")
    assert exists.value.status == 409
    assert store.upload_files([big], target_path="blobs", show_progress=False) == []
    assert store.upload_files([big], target_path="blobs", overwrite=True, show_progress=False) == [
        "blobs/big.bin"
    ]
    # parts that were never staged cannot be committed
    base = "/Datastores/workspaceblobstore/files/"
    assert_error(service.put(base + "x.bin", params={"uploadId": "0" * 32, "parts": "3"}), 400)
    # paths that leave the datastore, or would read as globs
    for path in (
        "..%2F..%2Fsecret",
        "%2e%2e/secret",
        "a/%252e%252e/%252e%252e/b",
        "%2Fetc/passwd",
        "a/*.csv",
        "a%5Cb",
    ):
        assert_error(service.put(base + path, content=b"x"), 400)
    assert_error(service.put("/Datastores/nostore/files/a.csv", content=b"x"), 404)
    assert_error(service.put(base + "a.csv", content=b"x", roles=["Pipelines.Read"]), 403)


# -- the command line ------------------------------------------------------------------------------
def test_the_command_line_uploads_registers_and_shows(host, tmp_path) -> None:
    env = {
        **os.environ,
        "PIPELINES_BASE_URL": host.base_url,
        "PIPELINES_RESOURCE_GROUP": "rg",
        "PIPELINES_WORKSPACE": "ws1",
    }

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "pipelines", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    # GIVEN the example's data folder
    # WHEN it is uploaded and registered from the command line
    uploaded = json.loads(
        cli("datastore", "upload", "workspaceblobstore", str(EXAMPLE / "data"), "--target-path", "cli")
    )
    registered = json.loads(cli("dataset", "register", "cli_full", "--path", "cli/full.csv"))
    # THEN the files are there, and the dataset reads back by name and by id
    assert sorted(uploaded["Uploaded"]) == ["cli/full.csv", "cli/train.csv"]
    assert json.loads(cli("dataset", "show", "--name", "cli_full"))["Id"] == registered["Id"]
    assert json.loads(cli("dataset", "show", registered["Id"]))["Paths"][0]["RelativePath"] == "cli/full.csv"
    assert [s["Name"] for s in json.loads(cli("datastore", "list"))] == ["workspaceblobstore"]
    refused = subprocess.run(
        [sys.executable, "-m", "pipelines", "dataset", "register", "cli_full", "--path", "cli/full.csv"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1 and "409" in refused.stderr
    # AND the example, published from the command line, runs with its scoring data swapped by id
    cli("dataset", "register", "train", "--path", "cli/train.csv")
    cli("dataset", "register", "full", "--path", "cli/full.csv")
    published = json.loads(cli("publish", "examples/batch_scoring", "--name", "batch"))
    submitted = subprocess.run(
        [sys.executable, "-m", "pipelines", "run", "submit", "--pipeline-id", published["Id"],
         "--dataset", f"scoring_data={registered['Id']}", "--wait"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert submitted.returncode == 0, submitted.stderr
    run = json.loads(submitted.stdout)
    assert run["DataSetDefinitionValueAssignments"]["scoring_data"]["DataSetReference"]["Name"] == "cli_full"
    assert "dataset cli_full v1" in cli("run", "logs", run["Id"], "score")


def test_datastores_are_listed_in_pages_with_the_built_in_first(service) -> None:
    # GIVEN two registered datastores
    for name in ("b_store", "a_store"):
        assert (
            service.put(
                f"/Datastores/{name}", json={"ContainerName": "paged-data", "CreateIfNotExists": True}
            ).status_code
            == 200
        )
    # WHEN listed one at a time
    names, token_ = [], None
    while True:
        page = service.get(
            "/Datastores", params={"top": "1", **({"continuationToken": token_} if token_ else {})}
        )
        assert len(page.json()) <= 1
        names += [s["Name"] for s in page.json()]
        token_ = page.headers.get("x-ms-continuation")
        if not token_:
            break
    # THEN every one comes once, the built-in first
    assert names == ["workspaceblobstore", "a_store", "b_store"]
