"""Publishing, pipelines and endpoints over HTTP against the local host and Azurite."""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from pipelines.client import (
    PipelineEndpoint,
    PublishedPipeline,
    ServiceError,
    Workspace,
    publish,
    publish_folder,
)
from pipelines.client.publish import load_pipeline
from tests.service import ENDPOINT_KEYS, PIPELINE_KEYS, ROOT, Service, assert_error, assert_keys

EXAMPLE = ROOT / "examples" / "compare"


def test_publish_the_example_read_list_disable_enable(service: Service, workspace: Workspace) -> None:
    # GIVEN the example published through the client
    published = publish(workspace, load_pipeline(EXAMPLE), "My_Published_Pipeline", "the example", "1.0")
    # WHEN it is read back over HTTP
    response = service.get(f"/Pipelines/{published.id}")
    # THEN it is the contract's PipelineEntity
    assert response.status_code == 200
    entity = response.json()
    assert_keys(entity, PIPELINE_KEYS)
    assert entity["Name"] == "My_Published_Pipeline" and entity["Version"] == "1.0"
    assert entity["EntityStatus"] == 0 and isinstance(entity["EntityStatus"], int)
    assert entity["ParameterAssignments"] == {"pipeline_arg": "10"}
    assert entity["TotalRunSteps"] == 1
    assert entity["Url"].endswith(f"/PipelineRuns/PipelineSubmit/{published.id}")
    assert entity["Url"].startswith(service.base_url + "/pipelines/v1.0/subscriptions/")
    # listed while active
    listed = service.get("/Pipelines", params={"activeOnly": "true"}).json()
    assert [p["Id"] for p in listed] == [published.id]
    # disabled: hidden from activeOnly lists, still readable, still in the full list
    assert service.put(f"/Pipelines/{published.id}/status", json="Disabled").json()["EntityStatus"] == 2
    assert service.get("/Pipelines", params={"activeOnly": "true"}).json() == []
    assert [p["Id"] for p in service.get("/Pipelines", params={"activeOnly": "false"}).json()] == [published.id]
    # enabled again
    PublishedPipeline.get(workspace, published.id).enable()
    assert service.get(f"/Pipelines/{published.id}").json()["EntityStatus"] == 0


def test_workspaces_do_not_see_each_other(service: Service, workspace: Workspace) -> None:
    published = publish(workspace, load_pipeline(EXAMPLE), "p", None, "1")
    other = Service(service.base_url, workspace="ws2")
    assert_error(other.get(f"/Pipelines/{published.id}"), 404, "NotFound")
    assert other.get("/Pipelines").json() == []


def test_a_workspace_name_is_read_in_any_case_and_answers_keep_the_callers(
    service: Service, workspace: Workspace
) -> None:
    # GIVEN a pipeline published to ws1
    published = publish(workspace, load_pipeline(EXAMPLE), "p", None, "1")
    # WHEN it is read, listed and run through WS1 (Azure's resource names are read in any case)
    shouting = Service(service.base_url, workspace="WS1")
    entity = shouting.get(f"/Pipelines/{published.id}").json()
    assert [p["Id"] for p in shouting.get("/Pipelines").json()] == [published.id]
    run = shouting.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()
    # THEN it is the same pipeline and run, and the URLs answered name the workspace as sent
    assert "/workspaces/WS1/" in entity["Url"]
    assert service.get(f"/PipelineRuns/{run['Id']}").json()["Id"] == run["Id"]
    assert shouting.get(f"{shouting.hs}/runs/{run['Id']}").json()["runId"] == run["Id"]


