"""The studio's serving side: the built page is current and served without a token, its
settings say how to sign in, the development host hands tokens to loopback pages only,
and the front-end's own unit tests (vitest) pass. The browser tests are in
tests/integration/test_studio_browser.py."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from pipelines import studio
from tests.service import ROOT

NPX = shutil.which("npx")


def node_tool(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    if NPX is None or not (ROOT / "node_modules" / ".bin" / "vite").exists():
        pytest.fail("Node and the npm packages are needed: run `make setup` (npm ci)")
    return subprocess.run([NPX, "--no-install", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_the_shipped_assets_are_what_the_sources_build(tmp_path: Path) -> None:
    """pipelines/studio/static is committed and shipped as it is: it must be the build of studio/."""
    built = tmp_path / "static"
    result = node_tool("vite", "build", "--config", "studio/vite.config.mts", "--outDir", str(built), "--emptyOutDir")
    assert result.returncode == 0, result.stdout + result.stderr
    shipped = studio.STATIC
    stale = "the studio's shipped assets are stale: run `npm run build:studio` (or `make studio`) and commit them"
    assert tree(built) == tree(shipped), stale
    _, mismatch, errors = filecmp.cmpfiles(built, shipped, tree(built), shallow=False)
    assert not mismatch and not errors, f"{stale}: {mismatch or errors}"
    if os.environ.get("CI") and (ROOT / ".git").exists():
        # `make setup` rebuilt them before the tests: a commit with stale assets shows as a change.
        status = subprocess.run(["git", "status", "--porcelain", "--", "pipelines/studio/static"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
        assert status == "", f"{stale}:\n{status}"


def test_the_front_end_unit_tests_pass() -> None:
    result = node_tool("vitest", "run", "--config", "studio/vite.config.mts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_page_and_its_files_are_served_without_a_token(host) -> None:
    page = httpx.get(f"{host.base_url}/studio", timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-cache"
    for path in ("/studio/", "/studio/w/default/runs/abc", "/studio/w/x/endpoints/y/run"):
        again = httpx.get(f"{host.base_url}{path}", timeout=30)
        assert again.status_code == 200 and again.text == page.text, path
    scripts = [name for name in studio.assets() if name.startswith("assets/") and name.endswith(".js")]
    assert scripts
    script = httpx.get(f"{host.base_url}/studio/{scripts[0]}", timeout=30)
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "immutable" in script.headers["cache-control"]
    assert script.content == (studio.STATIC / scripts[0]).read_bytes()


def test_unknown_files_and_paths_outside_the_build_are_404(host) -> None:
    for path in ("/studio/assets/nope.js", "/studio/..%2F__init__.py", "/studio/%2e%2e/%2e%2e/function_app.py",
                 "/studio/favicon.ico"):
        response = httpx.get(f"{host.base_url}{path}", timeout=30)
        assert response.status_code == 404, (path, response.status_code)
        assert response.json()["Error"]["Code"] == "NotFound"


def test_the_settings_say_how_to_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINES_DEV_ISSUER", "true")
    local = studio.config()
    assert local["signIn"] == "development" and local["tokenUrl"] == "/.devissuer/token"
    assert local["workspace"] == {
        "subscriptionId": studio.DEFAULT_SUBSCRIPTION, "resourceGroup": "local", "name": "default"
    }
    monkeypatch.delenv("PIPELINES_DEV_ISSUER")
    assert studio.config()["signIn"] == "unconfigured"
    tenant = "11111111-2222-3333-4444-555555555555"
    monkeypatch.setenv("PIPELINES_AUTH_TENANT_IDS", tenant)
    monkeypatch.setenv("PIPELINES_AUTH_AUDIENCES", "api://pipelines-app")
    assert studio.config()["missing"] == ["PIPELINES_STUDIO_CLIENT_ID"]
    monkeypatch.setenv("PIPELINES_STUDIO_CLIENT_ID", "99999999-2222-3333-4444-555555555555")
    monkeypatch.setenv("PIPELINES_STUDIO_WORKSPACE", "prod")
    entra = studio.config()
    assert entra["signIn"] == "entra"
    assert entra["authority"] == f"https://login.microsoftonline.com/{tenant}"
    assert entra["scopes"] == ["api://pipelines-app/.default"]
    assert entra["workspace"]["name"] == "prod"
    assert not any("secret" in key.lower() for key in entra)
    monkeypatch.setenv("PIPELINES_STUDIO_SCOPES", "api://pipelines-app/user_impersonation")
    assert studio.config()["scopes"] == ["api://pipelines-app/user_impersonation"]


def test_the_served_settings_match(host) -> None:
    response = httpx.get(f"{host.base_url}/studio/config.json", timeout=30)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["signIn"] == "development"


def test_the_development_host_hands_a_token_to_loopback_pages_only(host) -> None:
    from pipelines.auth import devissuer
    from tests.service import Service

    answer = httpx.get(f"{host.base_url}/.devissuer/token", params={"roles": "Pipelines.Read"}, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in answer.headers  # no other origin may read it
    token = answer.json()["access_token"]
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["roles"] == ["Pipelines.Read"] and claims["iss"] == devissuer.DEV_ISSUER
    service = Service(host.base_url, workspace="default")
    listed = httpx.get(service.ws + "/Pipelines", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert listed.status_code == 200
    everything = httpx.get(f"{host.base_url}/.devissuer/token", timeout=30).json()["access_token"]
    assert jwt.decode(everything, options={"verify_signature": False})["roles"] == list(devissuer.DEFAULT_ROLES)
    bad = httpx.get(f"{host.base_url}/.devissuer/token", params={"roles": "Pipelines.Everything"}, timeout=30)
    assert bad.status_code == 400
    rebound = httpx.get(f"{host.base_url}/.devissuer/token", headers={"Host": "attacker.example:7071"}, timeout=30)
    assert rebound.status_code == 403
    assert httpx.post(f"{host.base_url}/.devissuer/token", timeout=30).status_code == 405


def test_no_development_token_without_the_development_issuer(storage_env) -> None:
    from tests.hosting import running_host

    with running_host(dev_issuer=False) as started:
        assert httpx.get(f"{started.base_url}/.devissuer/token", timeout=30).status_code == 404
        config = httpx.get(f"{started.base_url}/studio/config.json", timeout=30).json()
        assert config["signIn"] != "development"


def test_the_openapi_document_names_the_studio_routes() -> None:
    document = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    for path in ("/studio", "/studio/{path}"):
        operation = document["paths"][path]["get"]
        assert operation["security"] == [] and operation["x-required-role"] == "anonymous"
