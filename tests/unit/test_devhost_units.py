"""The development host's pure parts: route order and templates, NCRONTAB, host.json, and the
worker's load-time checks (no Azurite, no socket)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest

from pipelines.devhost.functions import FunctionLoadError, index_functions
from pipelines.devhost.hostconfig import HostOptions, parse_timespan
from pipelines.devhost.ncrontab import ScheduleError, parse_schedule
from pipelines.devhost.routing import RouteConflictError, RouteTable, RouteTemplate, split_path
from pipelines.errors import ConfigurationError
from tests.hosting import FAST_QUEUES


# -- the worker's indexing ------------------------------------------------------------------------
def test_parameters_the_worker_cannot_bind_stop_the_host() -> None:
    # The worker refuses such a function, and in the v2 model that fails the whole app's indexing.
    def app_with(function: Callable[..., Any]) -> func.FunctionApp:
        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
        app.route(route="x")(function)
        return app

    def extra(req: func.HttpRequest, other: str = "default") -> str:
        return "never"

    def context_by_another_name(req: func.HttpRequest, ctx: func.Context) -> str:
        return "never"

    def context_of_another_type(req: func.HttpRequest, context: str) -> str:
        return "never"

    def wrong_trigger_type(req: func.QueueMessage) -> str:
        return "never"

    for function in (extra, context_by_another_name, context_of_another_type, wrong_trigger_type):
        with pytest.raises(FunctionLoadError):
            index_functions(app_with(function))


# -- pure parts -----------------------------------------------------------------------------------------
def _resolve(table: RouteTable[str], method: str, path: str) -> tuple[str | None, dict[str, str]]:
    resolution = table.resolve(method, split_path(path))
    return resolution.target, resolution.route_params


def test_route_templates() -> None:
    table: RouteTable[str] = RouteTable()
    table.add("files/{*path}", None, "catch_all", "catch_all")
    table.add("files/readme", ["GET"], "literal", "literal")
    table.add("files/{name}.{ext}", None, "mixed", "mixed")
    table.add("users/{id:guid}", None, "guid", "guid")
    table.add("users/{name:alpha:minlength(2)}", None, "alpha", "alpha")
    table.add("pages/{page=1}", None, "default", "default")
    table.add("docs/{file}.{ext}", None, "doc", "doc")
    assert _resolve(table, "GET", "files/README/") == ("literal", {})
    # a catch-all and a mixed segment both start with a plain parameter: they tie, and the
    # one registered first is tried first (the host leaves the order of a tie unspecified)
    assert _resolve(table, "GET", "files/a.txt") == ("catch_all", {"path": "a.txt"})
    assert _resolve(table, "GET", "files/a/b%20c") == ("catch_all", {"path": "a/b c"})
    assert _resolve(table, "GET", "files") == ("catch_all", {})
    # a mixed segment is matched from the right
    assert _resolve(table, "GET", "docs/a.b.c") == ("doc", {"file": "a.b", "ext": "c"})
    uid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert _resolve(table, "GET", f"users/{uid}") == ("guid", {"id": uid})
    assert _resolve(table, "GET", "users/Bob") == ("alpha", {"name": "Bob"})
    assert _resolve(table, "GET", "users/b") == (None, {})
    assert _resolve(table, "GET", "pages") == ("default", {"page": "1"})
    assert table.resolve("POST", split_path("files/readme")).target == "catch_all"
    with pytest.raises(ValueError):
        RouteTemplate.parse("a/{*rest}/b")


def test_a_route_is_left_out_by_its_length_only_where_it_cannot_match() -> None:
    # GIVEN templates with optional, defaulted (at the end and between literals) and catch-all parts
    templates = ["a/b", "a/{x}", "a/{x?}", "a/{x=1}", "a/{x=1}/b", "a/{x}/{y=2}", "a/{*rest}", "{*all}", "",
                 "a/{x}.{y}", "{p}/b/{q?}"]
    paths = [[], ["a"], ["a", "b"], ["a", "q"], ["a", "q", "b"], ["a", "q", "r"], ["a", "b", "c", "d"], ["q", "b"],
             ["a", "x.y"], ["q", "b", "r"]]
    for text in templates:
        template = RouteTemplate.parse(text)
        fewest, most = template.lengths
        for path in paths:
            # THEN a path outside the template's lengths is one it does not match
            if not fewest <= len(path) <= most:
                assert template.match(path) is None, (text, path)
        # AND the bounds are reached by some path that matches (they are not looser than needed)
        assert any(template.match(path) is not None and len(path) == fewest for path in paths), text


def test_routes_are_tried_in_the_order_the_host_sorts_them() -> None:
    # WebJobsRouteBuilder.RouteComparison: literal before parameter, literals alphabetically,
    # more inline constraints first, a longer template before its prefix
    table: RouteTable[str] = RouteTable()
    for template in ["a/{x}", "a/{x:int}", "a/{x:int:min(1)}", "b", "a/z", "a/b", "a/{x}/{y}", "a/{x:int}/c"]:
        table.add(template, None, template, template)
    assert [template.text for template, _, _ in table.routes()] == [
        "a/b", "a/z", "a/{x:int:min(1)}", "a/{x:int}/c", "a/{x:int}", "a/{x}/{y}", "a/{x}", "b",
    ]
    # so a longer route with an optional end is tried before the shorter one it covers
    table2: RouteTable[str] = RouteTable()
    table2.add("runs/{id}", None, "short", "short")
    table2.add("runs/{id}/{part?}", None, "long", "long")
    assert _resolve(table2, "GET", "runs/7") == ("long", {"id": "7"})


def test_route_table_refuses_what_the_host_refuses() -> None:
    table: RouteTable[str] = RouteTable()
    table.add("runs/{id}", ["GET"], "get", "get")
    with pytest.raises(RouteConflictError, match="'get'"):
        table.add("Runs/{ID}/", ["get", "POST"], "again", "again")
    table.add("runs/{id}", ["DELETE"], "delete", "delete")  # no method in common
    table.add("runs/{run}", None, "other name", "other")  # another template text: allowed
    for reserved in ("admin", "/Admin/x", "administration", "runtime/webhooks/x"):
        with pytest.raises(RouteConflictError, match="built in routes"):
            table.add(reserved, None, "x", "x")


def test_ncrontab_schedules() -> None:
    start = datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC)  # a Monday
    assert parse_schedule("*/5 * * * * *").next_after(start) == start + timedelta(seconds=5)
    assert parse_schedule("0 30 9 * * Mon-Fri").next_after(start) == start.replace(hour=9, minute=30)
    # day and weekday must both match (NCrontab): the next Friday the 13th
    assert parse_schedule("0 0 0 13 * 5").next_after(start) == datetime(2024, 9, 13, tzinfo=UTC)
    assert parse_schedule("0 15,45 * * * *").next_after(start.replace(minute=20)) == start.replace(minute=45)
    assert parse_schedule("00:00:30").next_after(start) == start + timedelta(seconds=30)
    for bad in ("* * * *", "61 * * * * *", "*/0 * * * * *", "0 0 0 * * Funday"):
        with pytest.raises(ScheduleError):
            parse_schedule(bad)


def test_host_json_options() -> None:
    options = HostOptions.from_host_json(FAST_QUEUES)
    assert options.route_prefix == "api"
    assert options.queues.max_polling_interval == timedelta(milliseconds=200)
    assert options.queues.max_dequeue_count == 2
    defaults = HostOptions.from_host_json({"extensions": {"http": {"routePrefix": ""}}})
    assert defaults.route_prefix == ""
    assert defaults.queues.batch_size == 16
    # QueuesOptions: batchSize / 2 per processor unless set
    assert defaults.queues.new_batch_threshold == 8 * (os.cpu_count() or 1)
    assert defaults.queues.max_polling_interval == timedelta(minutes=1)
    assert defaults.max_request_bytes == 104_857_600
    assert parse_timespan("1.02:03:04.5") == timedelta(days=1, hours=2, minutes=3, seconds=4.5)
    # keys are bound ignoring case, as the host binds its options
    shouting = HostOptions.from_host_json(
        {"Extensions": {"Queues": {"BatchSize": 3, "NEWBATCHTHRESHOLD": 0}}}
    )
    assert (shouting.queues.batch_size, shouting.queues.new_batch_threshold) == (3, 0)
    for bad in ({"maxPollingInterval": "00:00:00.050"}, {"batchSize": 33}, {"maxDequeueCount": 0}):
        with pytest.raises(ConfigurationError):
            HostOptions.from_host_json({"extensions": {"queues": bad}})