def test_endpoint_versions_default_names_and_etags(service: Service, workspace: Workspace) -> None:
    pipeline = load_pipeline(EXAMPLE)
    first, second, third = (publish(workspace, pipeline, f"p{i}", None, f"{i}.0") for i in range(3))
    # GIVEN an endpoint over the first pipeline
    created = service.post("/PipelineEndpoints/Create", json={"Name": "ep", "Description": "d", "PipelineId": first.id})
    assert created.status_code == 200, created.text
    endpoint = created.json()
    assert_keys(endpoint, ENDPOINT_KEYS)
    assert endpoint["DefaultVersion"] == "0"
    assert endpoint["PipelineVersionList"] == [{"Version": "0", "PipelineId": first.id}]
    # WHEN two more versions are added through the client, the last as default
    client = PipelineEndpoint.get(workspace, name="ep")
    client.add(second)
    client.add_default(third)
    # THEN versions are "0", "1", "2", the default is "2", by id and by name alike
    by_id = service.get(f"/PipelineEndpoints/Id/{endpoint['Id']}").json()
    by_name = service.get("/PipelineEndpoints/Name", params={"Name": "ep"}).json()
    assert by_id == by_name
    assert [v["Version"] for v in by_id["PipelineVersionList"]] == ["0", "1", "2"]
    assert by_id["DefaultVersion"] == "2"
    assert [p["Id"] for p in service.get(f"/PipelineEndpoints/{endpoint['Id']}/pipelines").json()] == [
        first.id, second.id, third.id,
    ]
    # set the default with a PUT of the whole entity
    body = dict(by_id, DefaultVersion="1")
    updated = service.put(f"/PipelineEndpoints/{endpoint['Id']}", json=body)
    assert updated.status_code == 200 and updated.json()["DefaultVersion"] == "1"
    # the same body again: its Etag is stale now → 412
    assert_error(service.put(f"/PipelineEndpoints/{endpoint['Id']}", json=body), 412, "PreconditionFailed")
    # a default that is not a version → 400
    fresh = service.get(f"/PipelineEndpoints/Id/{endpoint['Id']}").json()
    assert_error(service.put(f"/PipelineEndpoints/{endpoint['Id']}", json=dict(fresh, DefaultVersion="7")), 400)
    # renamed: the old name is free, the new one found
    renamed = service.put(f"/PipelineEndpoints/{endpoint['Id']}", json=dict(fresh, Name="ep2"))
    assert renamed.status_code == 200
    assert_error(service.get("/PipelineEndpoints/Name", params={"Name": "ep"}), 404, "NotFound")
    assert service.get("/PipelineEndpoints/Name", params={"Name": "ep2"}).json()["Id"] == endpoint["Id"]
    # disabled: out of the active list; archived (Deprecated) likewise; reactivated back
    client = PipelineEndpoint.get(workspace, id=endpoint["Id"])
    client.disable()
    assert service.get("/PipelineEndpoints").json() == []
    client.archive()
    assert service.get(f"/PipelineEndpoints/Id/{endpoint['Id']}").json()["EntityStatus"] == 1
    client.reactivate()
    assert [e["Id"] for e in service.get("/PipelineEndpoints").json()] == [endpoint["Id"]]


def test_an_endpoints_swagger_url_describes_the_submit_of_its_default_version(
    service: Service, workspace: Workspace
) -> None:
    first, second = (publish(workspace, load_pipeline(EXAMPLE), "swagger-p", None, f"{i}.0") for i in range(2))
    endpoint = PipelineEndpoint.publish(workspace, "swagger-ep", "described", first)
    endpoint.add_default(second)
    entity = service.get(f"/PipelineEndpoints/Id/{endpoint.id}").json()
    # GIVEN its SwaggerUrl, readable with the same token
    document = service.get(entity["SwaggerUrl"])
    assert document.status_code == 200, document.text
    swagger = document.json()
    # THEN a valid Swagger 2.0 document
    validate(swagger)
    assert swagger["swagger"] == "2.0" and swagger["info"] == {"title": "swagger-ep", "description": "described",
                                                               "version": "1"}
    # whose one operation is the endpoint's submit URL
    [path] = swagger["paths"]
    base = f"{swagger['schemes'][0]}://{swagger['host']}{swagger['basePath']}"
    assert base + path == entity["Url"]
    # with the default version's parameters, their types and defaults
    request = swagger["definitions"]["SubmitRequest"]["properties"]
    assert request["ParameterAssignments"]["properties"] == {"pipeline_arg": {"type": "integer", "default": 10}}
    # AND a submit sent as it describes runs that version
    body = {"ExperimentName": "from-swagger", "ParameterAssignments": {"pipeline_arg": 7}}
    run = service.post(base + path, json=body)
    assert run.status_code == 200 and run.json()["PipelineId"] == second.id, run.text
    assert_error(service.get(f"/PipelineEndpoints/{'0' * 32}/swagger.json"), 404, "NotFound")


