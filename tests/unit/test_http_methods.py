"""A method a route does not take: 405 with `Allow` where the route is the only one at its path
(`/health`, `/studio`); elsewhere the host's 404, since another route may take that method there."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from pipelines.api.functions import served_methods
from pipelines.api.http import RequestContext, handle
from pipelines.api.paging import page_request
from pipelines.api.routes import ROUTES
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


# -- page sizes: each one sent is checked, the one that loses too ----------------------------------------
def paging(params: dict[str, str], headers: dict[str, str]) -> tuple[int, str | None]:
    request = func.HttpRequest("GET", "http://127.0.0.1:7071/x", body=b"", params=params, headers=headers)
    return page_request(RequestContext(request=request, route=ROUTES["list_pipelines"], request_id="r"))


def test_top_wins_over_batch_size_and_both_must_be_page_sizes() -> None:
    assert paging({"top": "7"}, {"BatchSize": "1000"}) == (7, None)
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
