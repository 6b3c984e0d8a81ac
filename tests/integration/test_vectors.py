"""The request bodies real clients send (tests/data/vectors), posted byte for byte.

Each goes to a pipeline whose parameters match, with the headers its client
sends; each answer must parse as `expected-run-entity.json` does and the run
must finish. The data-swap vectors need registered data: tests/integration/test_data*.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.client import PipelineEndpoint, Workspace, publish
from tests import pipelines_for_tests as make
from tests.service import VECTORS, Service, token

EXPECTED = json.loads((VECTORS / "expected-run-entity.json").read_text())

# vector file → (parameters of the pipeline it needs, extra headers its client sends, via endpoint?)
CASES: dict[str, tuple[dict[str, object], dict[str, str], bool]] = {
    "python-guide.json": ({"pipeline_arg": 10}, {"Content-Type": "application/json"}, False),
    "java-sample.txt": ({"pipeline_arg": 10}, {}, False),
    "csharp-sample.json": (
        {"your-pipeline-parameter": "x"}, {"Content-Type": "application/json; charset=utf-8"}, False
    ),
    "sdk-v1.json": (
        {"pipeline_arg": 10, "flag": False}, {"Content-Type": "application/json-patch+json; charset=utf-8"}, False
    ),
    "endpoint-guide.json": ({"1": "a", "2": "b"}, {"Content-Type": "application/json"}, True),
    "empty.json": ({"pipeline_arg": 10}, {"Content-Type": "application/json"}, False),
    "devops-task.json": ({"pipeline_arg": 10}, {"Content-Type": "application/json"}, False),
}
FREE_MAPS = {"ParameterAssignments", "DataSetDefinitionValueAssignments", "tags", "Properties"}
DATA_VECTORS = {"datapath-swap.json", "dataset-swap.json"}


def test_every_vector_has_a_case() -> None:
    files = {p.name for p in VECTORS.iterdir() if p.suffix in (".json", ".txt")} - {"expected-run-entity.json"}
    assert files == set(CASES) | DATA_VECTORS


def same_shape(actual: Any, expected: Any, path: str = "$") -> None:
    """Every key of the expected entity is there, with a value of the same JSON type."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        if path.rsplit(".", 1)[-1] in FREE_MAPS:
            return  # maps of names chosen by the caller: only their type is fixed
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing"
            if value is not None:
                same_shape(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, bool):
        assert isinstance(actual, bool), path
    elif isinstance(expected, int):
        assert isinstance(actual, int) and not isinstance(actual, bool), path
    elif isinstance(expected, str):
        assert isinstance(actual, str), path


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_vector_is_accepted_and_answered_in_the_old_shape(host, tmp_path: Path, name: str) -> None:
    parameters, headers, via_endpoint = CASES[name]
    service = Service(host.base_url)
    workspace = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
    published = publish(workspace, make.parameters_echo(tmp_path / "code", parameters), "My_Pipeline")
    raw = (VECTORS / name).read_bytes()
    if via_endpoint:
        endpoint = PipelineEndpoint.publish(workspace, "guide-endpoint", None, published)
        url = f"{service.ws}/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint.id}"
    else:
        url = f"{service.ws}/PipelineRuns/PipelineSubmit/{published.id}"
    # the Java sample sends `Token <jwt>` and no Content-Type
    scheme = "Token" if name == "java-sample.txt" else "Bearer"
    response = httpx.post(url, content=raw, headers={"Authorization": f"{scheme} {token()}", **headers}, timeout=60)
    assert response.status_code == 200, response.text
    entity = response.json()
    same_shape(entity, EXPECTED)
    sent = json.loads(raw)
    for key, value in sent.get("ParameterAssignments", {}).items():
        assert entity["ParameterAssignments"][key] == str(value)
    assert "redacted" not in response.text  # AzDevOpsCallBackInfo.AuthToken is never echoed
    final = service.wait_run(entity["Id"])
    assert final["Status"]["StatusCode"] == 3, final
    same_shape(final, EXPECTED)
    [node] = service.steps(entity["Id"])
    log = service.log(entity["Id"], node)
    for value in sent.get("ParameterAssignments", {}).values():
        assert f"arg {value}" in log