def test_duplicate_endpoint_names_conflict_even_when_concurrent(service: Service, workspace: Workspace) -> None:
    published = publish(workspace, load_pipeline(EXAMPLE), "p", None, "1")
    body = {"Name": "same", "PipelineId": published.id}
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: service.post("/PipelineEndpoints/Create", json=body), range(6)))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 5
    for answer in answers:
        if answer.status_code == 409:
            assert_error(answer, 409, "UserError")
    assert len(service.get("/PipelineEndpoints").json()) == 1
    # case-insensitively the same name
    assert_error(service.post("/PipelineEndpoints/Create", json={"Name": "SAME", "PipelineId": published.id}), 409)


def test_unknown_ids_and_names_are_404(service: Service) -> None:
    assert_error(service.get("/Pipelines/nope"), 404, "NotFound")
    assert_error(service.get("/PipelineEndpoints/Id/nope"), 404, "NotFound")
    assert_error(service.get("/PipelineEndpoints/Name", params={"Name": "nope"}), 404, "NotFound")
    assert_error(service.put("/Pipelines/nope/status", json="Disabled"), 404, "NotFound")
    assert_error(service.post("/PipelineEndpoints/Create", json={"Name": "x", "PipelineId": "nope"}), 404)


def test_bad_bodies_are_400(service: Service) -> None:
    assert_error(service.post("/PipelineEndpoints/Create", content=b"{not json"), 400)
    assert_error(service.post("/PipelineEndpoints/Create", json=[1]), 400)
    assert_error(service.post("/PipelineEndpoints/Create", json={"Name": "../x", "PipelineId": "p"}), 400)
    assert_error(service.post("/Pipelines/Publish", json={"Name": "x", "Definition": {"steps": []}}), 400)
    assert_error(service.get("/Pipelines", params={"top": "0"}), 400)
    assert_error(service.get("/Pipelines", params={"continuationToken": "garbage!"}), 400)


def test_listing_pages_with_continuation(service: Service, workspace: Workspace) -> None:
    pipeline = load_pipeline(EXAMPLE)
    ids = {publish(workspace, pipeline, f"p{i}", None, "1").id for i in range(5)}
    seen: list[str] = []
    params: dict[str, str] = {}
    pages = 0
    while True:
        response = service.get("/Pipelines", params=params, headers={"BatchSize": "2"})
        page = response.json()
        assert len(page) <= 2
        seen += [p["Id"] for p in page]
        pages += 1
        token_ = response.headers.get("x-ms-continuation")
        if not token_:
            break
        params = {"continuationToken": token_}
    assert sorted(seen) == sorted(ids) and pages >= 3


def test_a_continuation_token_pages_only_the_list_that_gave_it(service: Service, workspace: Workspace) -> None:
    pipeline = load_pipeline(EXAMPLE)
    first = publish(workspace, pipeline, "t0", None, "1")
    publish(workspace, pipeline, "t1", None, "1")
    listed = service.get("/Pipelines", headers={"BatchSize": "1"})
    token_ = listed.headers["x-ms-continuation"]
    # The same list takes it back (its next page is the other pipeline) ...
    rest = service.get("/Pipelines", params={"continuationToken": token_}, headers={"BatchSize": "1"})
    assert rest.status_code == 200 and len(rest.json()) == 1 and rest.json()[0]["Id"] != listed.json()[0]["Id"]
    # ... any other list refuses it, rather than answering a page of itself from the token's keys.
    for other in ("/PipelineEndpoints", f"/PipelineRuns/Pipeline/{first.id}", "/Datasets", "/Datastores"):
        refused = service.get(other, params={"continuationToken": token_})
        body = assert_error(refused, 400)
        assert body["Error"]["Target"] == "continuationToken" and "another query" in body["Error"]["Message"], other
    # A token of this shape that no list of this service made is refused too.
    assert_error(service.get("/Pipelines", params={"continuationToken": "eyJxIjoiMTIzIn0"}), 400)


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_snapshots_are_content_addressed_and_refused_when_unsafe(service: Service, host) -> None:
    from pipelines.authoring import build_snapshot
    from pipelines.store import get_account

    data, digest = build_snapshot(EXAMPLE)
    again, digest_again = build_snapshot(EXAMPLE)
    assert (data, digest) == (again, digest_again)
    assert service.put(f"/Snapshots/{digest}", content=data).json()["Created"] is True
    assert service.put(f"/Snapshots/{digest}", content=data).json()["Created"] is False
    container = get_account().container("snapshots")
    assert [b.name for b in container.listing("")] == [f"ws1/sha256/{digest}.zip"]
    # unsafe zips: 400, nothing stored
    for evil in (_zip({"../evil.py": b"x"}), _zip({"/abs.py": b"x"})):
        evil_digest = hashlib.sha256(evil).hexdigest()
        assert_error(service.put(f"/Snapshots/{evil_digest}", content=evil), 400)
    # a hash that does not match the bytes
    assert_error(service.put(f"/Snapshots/{'0' * 64}", content=data), 400)
    assert [b.name for b in container.listing("")] == [f"ws1/sha256/{digest}.zip"]


