"""A method a route does not take: 405 with `Allow`, from the route itself where it is the only one at
its path (`/health`, `/studio`), else from its prefix's fallback route, which the host tries last;
a path no route takes under those prefixes: a 404, in the error JSON too."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from pipelines.api.functions import served_methods
from pipelines.api.http import RequestContext, handle
from pipelines.api.paging import page_request
from pipelines.api.routes import ROUTES, methods_at
from pipelines.errors import BadRequestError


def test_a_route_without_parameters_takes_every_method_azure_functions_routes() -> None:
    every = {method.value for method in func.HttpMethod}
    assert set(served_methods(ROUTES["health"])) == every and served_methods(ROUTES["health"])[0] == "GET"
    assert set(served_methods(ROUTES["studio"])) == every
    # PUT .../PipelineEndpoints/Name is update_endpoint's, with the id "Name": get_endpoint_by_name takes GET only
    assert served_methods(ROUTES["get_endpoint_by_name"]) == ["GET"]
    assert served_methods(ROUTES["get_step_statuses"]) == ["POST", "GET"]


@pytest.mark.parametrize("method", ["DELETE", "POST", "PUT", "PATCH", "OPTIONS", "HEAD"])
def test_another_method_is_a_405_listing_the_methods_the_route_takes(method: str) -> None:
    request = func.HttpRequest(method, "http://127.0.0.1:7071/health", body=b"", route_params={})
    answer = handle(request, ROUTES["health"], lambda ctx: pytest.fail("the handler is not called"))
    assert answer.status_code == 405 and answer.headers["Allow"] == "GET"
    error = json.loads(answer.get_body())["Error"]
    assert error["Code"] == "MethodNotAllowed" and "GET" in error["Message"]


WS = "/pipelines/v1.0/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
HS = WS.replace("/pipelines/", "/history/", 1)


@pytest.mark.parametrize(("path", "methods"), [
    (WS + "/PipelineRuns/PipelineSubmit/p1", ("POST",)),
    (WS + "/pipelineruns/pipelinesubmit/p1", ("POST",)),  # literals in any case, as the host matches them
    (WS + "/PipelineEndpoints/Name", ("GET",)),  # by name, tried before update_endpoint of the id "Name"
    (WS + "/Pipelines/Publish", ("POST",)),  # publishing, tried before get_pipeline of the id "Publish"
    (WS + "/PipelineEndpoints/Id/e1", ("GET",)),
    (WS + "/PipelineRuns/PipelineEndpointSubmit/Id/e1", ("POST",)),
    (WS + "/PipelineRuns/PipelineEndpointSubmit/Id/e1/3", ("POST",)),  # the optional version
    (WS + "/PipelineRuns/r1/Steps/n1/Outputs/o/files/a/b.csv", ("GET",)),  # a catch-all
    (HS + "/experiments/e/runs:query", ("POST",)),
    (HS + "/runs/r1/details", ("GET",)),
    (WS + "/PipelineRuns/PipelineSubmit", ("GET",)),  # the id missing: the run "PipelineSubmit"
    (WS + "/PipelineRuns/PipelineSubmit/p1/extra", ()),
    (WS + "/Bogus", ()),
    ("/pipelines/v2.0/x", ()),
    ("/pipelines", ()),
])
def test_the_methods_at_a_path_are_those_of_the_routes_whose_templates_match_it(
    path: str, methods: tuple[str, ...]
) -> None:
    assert methods_at(path) == methods


# -- page sizes: each one sent is checked, the one that loses too ----------------------------------------
def paging(params: dict[str, str], headers: dict[str, str]) -> tuple[int, str | None]:
    request = func.HttpRequest("GET", "http://127.0.0.1:7071/x", body=b"", params=params, headers=headers)
    return page_request(RequestContext(request=request, route=ROUTES["list_pipelines"], request_id="r"))


def test_top_wins_over_batch_size_and_both_must_be_page_sizes() -> None:
    assert paging({"top": "7"}, {"BatchSize": "1000"}) == (7, None)
    assert paging({}, {}) == (1000, None)  # no size sent, as SDK v1 lists: as much as a page holds
    assert paging({}, {"BatchSize": "3"}) == (3, None)
    for params, headers, target in [
        ({"top": "1"}, {"BatchSize": "1001"}, "BatchSize"),  # it lost, and is still no page size
        ({"top": "0"}, {}, "top"),
        ({}, {"BatchSize": ""}, "BatchSize"),  # an empty header is no number
        ({}, {"BatchSize": "\u00b2"}, "BatchSize"),
    ]:
        with pytest.raises(BadRequestError) as refused:
            paging(params, headers)
        assert refused.value.target == target and "from 1 to 1000" in refused.value.message


@pytest.mark.parametrize(("body", "says"), [
    (b'{"a": ' + b"1" * 5000 + b"}", "a number with more digits than any value takes"),
    (b'{"a": 01}', "not valid JSON: Expecting ','"),
])
def test_a_body_that_json_cannot_read_is_a_400_in_the_services_words(body: bytes, says: str) -> None:
    request = func.HttpRequest("POST", "http://127.0.0.1:7071/x", body=body, route_params={})
    ctx = RequestContext(request=request, route=ROUTES["health"], request_id="r")
    with pytest.raises(BadRequestError) as refused:
        ctx.json()
    assert says in refused.value.message and "sys." not in refused.value.message
