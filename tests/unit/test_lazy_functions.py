"""The app's functions are registered without their handlers (issue 14, cold start): importing
`function_app` loads no handler, wire model, settings model, token library or storage SDK, every
function is still registered with its bindings, and a function's first call imports what answers it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import azure.functions as func
import pytest

from pipelines.api import http
from pipelines.api.routes import HANDLER_MODULES, ROUTES
from tests.service import ROOT

# What the host's indexing must not pay for: each is imported on the first call that needs it.
LIBRARIES = (
    "pydantic", "pydantic_settings", "jwt", "cryptography", "azure.core", "azure.identity",
    "azure.storage.blob", "azure.storage.queue", "azure.data.tables",
)
PROJECT = (
    "pipelines.api.http",  # and through it the answers' models
    "pipelines.api.answers", "pipelines.api.contract", "pipelines.api.bodies", "pipelines.api.history_contract",
    "pipelines.api.automation_contract", "pipelines.api.automation_answers",
    "pipelines.api.endpoint_requests", "pipelines.api.data_requests", "pipelines.api.targets_contract",
    "pipelines.authoring.definition", "pipelines.auth.validator", "pipelines.auth.jwks",
    "pipelines.settings", "pipelines.auth.config",  # read by the check beside the indexing
    "pipelines.store", "pipelines.runs", "pipelines.catalogue", "pipelines.data",
    "pipelines.worker.handler", "pipelines.schedules.service", "pipelines.triggers.service",
    *sorted(set(HANDLER_MODULES.values())),
)

# The functions that are not HTTP routes, as the host binds them.
OTHER_FUNCTIONS = [
    ("fire_schedules", [{"type": "timerTrigger", "direction": "IN", "name": "timer",
                         "schedule": "*/20 * * * * *", "runOnStartup": False}]),
    ("start_runs_from_events", [{"type": "eventGridTrigger", "direction": "IN", "name": "event"}]),
    ("run_step", [{"type": "queueTrigger", "direction": "IN", "name": "msg",
                   "queueName": "%PIPELINES_STEPS_QUEUE%", "connection": "AzureWebJobsStorage"}]),
    ("fail_poisoned_step", [{"type": "queueTrigger", "direction": "IN", "name": "msg",
                             "queueName": "%PIPELINES_STEPS_QUEUE%-poison", "connection": "AzureWebJobsStorage"}]),
    ("sweep_stranded_steps", [{"type": "timerTrigger", "direction": "IN", "name": "timer",
                               "schedule": "*/5 * * * * *", "runOnStartup": False}]),
    ("deliver_run_events", [{"type": "queueTrigger", "direction": "IN", "name": "msg",
                             "queueName": "%PIPELINES_STEPS_QUEUE%-notify", "connection": "AzureWebJobsStorage"}]),
    ("deliver_sink_events", [{"type": "queueTrigger", "direction": "IN", "name": "msg",
                              "queueName": "%PIPELINES_STEPS_QUEUE%-sinks", "connection": "AzureWebJobsStorage"}]),
]

PROBE = """
import json, sys, typing
import azure.functions as func
from pipelines import startup

# the settings' check runs on a thread of its own beside the indexing (pipelines/startup.py): held
# back here, so that what the import itself loads is seen alone, and then run as the app runs it
begin_check = startup.begin_check
startup.begin_check = lambda: None
import function_app

loaded = sorted(m for m in sys.modules
                if m.split(".")[0] in ("jwt", "cryptography", "azure", "pipelines", "pydantic", "pydantic_settings"))
begin_check().join()
functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
indexed = [[name, json.loads(f.get_function_json())["bindings"]] for name, f in functions.items()]
# the worker binds arguments by parameter name and type: what each registered function takes
takes = {name: {arg: getattr(kind, "__name__", str(kind))
                for arg, kind in typing.get_type_hints(f.get_user_function()).items()}
         for name, f in functions.items()}
# a first request, without a token, to a route whose handler sits in pipelines.api.catalogue
request = func.HttpRequest("GET", "http://127.0.0.1:7071/x", body=b"", headers={}, route_params={
    "subscriptionId": "s", "resourceGroupName": "g", "workspaceName": "w", "pipelineId": "p"})
answer = functions["get_pipeline"].get_user_function()(request)
after = sorted(m for m in sys.modules if m.startswith("pipelines.api."))
print(json.dumps({"loaded": loaded, "indexed": indexed, "takes": takes, "status": answer.status_code,
                  "body": json.loads(answer.get_body()), "after": after}))