def test_publishing_needs_the_snapshots_first(service: Service) -> None:
    definition = load_pipeline(EXAMPLE).to_definition().model_dump(mode="json")
    response = service.post("/Pipelines/Publish", json={"Name": "x", "Definition": definition})
    body = assert_error(response, 400)
    assert body["Error"]["Details"][0]["Code"] == "SnapshotNotFound"


def test_publish_folder_puts_new_versions_behind_one_endpoint(workspace: Workspace) -> None:
    first, endpoint = publish_folder(workspace, EXAMPLE, name="a", version="1", endpoint="front")
    second, again = publish_folder(workspace, EXAMPLE, name="a", version="2", endpoint="front")
    assert endpoint is not None and again is not None and endpoint.id == again.id
    assert again.default_version == "1"
    assert [v["PipelineId"] for v in again.list_versions()] == [first.id, second.id]
    with pytest.raises(ServiceError) as error:
        PipelineEndpoint.get(workspace, name="missing")
    assert error.value.status == 404


def test_pipeline_publish_method_uses_the_client(workspace: Workspace) -> None:
    published = load_pipeline(EXAMPLE).publish("via-method", "d", "3.1", workspace=workspace)
    assert PublishedPipeline.get(workspace, published.id).version == "3.1"


def test_defaults_too_large_for_any_run_to_keep_are_refused_at_publish(
    service: Service, workspace: Workspace, tmp_path: Path
) -> None:
    from pipelines.authoring import PipelineParameter
    from tests import pipelines_for_tests as make

    params = [PipelineParameter(f"s{i}", "x" * 8000) for i in range(3)]
    arguments: list[object] = []
    for param in params:
        arguments += ["--a", param]
    with pytest.raises(ServiceError) as refused:
        publish(workspace, make.single(tmp_path / "code", "print(1)\n", arguments=arguments), "too-big")
    assert refused.value.status == 400 and refused.value.target == "parameters"


def test_a_graph_changed_after_publish_is_refused_not_run(service: Service, workspace: Workspace) -> None:
    from pipelines.catalogue import published as published_module
    from pipelines.store import get_account

    published = publish(workspace, load_pipeline(EXAMPLE), "frozen")
    graph_id = service.get(f"/Pipelines/{published.id}").json()["GraphId"]
    # GIVEN someone rewrote the graph blob behind the service's back
    graphs = get_account().container("graphs")
    tampered = graphs.read(f"ws1/{graph_id}.json").replace(b"compare.py", b"evil.py")
    graphs.write(f"ws1/{graph_id}.json", tampered, overwrite=True)
    published_module._definitions._items.clear()  # a fresh instance, with nothing cached
    # WHEN a run is submitted THEN it is refused, and nothing runs
    response = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={})
    assert response.status_code == 500
    assert service.get(f"/PipelineRuns/Pipeline/{published.id}").json() == []


