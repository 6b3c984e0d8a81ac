"""Authentication through the HTTP layer: `handle()` with a real `func.HttpRequest`."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import azure.functions as func
import pytest

from pipelines.api.http import RequestContext, handle
from pipelines.api.routes import ROUTES
from pipelines.auth import reset_auth
from pipelines.settings import reset_settings
from tests.unit.auth_support import (  # noqa: F401 - fixtures
    CALLER_OBJECT_ID,
    Keys,
    KeyServer,
    auth_env_fixture,
    bearer,
    claims,
    fresh_auth_fixture,
    key_server_fixture,
    keys_fixture,
    sign,
)

WS = (
    "http://127.0.0.1:7071/pipelines/v1.0/subscriptions/sub/resourceGroups/rg/providers/"
    "Microsoft.MachineLearningServices/workspaces/ws"
)
PARAMS = {"subscriptionId": "sub", "resourceGroupName": "rg", "workspaceName": "ws"}


@pytest.fixture(autouse=True)
def storage_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    # `handle` reads the body-size limit from the app settings, which need a storage
    # setting; these handlers never touch storage.
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    reset_settings()


def submit(headers: dict[str, str]) -> func.HttpResponse:
    request = func.HttpRequest(
        method="POST",
        url=f"{WS}/PipelineRuns/PipelineSubmit/p1",
        headers={"Content-Type": "application/json", **headers},
        params={},
        route_params={**PARAMS, "pipelineId": "p1"},
        body=b"{}",
    )
    return handle(request, ROUTES["submit_pipeline"], handler)


def handler(ctx: RequestContext) -> dict[str, Any]:
    assert ctx.principal is not None
    return {"Caller": ctx.principal.identity, "Roles": sorted(ctx.principal.roles)}


def body(response: func.HttpResponse) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(response.get_body())
    return parsed


@pytest.mark.usefixtures("auth_env")
def test_no_token_is_a_401_with_a_bearer_challenge_and_the_contract_error() -> None:
    # GIVEN / WHEN a request without Authorization
    response = submit({})

    # THEN 401, `WWW-Authenticate: Bearer`, and the error JSON of docs/contract.md §4
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error = body(response)
    assert error["Error"]["Code"] == "Unauthorized"
    assert "Authorization: Bearer" in error["Error"]["Message"]
    assert error["Correlation"]["RequestId"] == response.headers["x-ms-request-id"]


@pytest.mark.usefixtures("auth_env")
def test_expired_token_is_a_401_naming_the_reason(keys: Keys) -> None:
    # GIVEN an expired token
    now = int(time.time())
    expired = claims(roles=["Pipelines.Submit"], iat=now - 7200, nbf=now - 7200, exp=now - 600)
    token = sign(keys.current, expired)

    # WHEN
    response = submit(bearer(token))

    # THEN the challenge carries the RFC 6750 error, and the token is not echoed
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="the token has expired')
    assert body(response)["Error"]["Code"] == "Unauthorized"
    assert token not in response.get_body().decode() and token not in challenge


@pytest.mark.usefixtures("auth_env")
def test_valid_token_without_the_role_is_a_403(keys: Keys) -> None:
    # GIVEN a reader calling the submit route
    token = sign(keys.current, claims(roles=["Pipelines.Read"]))

    # WHEN
    response = submit(bearer(token))

    # THEN
    assert response.status_code == 403
    error = body(response)["Error"]
    assert error["Code"] == "Forbidden"
    assert "Pipelines.Submit" in error["Message"]
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.usefixtures("auth_env")
def test_valid_token_with_the_role_reaches_the_handler(keys: Keys) -> None:
    # GIVEN a submitter, with the `Token` scheme of the Java sample
    token = sign(keys.current, claims(roles=["Pipelines.Submit"]))

    # WHEN
    response = submit(bearer(token, scheme="Token"))

    # THEN the handler saw the principal
    assert response.status_code == 200
    assert body(response) == {"Caller": CALLER_OBJECT_ID, "Roles": ["Pipelines.Submit"]}


def test_missing_auth_settings_is_a_500_without_details_of_the_token() -> None:
    # GIVEN no authentication settings at all
    reset_auth()

    # WHEN
    response = submit(bearer("a.b.c"))

    # THEN a 500 in the contract's shape (not a 401: the caller is not at fault)
    assert response.status_code == 500
    assert body(response)["Error"]["Code"] == "InternalError"


@pytest.mark.usefixtures("auth_env")
def test_key_endpoint_down_is_a_503_with_retry_after(keys: Keys, key_server: KeyServer) -> None:
    # GIVEN a key endpoint that fails
    key_server.failing = True

    # WHEN
    response = submit(bearer(sign(keys.current, claims(roles=["Pipelines.Submit"]))))

    # THEN
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert body(response)["Error"]["Code"] == "ServiceUnavailable"


@pytest.mark.usefixtures("auth_env")
def test_failed_requests_never_log_the_token(keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN everything captured
    caplog.set_level(logging.DEBUG)
    token = sign(keys.stranger, claims(roles=["Pipelines.Submit"]))

    # WHEN a request with an unverifiable token is refused
    response = submit(bearer(token))

    # THEN the refusal is in the logs, the token is not
    assert response.status_code == 401
    assert "token refused" in caplog.text
    assert token not in caplog.text and token.rsplit(".", 1)[1] not in caplog.text