"""


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`import function_app` in a fresh interpreter, with the settings of a local host."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AzureWebJobsStorage", "PIPELINES_"))}
    env.update({"AzureWebJobsStorage": "UseDevelopmentStorage=true", "PIPELINES_STEPS_QUEUE": "pipeline-steps",
                "PIPELINES_DEV_ISSUER": "true", "PIPELINES_DEV_KEY_DIR": str(tmp_path_factory.mktemp("keys"))})
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def test_importing_the_app_loads_no_handler_wire_model_token_library_or_storage_sdk(probed: dict[str, Any]) -> None:
    loaded = probed["loaded"]
    assert "pipelines.api.functions" in loaded and "pipelines.worker.functions" in loaded  # the app was imported
    assert [m for m in loaded if _within(m, LIBRARIES)] == []
    assert [m for m in loaded if _within(m, PROJECT)] == []


def test_every_function_is_registered_with_its_bindings(probed: dict[str, Any]) -> None:
    every_method = [method.value for method in func.HttpMethod]
    # a route that starts runs writes its first steps through a queue output binding (trigger latency)
    steps = {"type": "queue", "direction": "OUT", "name": "steps", "queueName": "%PIPELINES_STEPS_QUEUE%",
             "connection": "AzureWebJobsStorage"}
    expected = [
        (route.name, ([steps] if route.starts_runs else []) + [
            {"type": "httpTrigger", "direction": "IN", "name": "req", "route": route.template,
             # a route alone at its path takes every method and answers 405 itself (test_http_methods.py)
             "methods": list(route.methods) if "{" in route.template else
             list(route.methods) + [m for m in every_method if m not in route.methods],
             "authLevel": "ANONYMOUS"},
            {"type": "http", "direction": "OUT", "name": "$return"},
        ])
        for route in ROUTES.values()
    ] + OTHER_FUNCTIONS
    assert {route.name for route in ROUTES.values() if route.starts_runs} == {
        "submit_pipeline", "submit_endpoint", "submit_endpoint_by_name", "rerun_run"}
    assert [name for name, _ in probed["indexed"]] == [name for name, _ in expected]
    for (name, bindings), (_, wanted) in zip(probed["indexed"], expected, strict=True):
        assert bindings == wanted, name
        trigger = next(b for b in wanted if b["type"].endswith("Trigger"))
        kind = {"httpTrigger": "HttpRequest", "timerTrigger": "TimerRequest", "queueTrigger": "QueueMessage",
                "eventGridTrigger": "EventGridEvent"}[trigger["type"]]
        returns = "HttpResponse" if trigger["type"] == "httpTrigger" else "NoneType"
        outputs = {b["name"]: "Out" for b in wanted if b["type"] == "queue"}
        assert probed["takes"][name] == {trigger["name"]: kind, **outputs, "return": returns}, name


def test_the_first_call_imports_only_what_answers_it(probed: dict[str, Any]) -> None:
    # no token: the catalogue's handler module and the HTTP layer are imported, and the answer is theirs
    assert probed["status"] == 401 and probed["body"]["Error"]["Code"] == "Unauthorized"
    assert "pipelines.api.catalogue" in probed["after"] and "pipelines.api.http" in probed["after"]
    assert "pipelines.api.history" not in probed["after"] and "pipelines.api.data" not in probed["after"]


def test_each_route_is_answered_by_the_function_of_its_name_in_the_module_the_table_names() -> None:
    for name in ROUTES:
        answering = http.declared(name)  # imports the module on the first call, as a request does
        assert (answering.handler.__module__, answering.handler.__name__) == (HANDLER_MODULES[name], name)
    # and nothing declares a route the table does not list
    assert set(vars(http)["_DECLARED"]) == set(ROUTES)


def test_a_handler_outside_the_module_the_table_names_is_refused() -> None:
    def get_pipeline(ctx: http.RequestContext) -> None:
        raise AssertionError("never registered")

    with pytest.raises(RuntimeError, match=r"pipelines\.api\.catalogue"):
        http.route("get_pipeline")(get_pipeline)
    assert http.declared("get_pipeline").handler.__module__ == "pipelines.api.catalogue"


def test_a_route_whose_module_cannot_be_imported_is_answered_500_in_the_contract_s_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a route whose handler module fails to import on its first request (as a module half
    # made by a concurrent import did, before pipelines.lazy)
    monkeypatch.setitem(HANDLER_MODULES, "get_pipeline", "pipelines.api.no_such_module")
    monkeypatch.delitem(vars(http)["_READY"], "get_pipeline", raising=False)
    request = func.HttpRequest("GET", "http://127.0.0.1/x", body=b"", headers={}, route_params={})
    # WHEN the route answers
    answered = http.answer(request, ROUTES["get_pipeline"])
    # THEN it is the contract's 500: InternalError JSON with a request id, nothing of the error
    body = json.loads(answered.get_body())
    assert answered.status_code == 500 and body["Error"]["Code"] == "InternalError"
    assert body["Correlation"]["RequestId"] and "no_such_module" not in answered.get_body().decode()
