"""The command line against the running local host, as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.service import ROOT


def cli(host, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINES_")}
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args, "--base-url", host.base_url, "--workspace", "ws1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
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
    # a disabled pipeline refuses runs: the error goes to stderr, exit 1
    assert json.loads(cli(host, "pipeline", "disable", entity["Id"]).stdout)["EntityStatus"] == 2
    refused = cli(host, "run", "submit", "--pipeline-id", entity["Id"])
    assert refused.returncode == 1 and "EntityDisabled" in refused.stderr and refused.stdout == ""


def test_every_command_has_help() -> None:
    for command in (["publish"], ["pipeline", "list"], ["endpoint", "add"], ["endpoint", "set-default"],
                    ["run", "submit"], ["run", "logs"], ["token"]):
        result = subprocess.run([sys.executable, "-m", "pipelines", *command, "--help"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "usage:" in result.stdout, command
