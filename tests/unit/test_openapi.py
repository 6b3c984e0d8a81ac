"""openapi.json: current with the route table, complete, valid OpenAPI 3.1, every reference resolvable."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from pipelines.api import answers, bodies, openapi, triggers
from pipelines.api.http import error_body
from pipelines.api.routes import DOCUMENTED, HANDLER_MODULES, Route
from pipelines.auth.permissions import Permission
from pipelines.errors import ErrorDetail, InvalidParameterError
from pipelines.runs.devops import BODY_KEY
from pipelines.runs.request import SUBMIT_KEYS
from pipelines.runs.template import RunTemplate
from pipelines.triggers.model import Trigger


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi.document()


def expected_paths(template: str) -> list[str]:
    """`{version?}` is two paths (without and with the segment); `{*path}` is `{path}`."""
    path = "/" + re.sub(r"\{\*(\w+)\}", r"{\1}", template)
    optional = re.findall(r"\{(\w+)\?\}", path)
    if not optional:
        return [path]
    name = optional[0]
    return [path.replace(f"/{{{name}?}}", ""), path.replace(f"{{{name}?}}", f"{{{name}}}")]


def resolve(doc: dict[str, Any], pointer: str) -> Any:
    assert pointer.startswith("#/"), pointer
    node: Any = doc
    for part in pointer[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{pointer} does not resolve"
        node = node[part]
    return node


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in references(value)]
    if isinstance(node, list):
        return [r for item in node for r in references(item)]
    return []


def test_the_committed_file_is_what_the_route_table_generates() -> None:
    committed = openapi.OPENAPI_PATH.read_text(encoding="utf-8")
    assert committed == openapi.render(), "openapi.json is stale: run python -m pipelines.api.openapi"
    assert openapi.main(["--check"]) == 0


def test_check_fails_on_a_stale_file_and_writing_fixes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(openapi, "OPENAPI_PATH", stale)
    assert openapi.main(["--check"]) == 1
    assert openapi.main([]) == 0
    assert openapi.main(["--check"]) == 0


@pytest.mark.parametrize("route", list(DOCUMENTED.values()), ids=lambda r: r.name)
def test_every_route_is_documented_with_its_role(doc: dict[str, Any], route: Route) -> None:
    anonymous = route.permission is Permission.ANONYMOUS
    for path in expected_paths(route.template):
        for method in route.methods:
            operation = doc["paths"].get(path, {}).get(method.lower())
            assert operation is not None, f"{method} {path} ({route.name}) is not documented"
            assert operation["x-required-role"] == route.permission.value
            assert all(needed.value in operation["description"] for needed in route.needs)
            assert operation["security"] == ([] if anonymous else [{"bearer": [n.value for n in route.needs]}])
            parameters = [resolve(doc, p["$ref"]) if "$ref" in p else p for p in operation["parameters"]]
            in_path = {p["name"] for p in parameters if p["in"] == "path"}
            assert in_path == set(re.findall(r"\{(\w+)\}", path))
            assert "200" in operation["responses"]
            if not anonymous:
                for status in ("400", "401", "403", "500"):
                    assert status in operation["responses"], f"{route.name} lacks {status}"


def test_no_operation_is_documented_that_the_route_table_lacks(doc: dict[str, Any]) -> None:
    expected = {
        (method.lower(), path)
        for route in DOCUMENTED.values()
        for path in expected_paths(route.template)
        for method in route.methods
    }
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert documented == expected
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    assert [server["url"] for server in doc["servers"]] == ["http://127.0.0.1:7071"]
    validate(doc)
    validate(json.loads(openapi.OPENAPI_PATH.read_text(encoding="utf-8")))


def test_every_reference_resolves(doc: dict[str, Any]) -> None:
    found = references(doc)
    assert len(found) > 100
    for pointer in set(found):
        resolve(doc, pointer)


@pytest.mark.parametrize("route", list(DOCUMENTED.values()), ids=lambda r: r.name)
def test_paged_routes_document_paging(doc: dict[str, Any], route: Route) -> None:
    """A handler that pages (page_request) documents BatchSize, top, continuationToken, x-ms-continuation."""
    handler = getattr(importlib.import_module(HANDLER_MODULES[route.name]), route.name)
    pages = "page_request(" in inspect.getsource(handler)
    for path in expected_paths(route.template):
        for method in route.methods:
            operation = doc["paths"][path][method.lower()]
            refs = {p.get("$ref", "").rsplit("/", 1)[-1] for p in operation["parameters"]}
            assert ({"BatchSize", "top", "continuationToken"} <= refs) == pages
            assert ("x-ms-continuation" in operation["responses"]["200"]["headers"]) == pages
            if pages:
                answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
                assert answer["type"] == "array"


def schema_validator(doc: dict[str, Any], name: str) -> Draft202012Validator:
    root = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return Draft202012Validator(root)


def test_the_error_schema_matches_the_error_mapper(doc: dict[str, Any]) -> None:
    detail = ErrorDetail("InvalidParameter", "no such parameter", "x")
    error = InvalidParameterError("bad", target="x", details=[detail])
    body = error_body(error, "req-1")
    schema_validator(doc, "Error").validate(body)
    assert set(doc["components"]["schemas"]["Error"]["required"]) == set(body)


def test_the_error_model_is_what_the_error_mapper_writes() -> None:
    detail = ErrorDetail("InvalidParameter", "no such parameter", "x")
    body = error_body(InvalidParameterError("bad", target="x", details=[detail]), "req-1")
    assert answers.Error.model_validate(body).model_dump(mode="json") == body


def test_the_submit_model_names_every_key_the_submit_reads() -> None:
    # AzDevOpsCallBackInfo: read by the submit routes beside the request (pipelines/runs/devops.py)
    read_keys = [*SUBMIT_KEYS, BODY_KEY]
    assert sorted(f.alias or "" for f in bodies.SubmitRequest.model_fields.values()) == sorted(read_keys)
    read = bodies.SubmitRequest.model_validate({"ParameterAssignments": {"n": 20, "f": 2.5, "s": "20", "b": True}})
    assert read.parameter_assignments == {"n": 20, "f": 2.5, "s": "20", "b": True}
    assert [type(v) for v in read.parameter_assignments.values()] == [int, float, str, bool]  # 20 stays 20


BODIES: list[tuple[str, Any]] = [
    ("SubmitRequest", {}),
    ("SubmitRequest", {
        "ExperimentName": "e", "RunType": 1, "ParameterAssignments": {"n": 20, "s": "x"}, "Tags": {"a": 1, "b": None},
        "DataPathAssignments": {"p": {"DataStoreName": "s", "RelativePath": "r"}},
        "DataSetDefinitionValueAssignments": {
            "d": {"SavedDataSetReference": {"Id": "i"}}, "e": {"DataSetReference": {"Name": "n", "Version": 1}},
            "p": {"LiteralValue": {"DataStoreName": "s", "RelativePath": "r"}}},
        "ContinueRunOnStepFailure": "true", "AzDevOpsCallBackInfo": {"x": 1}}),
    ("PipelineStatusRequest", "Disabled"),
    ("PipelineStatusRequest", 2),
    ("PipelineStatusRequest", {"EntityStatus": "Active"}),
    ("CreateEndpointRequest", {"Name": "ep", "PipelineId": "p", "tags": {"a": "b"}}),
    ("UpdateEndpointRequest", {"Description": None, "EntityStatus": 1, "DefaultVersion": 3,
                               "PipelineVersionList": [{"PipelineId": "p"}, {"Version": 3, "PipelineId": "q"}]}),
    ("NodeIdPath", ["n"]),
    ("NodeIdPath", "n"),
    ("DatastoreRequest", {"Name": "s", "ContainerName": "data", "Overwrite": "true", "CreateIfNotExists": False}),
    ("DatasetRequest", {"Name": "d", "DatasetType": "Tabular", "Separator": ";",
                        "Paths": [{"DataStoreName": "s", "RelativePath": "in/*.csv"}]}),
    ("DatasetRequest", {"Name": "d", "DatasetType": "File", "Paths": {"DataStoreName": "s", "RelativePath": "in"}}),
]


@pytest.mark.parametrize(("name", "body"), BODIES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BODIES)])
def test_a_body_fits_its_model_and_its_documented_schema_alike(doc: dict[str, Any], name: str, body: Any) -> None:
    getattr(bodies, name).model_validate(body)
    schema_validator(doc, name).validate(body)


def test_the_trigger_schema_matches_the_handler(doc: dict[str, Any]) -> None:
    trigger = Trigger(workspace="w", name="t", template=RunTemplate(endpoint_name="e"), event_types=["x"])
    entity = triggers.trigger_entity(trigger)
    schema_validator(doc, "EventTriggerEntity").validate(entity)
    assert set(doc["components"]["schemas"]["EventTriggerEntity"]["required"]) == set(entity)
