"""Every HTTP route the app serves refuses a caller without a valid token, and each
role reaches exactly the routes the route table grants it (over real HTTP)."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

from pipelines.api.routes import ROUTES
from pipelines.auth.permissions import GRANTS, Permission
from tests.service import ROOT, assert_error, token

ROLES = [Permission.READ, Permission.SUBMIT, Permission.PUBLISH, Permission.ADMIN]


def served_routes(host) -> list[tuple[str, str, str]]:
    """(function name, method, concrete path) for every HTTP function the host serves."""
    found = []
    for template, methods, entry in host.routes.routes():
        template = template.text
        path = re.sub(
            r"\{(\w+)\??\}", lambda m: "ws1" if m.group(1) == "workspaceName" else f"x-{m.group(1)}", template
        )
        for method in methods or ["GET", "POST"]:
            found.append((entry.name, method.upper(), f"{host.base_url}/{path}"))
    return found


def test_the_route_table_and_the_app_agree(host) -> None:
    served = {name for name, _, _ in served_routes(host)}
    assert served == set(ROUTES)


def test_every_route_but_the_anonymous_ones_refuses_a_request_without_a_token(host) -> None:
    for name, method, url in served_routes(host):
        response = httpx.request(method, url, timeout=30)
        if ROUTES[name].permission is Permission.ANONYMOUS:
            # health, and the studio's static page and files (docs/studio.md); another method: 405
            expected = (200, 404) if method in ROUTES[name].methods else (405,)
            assert response.status_code in expected, (name, method, response.status_code)
            continue
        assert response.status_code == 401, (name, response.status_code, response.text)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        if method != "HEAD":  # an answer to HEAD has no body
            assert response.json()["Error"]["Code"] == "Unauthorized"


def test_every_route_refuses_a_forged_token(host) -> None:
    forged = token().rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
    for name, method, url in served_routes(host):
        if ROUTES[name].permission is Permission.ANONYMOUS:
            continue
        response = httpx.request(method, url, headers={"Authorization": f"Bearer {forged}"}, timeout=30)
        assert response.status_code == 401, (name, response.text)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_each_role_reaches_what_the_table_grants_and_nothing_else(host, role: Permission) -> None:
    headers = {"Authorization": f"Bearer {token([role.value])}"}
    for name, method, url in served_routes(host):
        needs = ROUTES[name].needs
        response = httpx.request(method, url, headers=headers, content=b"{}", timeout=30)
        if needs == (Permission.ANONYMOUS,) or all(needed in GRANTS[role] for needed in needs):
            # past authorisation: whatever the handler says of these dummy ids, it is not 401/403
            assert response.status_code not in (401, 403), (role, name, response.text)
            assert response.status_code < 500, (role, name, response.text)
        else:
            assert response.status_code == 403, (role, name, response.status_code)
            assert response.json()["Error"]["Code"] == "Forbidden"


def test_writing_a_schedule_or_a_trigger_needs_the_roles_to_publish_and_to_submit(host) -> None:
    """A schedule or an event trigger starts runs later in no caller's name: Publish alone,
    which may not submit, may not set one up either."""
    ws = f"{host.base_url}/" + ROUTES["list_pipelines"].template.replace("{workspaceName}", "ws1")
    ws = re.sub(r"\{\w+\}", "x", ws).rsplit("/", 1)[0]
    for path in ("/Schedules/nightly", "/EventTriggers/on-csv"):
        for roles, allowed in (
            ([Permission.PUBLISH.value], False),
            ([Permission.SUBMIT.value], False),
            ([Permission.PUBLISH.value, Permission.SUBMIT.value], True),
            ([Permission.ADMIN.value], True),
        ):
            response = httpx.put(ws + path, headers={"Authorization": f"Bearer {token(roles)}"}, json={}, timeout=30)
            if allowed:  # past authorisation: the empty body names no pipeline
                assert response.status_code == 400, (path, roles, response.text)
            else:
                assert response.status_code == 403, (path, roles, response.text)
                assert response.json()["Error"]["Code"] == "Forbidden"


def test_a_token_without_roles_is_forbidden(host) -> None:
    url = f"{host.base_url}/" + ROUTES["list_pipelines"].template.replace("{workspaceName}", "ws1")
    response = httpx.get(url, headers={"Authorization": f"Bearer {token([])}"}, timeout=30)
    assert response.status_code == 403


def test_the_mint_command_gives_a_token_the_running_host_accepts(host) -> None:
    minted = subprocess.run(
        [sys.executable, "-m", "pipelines", "token", "--roles", "Pipelines.Read"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()
    url = f"{host.base_url}/" + ROUTES["list_pipelines"].template.replace("{workspaceName}", "ws1")
    url = re.sub(r"\{\w+\}", "x", url)
    response = httpx.get(url, headers={"Authorization": f"Bearer {minted}"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == []
    # a Read token cannot publish
    publish = url.replace("/Pipelines", "/Pipelines/Publish")
    assert httpx.post(publish, headers={"Authorization": f"Bearer {minted}"}, json={}, timeout=30).status_code == 403


def test_under_the_services_prefixes_an_unknown_path_or_method_gets_the_error_json(host) -> None:
    ws = f"{host.base_url}/" + re.sub(r"\{\w+\}", "x", ROUTES["list_pipelines"].template).rsplit("/", 1)[0]
    hs = ws.replace("/pipelines/", "/history/", 1)
    headers = {"Authorization": f"Bearer {token([Permission.SUBMIT.value])}"}
    # a route's path with a method it does not take: 405, naming the methods it takes
    for method, url, allowed in [
        ("GET", f"{ws}/PipelineRuns/PipelineSubmit/p1", "POST"),
        ("PUT", f"{ws}/PipelineRuns/PipelineSubmit/p1", "POST"),
        ("POST", f"{ws}/PipelineRuns/r1", "GET"),
        ("DELETE", f"{ws}/Pipelines/p1", "GET"),
        ("GET", f"{hs}/experiments/e/runs:query", "POST"),
    ]:
        response = httpx.request(method, url, headers=headers, timeout=30)
        body = assert_error(response, 405, "MethodNotAllowed")
        assert response.headers["Allow"] == allowed, (method, url)
        assert method in body["Error"]["Message"]
    # a path no route takes: 404
    for url in (f"{ws}/Bogus", f"{ws}/PipelineRuns/PipelineSubmit/p1/extra", f"{hs}/nothing/here",
                f"{host.base_url}/artifact/v2.0/x", f"{host.base_url}/pipelines"):
        assert_error(httpx.get(url, headers=headers, timeout=30), 404, "NotFound")
    # without a token: 401, as on every route
    response = httpx.get(f"{ws}/Bogus", timeout=30)
    assert_error(response, 401, "Unauthorized")
    # outside them, the host's own answer: an empty 404
    response = httpx.get(f"{host.base_url}/elsewhere", headers=headers, timeout=30)
    assert response.status_code == 404 and response.content == b""
