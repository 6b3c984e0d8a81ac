"""Step reuse and rerun over HTTP, against the local host and Azurite, with real step scripts.

Every script appends its step's name to a marker file when it starts: the file says exactly
which steps ran, so "nothing ran" is a fact, not a status.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pipelines.authoring import (
    DataPath,
    DataPathComputeBinding,
    Pipeline,
    PipelineData,
    PipelineParameter,
    PythonScriptStep,
)
from pipelines.client import PipelineRun, Workspace, publish
from pipelines.devhost.host import DevHost
from tests.pipelines_for_tests import write
from tests.service import ROOT, Service, assert_error, token

FINISHED, FAILED = 3, 2


def chain(folder: Path, marker: Path, length: int = 5, fail_flag: Path | None = None,
          pause: float = 0.0) -> Pipeline:
    """s1 → s2 → ... each writing what it read plus its own line; s3 fails while `fail_flag` exists;
    each step takes `pause` seconds. Every step passes the parameter `salt` (a run with a new salt
    is a new computation)."""
    write(folder, "link.py", """
        p = argparse.ArgumentParser()
        for name in ("--name", "--marker", "--inp", "--out", "--fail-if", "--salt", "--pause"):
            p.add_argument(name)
        a = p.parse_args()
        mark(a.marker, a.name)
        time.sleep(float(a.pause or 0))
        if a.fail_if and pathlib.Path(a.fail_if).exists():
            sys.exit(f"{a.name} fails: {a.fail_if} exists")
        seen = pathlib.Path(a.inp, "value.txt").read_text() if a.inp else ""
        pathlib.Path(a.out, "value.txt").write_text(f"{seen}{a.name} {a.salt}\\n")
    """)
    salt = PipelineParameter("salt", default_value="s")
    outputs = [PipelineData(f"out{i}") for i in range(1, length + 1)]
    steps = []
    for i, output in enumerate(outputs, start=1):
        arguments: list[Any] = ["--name", f"s{i}", "--marker", str(marker), "--out", output, "--salt", salt]
        if pause:
            arguments += ["--pause", str(pause)]
        if fail_flag is not None and i == 3:
            arguments += ["--fail-if", str(fail_flag)]
        inputs = [outputs[i - 2]] if i > 1 else []
        if inputs:
            arguments += ["--inp", inputs[0]]
        steps.append(PythonScriptStep("link.py", name=f"s{i}", arguments=arguments, inputs=inputs,
                                      outputs=[output], source_directory=folder))
    return Pipeline(steps=steps)


def marks(marker: Path) -> list[str]:
    return marker.read_text().split() if marker.exists() else []


def submit(service: Service, pipeline_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = service.post(f"/PipelineRuns/PipelineSubmit/{pipeline_id}", json=body or {})
    assert response.status_code == 200, response.text
    return dict(response.json())


def by_name(service: Service, run_id: str) -> dict[str, dict[str, Any]]:
    return {s["Name"]: {**s, "NodeId": node} for node, s in service.steps(run_id).items()}


def output_text(service: Service, run_id: str, node_id: str, output: str) -> tuple[str, str]:
    """(the output's Hash, its value.txt) read through the run's own routes."""
    answer = service.post(f"/PipelineRuns/{run_id}/Outputs", json=[node_id]).json()[output]
    listing = service.get(answer["DataLocation"]["DataReference"]["AzureBlobReference"]["Uri"]).json()
    [file] = listing["Files"]
    return answer["Hash"], service.get(file["Url"]).text


# -- a second identical submit ------------------------------------------------------------------------
def test_a_second_identical_submit_reuses_every_step_and_starts_no_process(service, workspace, tmp_path) -> None:
    # GIVEN a five-step chain that ran once
    marker = tmp_path / "marks.txt"
    published = publish(workspace, chain(tmp_path / "code", marker), "reuse-chain")
    first = submit(service, published.id)
    assert service.wait_run(first["Id"])["Status"]["StatusCode"] == FINISHED
    assert marks(marker) == ["s1", "s2", "s3", "s4", "s5"]
    # WHEN the same request is submitted again
    second = submit(service, published.id)
    # THEN the run is Finished in the submit's own answer: no step was queued, no process started
    assert second["Status"]["StatusCode"] == FINISHED and second["Status"]["EndTime"] is not None
    assert second["ReusedStepCount"] == 5 and second["RerunOf"] is None
    assert marks(marker) == ["s1", "s2", "s3", "s4", "s5"]
    # AND every step says whose outputs it took, and took no time and no attempt
    earlier, steps = by_name(service, first["Id"]), by_name(service, second["Id"])
    for name, step in steps.items():
        source = earlier[name]
        assert step["StatusCode"] == 4 and step["Attempts"] == [] and step["StartTime"] == step["EndTime"]
        assert step["ReuseInfo"] == {
            "ExperimentId": step["ReuseInfo"]["ExperimentId"], "NodeId": source["NodeId"], "RequestId": None,
            "RunId": f"{first['Id']}_{source['NodeId']}", "NodeStartTime": source["StartTime"],
            "NodeEndTime": source["EndTime"], "PipelineRunId": first["Id"],
        }
        assert step["ReuseInfo"]["ExperimentId"]
        assert "reused the outputs" in step["StatusDetail"]
    # AND its outputs are the first run's, read through its own routes
    assert output_text(service, second["Id"], steps["s5"]["NodeId"], "out5") == \
        output_text(service, first["Id"], earlier["s5"]["NodeId"], "out5")
    assert output_text(service, second["Id"], steps["s5"]["NodeId"], "out5")[1].split("\n")[0] == "s1 s"
    # AND the history family says so too
    details = service.get(f"{service.hs}/runs/{second['Id']}_{steps['s2']['NodeId']}/details").json()
    assert details["status"] == "Completed"
    assert details["properties"]["azureml.reusedrunid"] == f"{first['Id']}_{earlier['s2']['NodeId']}"
    assert details["properties"]["azureml.reusedpipelinerunid"] == first["Id"]
    # WHEN the submit asks for RegenerateOutputs
    third = submit(service, published.id, {"RegenerateOutputs": True})
    # THEN every step runs again, and says it took nothing
    assert service.wait_run(third["Id"])["Status"]["StatusCode"] == FINISHED
    assert marks(marker) == ["s1", "s2", "s3", "s4", "s5"] * 2
    assert all(s["ReuseInfo"] is None for s in service.steps(third["Id"]).values())
    # AND a later plain submit still reuses (the first execution's outputs, which never changed)
    fourth = submit(service, published.id)
    assert fourth["Status"]["StatusCode"] == FINISHED and len(marks(marker)) == 10


# -- new bytes in one input file ------------------------------------------------------------------------
def data_pipeline(folder: Path, marker: Path) -> Pipeline:
    """x reads datapath d1, y reads datapath d2, z reads x's and y's outputs; w (allow_reuse=False)
    stands alone."""
    write(folder, "copy.py", """
        p = argparse.ArgumentParser()
        for name in ("--name", "--marker", "--out"):
            p.add_argument(name)
        p.add_argument("--inp", action="append", default=[])
        a = p.parse_args()
        mark(a.marker, a.name)
        text = "".join(pathlib.Path(f).read_text() if pathlib.Path(f).is_file()
                       else "".join(x.read_text() for x in sorted(pathlib.Path(f).rglob("*")) if x.is_file())
                       for f in a.inp)
        pathlib.Path(a.out, "value.txt").write_text(text + a.name)
    """)
    d1 = PipelineParameter("d1", DataPath("workspaceblobstore", "reuse/one.txt"))
    d2 = PipelineParameter("d2", DataPath("workspaceblobstore", "reuse/two.txt"))
    out_x, out_y, out_z, out_w = (PipelineData(f"out_{n}") for n in "xyzw")

    def step(name: str, inputs: list[Any], output: PipelineData, **options: Any) -> PythonScriptStep:
        arguments: list[Any] = ["--name", name, "--marker", str(marker), "--out", output]
        for item in inputs:
            arguments += ["--inp", item]
        data = [item for item in inputs if isinstance(item, PipelineData)]
        return PythonScriptStep("copy.py", name=name, arguments=arguments, inputs=data, outputs=[output],
                                source_directory=folder, **options)

    return Pipeline(steps=[
        step("x", [(d1, DataPathComputeBinding())], out_x),
        step("y", [(d2, DataPathComputeBinding())], out_y),
        step("z", [out_x, out_y], out_z),
        step("w", [], out_w, allow_reuse=False),
    ])


def upload(service: Service, path: str, text: str) -> None:
    response = service.put(f"/Datastores/workspaceblobstore/files/{path}", params={"overwrite": "true"},
                           content=text.encode())
    assert response.status_code == 200, response.text


def test_new_bytes_in_one_input_file_run_exactly_the_steps_downstream_of_it(service, workspace, tmp_path) -> None:
    # GIVEN two input files, and a run that read them
    marker = tmp_path / "marks.txt"
    upload(service, "reuse/one.txt", "one ")
    upload(service, "reuse/two.txt", "two ")
    published = publish(workspace, data_pipeline(tmp_path / "code", marker), "reuse-data")
    first = submit(service, published.id)
    assert service.wait_run(first["Id"])["Status"]["StatusCode"] == FINISHED
    assert sorted(marks(marker)) == ["w", "x", "y", "z"]
    # WHEN nothing changed: only the step that declares allow_reuse=False runs
    second = submit(service, published.id)
    assert service.wait_run(second["Id"])["Status"]["StatusCode"] == FINISHED
    assert sorted(marks(marker)[4:]) == ["w"]
    assert second["ReusedStepCount"] == 3
    # WHEN the second file gets new bytes
    upload(service, "reuse/two.txt", "TWO ")
    third = submit(service, published.id)
    assert service.wait_run(third["Id"])["Status"]["StatusCode"] == FINISHED
    # THEN the step reading it and the step downstream of it run; the other is reused
    assert sorted(marks(marker)[5:]) == ["w", "y", "z"]
    steps = by_name(service, third["Id"])
    assert steps["x"]["ReuseInfo"]["PipelineRunId"] == first["Id"]
    assert steps["y"]["ReuseInfo"] is None and steps["z"]["ReuseInfo"] is None
    assert output_text(service, third["Id"], steps["z"]["NodeId"], "out_z")[1] == "one xTWO yz"
    # AND an earlier run's outputs are what that run recorded
    earlier = by_name(service, first["Id"])["z"]["NodeId"]
    assert output_text(service, first["Id"], earlier, "out_z")[1] == "one xtwo yz"


# -- rerun ----------------------------------------------------------------------------------------------
def cli(host: DevHost, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args, "--base-url", host.base_url, "--workspace", "ws1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def test_a_rerun_after_a_failure_in_step_3_of_5_runs_steps_3_to_5(host, service, workspace, tmp_path) -> None:
    # GIVEN a five-step run whose third step failed
    marker, flag = tmp_path / "marks.txt", tmp_path / "fail-now"
    flag.write_text("x")
    published = publish(workspace, chain(tmp_path / "code", marker, fail_flag=flag), "reuse-rerun")
    first = submit(service, published.id, {"Tags": {"team": "a"}, "ExperimentName": "reruns"})
    assert service.wait_run(first["Id"])["Status"]["StatusCode"] == FAILED
    assert marks(marker) == ["s1", "s2", "s3"]
    # WHEN the cause is gone and the run is rerun
    flag.unlink()
    response = service.post(f"/PipelineRuns/{first['Id']}/Rerun")
    # THEN the new run names the first, keeps its request, and took the two finished steps
    assert response.status_code == 200, response.text
    again = response.json()
    assert again["RerunOf"] == first["Id"] and again["ReusedStepCount"] == 2
    assert (again["RunHistoryExperimentName"], again["tags"], again["PipelineId"]) == ("reruns", {"team": "a"},
                                                                                      published.id)
    assert service.wait_run(again["Id"])["Status"]["StatusCode"] == FINISHED
    # AND only steps 3 to 5 ran
    assert marks(marker)[3:] == ["s3", "s4", "s5"]
    steps = by_name(service, again["Id"])
    assert [steps[n]["ReuseInfo"]["PipelineRunId"] for n in ("s1", "s2")] == [first["Id"]] * 2
    assert all(steps[n]["ReuseInfo"] is None for n in ("s3", "s4", "s5"))
    history = service.get(f"{service.hs}/runs/{again['Id']}").json()
    assert history["properties"]["rerunOf"] == first["Id"]
    # WHEN it is rerun from the client with a parameter changed
    changed = PipelineRun.get(workspace, again["Id"]).rerun({"salt": "t"})
    # THEN every step sees the new value: every step's key changed, every step runs
    assert changed.entity["RerunOf"] == again["Id"] and changed.entity["ParameterAssignments"]["salt"] == "t"
    assert changed.wait_for_completion(show_output=False, poll_seconds=0.2) == "Finished"
    assert marks(marker)[6:] == ["s1", "s2", "s3", "s4", "s5"]
    # WHEN the command line reruns the first run: what it finished and what the reruns finished is taken
    shown = cli(host, "run", "rerun", first["Id"], "--wait", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["ReusedStepCount"] == 5 and len(marks(marker)) == 11
    # AND `run show` and `run steps` say what was reused, and from which run
    rerun_id = json.loads(shown.stdout)["Id"]
    assert "5 of 5 steps" in cli(host, "run", "show", rerun_id, "-o", "table").stdout
    table = cli(host, "run", "steps", rerun_id, "-o", "table").stdout
    assert table.count("reused the outputs") == 5 and first["Id"] in table, table
    logs = cli(host, "run", "logs", rerun_id, "s1")
    assert logs.returncode == 0 and f"pipelines run logs {first['Id']} " in logs.stderr, logs.stderr


def test_a_rerun_refuses_what_a_submit_refuses(service, workspace, tmp_path) -> None:
    published = publish(workspace, chain(tmp_path / "code", tmp_path / "marks.txt", length=1), "reuse-refusals")
    run_id = submit(service, published.id)["Id"]
    assert_error(service.post("/PipelineRuns/00000000-0000-0000-0000-000000000000/Rerun"), 404, "NotFound")
    body = assert_error(service.post(f"/PipelineRuns/{run_id}/Rerun", json={"ParameterAssignments": {"nope": 1}}),
                        400)
    assert body["Error"]["Target"] == "ParameterAssignments.nope"
    assert_error(service.post(f"/PipelineRuns/{run_id}/Rerun", json=["x"]), 400)
    assert_error(service.post(f"/PipelineRuns/{run_id}/Rerun", json={"ParamAssignments": {}}), 400)
    assert_error(service.post(f"/PipelineRuns/{run_id}/Rerun", roles=["Pipelines.Read"]), 403, "Forbidden")


# -- two runs reaching one key at once ------------------------------------------------------------------------
def test_concurrent_identical_submits_run_each_step_once(service, workspace, tmp_path) -> None:
    # GIVEN a chain nothing has run yet
    marker = tmp_path / "marks.txt"
    published = publish(workspace, chain(tmp_path / "code", marker, length=3, pause=1.0), "reuse-race")
    body = {"ParameterAssignments": {"salt": secrets.token_hex(4)}}
    # WHEN two identical requests are submitted at the same moment
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: submit(service, published.id, body), range(2)))
    # THEN neither finds anything to take when it is created; while they go, one waits for the other
    assert [run["ReusedStepCount"] for run in runs] == [0, 0]
    details: set[str] = set()
    deadline = time.monotonic() + 90
    while any(service.get(f"/PipelineRuns/{run['Id']}").json()["Status"]["StatusCode"] not in (2, 3, 4)
              for run in runs):
        assert time.monotonic() < deadline, [service.steps(run["Id"]) for run in runs]
        details |= {str(s["StatusDetail"]) for run in runs for s in service.steps(run["Id"]).values()}
        time.sleep(0.1)
    assert any("computing the same outputs" in detail for detail in details), details
    assert all(service.wait_run(run["Id"])["Status"]["StatusCode"] == FINISHED for run in runs)
    # AND each step ran once
    assert sorted(marks(marker)) == ["s1", "s2", "s3"]
    # AND for each step, one run executed it and the other took its outputs
    steps = [by_name(service, run["Id"]) for run in runs]
    for name in ("s1", "s2", "s3"):
        infos = [s[name]["ReuseInfo"] for s in steps]
        assert sorted(info is None for info in infos) == [False, True], infos
        taken = next(info for info in infos if info is not None)
        ran = next(i for i, info in enumerate(infos) if info is None)
        assert taken["PipelineRunId"] == runs[ran]["Id"]
    # AND both runs' last outputs hold the same bytes
    hashes = {output_text(service, run["Id"], s["s3"]["NodeId"], "out3")[0] for run, s in zip(runs, steps,
                                                                                             strict=True)}
    assert len(hashes) == 1


def test_reuse_is_per_workspace(host, service, workspace, tmp_path) -> None:
    # GIVEN a chain run in ws1
    marker = tmp_path / "marks.txt"
    pipeline = chain(tmp_path / "code", marker, length=1)
    first = submit(service, publish(workspace, pipeline, "reuse-ws").id)
    assert service.wait_run(first["Id"])["Status"]["StatusCode"] == FINISHED
    # WHEN the same pipeline runs in another workspace
    other = Service(host.base_url, workspace="ws2")
    ws2 = Workspace(base_url=host.base_url, resource_group="rg", name="ws2", token_provider=lambda: token())
    second = submit(other, publish(ws2, pipeline, "reuse-ws").id)
    # THEN it runs: one workspace never takes another's outputs
    assert other.wait_run(second["Id"])["Status"]["StatusCode"] == FINISHED
    assert marks(marker) == ["s1", "s1"]


def test_a_successor_whose_inputs_came_out_the_same_is_taken_from_the_earlier_run_at_the_hand_off(
    service, workspace, tmp_path
) -> None:
    # GIVEN a → b, each with a code folder of its own
    marker = tmp_path / "marks.txt"
    body = """
        p = argparse.ArgumentParser()
        for name in ("--name", "--marker", "--inp", "--out"):
            p.add_argument(name)
        a = p.parse_args()
        mark(a.marker, a.name)
        seen = pathlib.Path(a.inp, "value.txt").read_text() if a.inp else ""
        pathlib.Path(a.out, "value.txt").write_text(seen + a.name)
    """
    write(tmp_path / "code_a", "step.py", body)
    write(tmp_path / "code_b", "step.py", body)

    def pipeline() -> Pipeline:
        out_a, out_b = PipelineData("out_a"), PipelineData("out_b")
        return Pipeline(steps=[
            PythonScriptStep("step.py", name="a", source_directory=tmp_path / "code_a", outputs=[out_a],
                             arguments=["--name", "a", "--marker", str(marker), "--out", out_a]),
            PythonScriptStep("step.py", name="b", source_directory=tmp_path / "code_b", inputs=[out_a],
                             outputs=[out_b],
                             arguments=["--name", "b", "--marker", str(marker), "--inp", out_a, "--out", out_b]),
        ])

    first = submit(service, publish(workspace, pipeline(), "reuse-hand-off").id)
    assert service.wait_run(first["Id"])["Status"]["StatusCode"] == FINISHED
    # WHEN a's code changes (a comment: its key is new) but not what it writes
    write(tmp_path / "code_a", "step.py", body + "        # the same computation, new code\n")
    second = submit(service, publish(workspace, pipeline(), "reuse-hand-off-2").id)
    assert service.wait_run(second["Id"])["Status"]["StatusCode"] == FINISHED
    # THEN a ran again, and b's key (its parent's output digest among it) was the first run's:
    # the worker that finished a took b from the first run instead of running it
    assert marks(marker) == ["a", "b", "a"]
    steps = by_name(service, second["Id"])
    assert steps["a"]["ReuseInfo"] is None
    assert steps["b"]["ReuseInfo"]["PipelineRunId"] == first["Id"]
    assert output_text(service, second["Id"], steps["b"]["NodeId"], "out_b")[1] == "ab"