# -- an enabled endpoint never defaults to a disabled pipeline ---------------------------------------------------
def test_a_disabled_version_cannot_become_the_default(service: Service, workspace: Workspace) -> None:
    pipeline = load_pipeline(EXAMPLE)
    first, second = (publish(workspace, pipeline, f"p{i}", None, f"{i}.0") for i in range(2))
    endpoint = service.post("/PipelineEndpoints/Create", json={"Name": "ep", "PipelineId": first.id}).json()
    url = f"/PipelineEndpoints/{endpoint['Id']}"
    PipelineEndpoint.get(workspace, name="ep").add(second)
    PublishedPipeline.get(workspace, second.id).disable()
    # WHEN the disabled version is made the default: 409, saying which version and pipeline
    refused = assert_error(service.put(url, json={"DefaultVersion": "1"}), 409, "EntityDisabled")["Error"]
    assert "version '1'" in refused["Message"] and second.id in refused["Message"]
    assert refused["Target"] == "DefaultVersion"
    with pytest.raises(ServiceError):
        PipelineEndpoint.get(workspace, name="ep").set_default_version(1)
    assert service.get(f"/PipelineEndpoints/Id/{endpoint['Id']}").json()["DefaultVersion"] == "0"
    # nor can an endpoint be created over it
    created = service.post("/PipelineEndpoints/Create", json={"Name": "ep2", "PipelineId": second.id})
    assert second.id in assert_error(created, 409, "EntityDisabled")["Error"]["Message"]
    # a disabled endpoint may point at it, but is not enabled again while it does
    assert service.put(url, json={"DefaultVersion": "1", "EntityStatus": "Disabled"}).status_code == 200
    assert_error(service.put(url, json={"EntityStatus": "Active"}), 409, "EntityDisabled")
    PublishedPipeline.get(workspace, second.id).enable()
    assert service.put(url, json={"EntityStatus": "Active"}).json()["EntityStatus"] == 0


def test_the_default_version_of_an_enabled_endpoint_is_not_disabled(service: Service, workspace: Workspace) -> None:
    from pipelines.catalogue import Endpoints, PublishedPipelines
    from pipelines.errors import ConflictError
    from pipelines.store import get_account
    from pipelines.vocabulary import EntityStatus

    pipeline = load_pipeline(EXAMPLE)
    first, second = (publish(workspace, pipeline, f"p{i}", None, f"{i}.0") for i in range(2))
    front = PipelineEndpoint.publish(workspace, "front", None, first)
    PipelineEndpoint.publish(workspace, "archived", None, first).archive()  # still runnable
    PipelineEndpoint.publish(workspace, "off", None, second).disable()
    account = get_account()
    endpoints = Endpoints(account, PublishedPipelines(account))
    # WHEN the default of two runnable endpoints is disabled: 409, naming both
    with pytest.raises(ConflictError) as refused:
        endpoints.set_pipeline_status("ws1", first.id, EntityStatus.DISABLED)
    assert {d.target for d in refused.value.details} == {front.id, PipelineEndpoint.get(workspace, name="archived").id}
    assert "'front'" in refused.value.message and "'archived'" in refused.value.message
    assert service.get(f"/Pipelines/{first.id}").json()["EntityStatus"] == 0
    # the default of a disabled endpoint only, or a version that is no default, is disabled
    assert endpoints.set_pipeline_status("ws1", second.id, EntityStatus.DISABLED).status is EntityStatus.DISABLED
    PublishedPipeline.get(workspace, second.id).enable()
    front.add(second)
    assert endpoints.set_pipeline_status("ws1", second.id, EntityStatus.DISABLED).status is EntityStatus.DISABLED
    assert endpoints.set_pipeline_status("ws1", first.id, EntityStatus.DEPRECATED).status is EntityStatus.DEPRECATED


def test_disabling_the_default_of_an_enabled_endpoint_over_http_is_409(service: Service, workspace: Workspace) -> None:
    published = publish(workspace, load_pipeline(EXAMPLE), "p", None, "1.0")
    PipelineEndpoint.publish(workspace, "front", None, published)
    refused = service.put(f"/Pipelines/{published.id}/status", json="Disabled")
    assert "'front'" in assert_error(refused, 409)["Error"]["Message"]
