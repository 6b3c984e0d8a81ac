"""The Python client called the way SDK v1 code calls it (docs/sdk-v1.md): the names and
argument orders migrating code still uses work, and what has no counterpart says so."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from pipelines.client import (
    Experiment,
    PipelineEndpoint,
    PipelineFolderError,
    PipelineRun,
    PublishedPipeline,
    Workspace,
    load_pipeline,
)
from pipelines.errors import PipelinesError
from tests.service import ROOT

EXAMPLE = ROOT / "examples" / "compare"


def test_workspace_takes_sdk_v1s_constructor_and_config_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINES_BASE_URL", "http://127.0.0.1:7999")
    # positional, as Workspace(subscription_id, resource_group, workspace_name)
    positional = Workspace("1111", "rg-ml", "ml-ws")
    assert (positional.base_url, positional.subscription_id, positional.resource_group, positional.name) == (
        "http://127.0.0.1:7999", "1111", "rg-ml", "ml-ws")
    keywords = Workspace(subscription_id="1111", resource_group="rg-ml", workspace_name="ml-ws", auth=object())
    assert keywords.name == "ml-ws" and keywords.url == positional.url
    assert Workspace(base_url="http://h:1", name="w").url.startswith("http://h:1/pipelines/v1.0/")
    # config.json as SDK v1 wrote it, found from a folder below it
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.json").write_text(json.dumps(
        {"subscription_id": "2222", "resource_group": "rg2", "workspace_name": "ws2"}))
    (tmp_path / "deep" / "er").mkdir(parents=True)
    found = Workspace.from_config(tmp_path / "deep" / "er")
    assert (found.subscription_id, found.resource_group, found.name) == ("2222", "rg2", "ws2")
    assert found.base_url == "http://127.0.0.1:7999"
    assert Workspace.get("ws3", subscription_id="3333", resource_group="rg3").name == "ws3"
    with pytest.raises(PipelinesError, match="no config.json"):
        Workspace.from_config(Path(tempfile.mkdtemp()))


def test_publishing_and_submitting_with_sdk_v1s_arguments(host, tmp_path: Path) -> None:
    workspace = Workspace.from_env(base_url=host.base_url, name="ws1")
    pipeline = load_pipeline(EXAMPLE)
    # SDK v1: pipeline.publish(name, description, version, continue_on_step_failure)
    published = pipeline.publish("Compare", "the example", "1.0", workspace=workspace)
    assert isinstance(published, PublishedPipeline) and published.version == "1.0"
    # SDK v1: published_pipeline.submit(workspace, experiment_name, pipeline_parameters)
    run = published.submit(workspace, "sdk-v1", {"pipeline_arg": 11})
    assert run.entity["RunHistoryExperimentName"] == "sdk-v1"
    assert run.entity["ParameterAssignments"] == {"pipeline_arg": "11"}
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == "Finished"
    # SDK v1: PipelineEndpoint.publish(...) and endpoint.submit(experiment, params, parent_run_id, version)
    endpoint = PipelineEndpoint.publish(workspace, "cmp", "desc", published)
    again = endpoint.submit("sdk-v1", {"pipeline_arg": 12}, None, "0")
    assert again.entity["PipelineVersion"] == "0"
    # SDK v1: Experiment(ws, name).submit(published_pipeline, pipeline_parameters=...)
    third = Experiment(workspace, "sdk-v1").submit(published, pipeline_parameters={"pipeline_arg": 13})
    assert third.entity["ParameterAssignments"] == {"pipeline_arg": "13"}
    with pytest.raises(PipelinesError, match="publish it first"):
        Experiment(workspace, "sdk-v1").submit(pipeline)
    # SDK v1: PipelineRun(experiment, run_id), its step runs, their logs and outputs
    pipeline_run = PipelineRun(Experiment(workspace, "sdk-v1"), run.id)
    assert pipeline_run.get_status() == "Finished"
    [step] = pipeline_run.get_steps()
    assert "param1: 11" in step.get_stdout_log() and step.get_stderr_log() == step.get_log("STDERR")
    output = step.get_output_data("output_data")
    assert output.datastore_name and output.path_on_datastore
    assert [p.id for p in PublishedPipeline.get_all(workspace)] == [published.id]
    assert [e.name for e in PipelineEndpoint.get_all(workspace)] == ["cmp"]


def test_load_pipeline_errors_name_the_file_and_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "returns").mkdir()
    (tmp_path / "returns" / "pipeline.py").write_text("def build():\n    return 42\n")
    with pytest.raises(PipelineFolderError, match=r"build\(\) returned int, not a pipelines.authoring.Pipeline"):
        load_pipeline(tmp_path / "returns")
    (tmp_path / "imports").mkdir()
    (tmp_path / "imports" / "pipeline.py").write_text("import azureml.core\n")
    with pytest.raises(PipelineFolderError, match="importing it raised ModuleNotFoundError"):
        load_pipeline(tmp_path / "imports")
    # a pipeline.py may import its neighbours, as when run as `python pipeline.py` there
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "steps_here.py").write_text("NAME = 'from-a-neighbour'\n")
    (tmp_path / "helpers" / "run.py").write_text("print('x')\n")
    (tmp_path / "helpers" / "pipeline.py").write_text(
        "from steps_here import NAME\n"
        "from pipelines.authoring import Pipeline, PythonScriptStep\n"
        "def build():\n"
        "    return Pipeline(steps=[PythonScriptStep('run.py', name=NAME, source_directory='.')])\n")
    built = load_pipeline(tmp_path / "helpers")
    assert [s.name for s in built.steps] == ["from-a-neighbour"]
    assert built.steps[0].source_directory == (tmp_path / "helpers").resolve()
