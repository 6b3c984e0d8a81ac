"""The callers you can copy (clients/java, clients/csharp), built and run for real.

Each program is compiled with the Debian toolchain CI installs (.ci/run): JDK 17
with Gson, Mono with Newtonsoft.Json. It runs as a child process against the
local host on Azurite: it gets a token by OAuth2 client credentials from a token
endpoint served here (tokens minted by the development issuer, which the host
trusts), submits to a pipeline endpoint, polls the run history, finds the step's
output and downloads its files in 8 MiB ranges. The test compares the bytes on
disk with what the step wrote. A missing tool fails (never skips) with the
package to install.
"""

from __future__ import annotations

import glob
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from pipelines.auth import devissuer
from pipelines.authoring import Pipeline, PipelineData, PipelineParameter, PythonScriptStep
from pipelines.client import PipelineEndpoint, Workspace, publish
from tests.service import ROOT, token

CLIENTS = ROOT / "clients"
GSON_JAR = Path("/usr/share/java/gson.jar")
NEWTONSOFT_CANDIDATES = (
    "/usr/lib/cli/Newtonsoft.Json-*/Newtonsoft.Json.dll",
    "/usr/lib/cli/newtonsoft-json/Newtonsoft.Json.dll",
    "/usr/lib/mono/gac/Newtonsoft.Json/*/Newtonsoft.Json.dll",
)

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "rg"
WORKSPACE = "ws1"
CLIENT_ID = "11111111-2222-4333-8444-555555555555"
# Characters a form must encode: a caller that does not encode them sends another secret.
CLIENT_SECRET = "s3cr~et+with&special=chars%/ ok"
SCOPE = f"{devissuer.DEV_AUDIENCE}/.default"
TOKEN_PATH = "/00000000-0000-4000-8000-0000000de7e1/oauth2/v2.0/token"
# What the caller needs: submit (which includes reading runs and outputs).
CALLER_ROLES = ["Pipelines.Submit"]

STEP = "score"
OUTPUT = "scored_data"


# -- the toolchains ---------------------------------------------------------------------------------
def _need_command(command: str, package: str) -> str:
    path = shutil.which(command)
    if path is None:
        pytest.fail(f"`{command}` is not installed: `apt-get install {package}` (.ci/run installs it)", pytrace=False)
    return path


def _build(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.fail(f"building {what} failed ({' '.join(command)}):\n{result.stdout}{result.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def java_caller(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The Java caller compiled once per session: the command that runs it."""
    javac = _need_command("javac", "default-jdk-headless")
    java = _need_command("java", "default-jdk-headless")
    if not GSON_JAR.is_file():
        pytest.fail(
            f"{GSON_JAR} is missing: `apt-get install libgoogle-gson-java` (.ci/run installs it)", pytrace=False
        )
    out = tmp_path_factory.mktemp("java-caller")
    _build([javac, "-Xlint:all", "-Werror", "-cp", str(GSON_JAR), "-d", str(out),
            str(CLIENTS / "java" / "PublishedPipelineCaller.java")], "the Java caller")
    return [java, "-cp", f"{out}{os.pathsep}{GSON_JAR}", "PublishedPipelineCaller"]


@pytest.fixture(scope="session")
def csharp_caller(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The C# caller compiled once per session by Mono's mcs: the command that runs it."""
    mcs = _need_command("mcs", "mono-devel")
    mono = _need_command("mono", "mono-devel")
    found = [path for pattern in NEWTONSOFT_CANDIDATES for path in sorted(glob.glob(pattern))]
    if not found:
        pytest.fail("Newtonsoft.Json.dll is missing: `apt-get install libnewtonsoft-json-cil-dev` "
                    "(.ci/run installs it)", pytrace=False)
    out = tmp_path_factory.mktemp("csharp-caller")
    newtonsoft = out / "Newtonsoft.Json.dll"  # next to the program, so mono finds it with or without the GAC
    shutil.copyfile(found[0], newtonsoft)
    exe = out / "PublishedPipelineCaller.exe"
    _build([mcs, "-warnaserror+", f"-out:{exe}", "-r:System.Net.Http.dll", f"-r:{newtonsoft}",
            str(CLIENTS / "csharp" / "PublishedPipelineCaller.cs")], "the C# caller")
    return [mono, str(exe)]


def caller(request: pytest.FixtureRequest, language: str) -> list[str]:
    return request.getfixturevalue(f"{language}_caller")


# -- a token endpoint (OAuth2 client credentials, as Entra ID answers it) ---------------------------
class TokenEndpoint:
    def __init__(self) -> None:
        self.requests: list[dict[str, list[str]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                form = parse_qs(body, keep_blank_values=True)
                endpoint.requests.append(form)
                status, answer = endpoint.answer(self.path, self.headers.get("Content-Type", ""), form)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{TOKEN_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="token-endpoint", daemon=True)

    @staticmethod
    def answer(path: str, content_type: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        def value(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values and len(values) == 1 else None

        if path != TOKEN_PATH:
            return 404, {"error": "not_found"}
        if not content_type.lower().startswith("application/x-www-form-urlencoded"):
            return 400, {"error": "invalid_request", "error_description": f"form expected, got {content_type!r}"}
        if value("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": f"grant_type {value('grant_type')!r}"}
        if value("client_id") != CLIENT_ID or value("client_secret") != CLIENT_SECRET:
            return 401, {"error": "invalid_client",
                         "error_description": "AADSTS7000215: Invalid client secret provided."}
        if value("scope") != SCOPE:
            return 400, {"error": "invalid_scope", "error_description": f"scope {value('scope')!r}"}
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                     "access_token": devissuer.mint(CALLER_ROLES, app_id=CLIENT_ID)}

    def __enter__(self) -> TokenEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def token_endpoint() -> Iterator[TokenEndpoint]:
    with TokenEndpoint() as endpoint:
        yield endpoint


# -- the service and the pipeline ---------------------------------------------------------------------


def predictions_csv() -> bytes:
    """9 MiB and a bit of CSV that never repeats: a part fetched from the wrong offset shows."""
    lines = [b"id,score\n"]
    size = len(lines[0])
    row = 0
    while size < 9 * 1024 * 1024 + 4321:
        line = b"%d,%s\n" % (row, hashlib.sha256(b"%d" % row).hexdigest().encode())
        lines.append(line)
        size += len(line)
        row += 1
    return b"".join(lines)


def scoring_pipeline(folder: Path) -> Pipeline:
    """One step, `score`, writing predictions.csv (over 8 MiB), details/summary.txt and empty.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text(
        "import argparse, hashlib, pathlib\n\n"
        + inspect.getsource(predictions_csv)
        + textwrap.dedent("""

            parser = argparse.ArgumentParser()
            parser.add_argument("--out")
            parser.add_argument("--label")
            args = parser.parse_args()
            out = pathlib.Path(args.out)
            (out / "predictions.csv").write_bytes(predictions_csv())
            (out / "details").mkdir()
            (out / "details" / "summary.txt").write_bytes(("label=" + args.label + "\\n").encode())
            (out / "empty.txt").write_bytes(b"")
            print("scored")
        """)
    )
    label = PipelineParameter("label", default_value="default")
    output = PipelineData(OUTPUT)
    return Pipeline(steps=[PythonScriptStep(
        "score.py", name=STEP, arguments=["--out", output, "--label", label], outputs=[output], source_directory=folder,
    )])


def failing_pipeline(folder: Path) -> Pipeline:
    """The same step and output names, but the script fails."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text('import sys\nsys.exit("the model file is missing")\n')
    label = PipelineParameter("label", default_value="default")
    output = PipelineData(OUTPUT)
    return Pipeline(steps=[PythonScriptStep(
        "score.py", name=STEP, arguments=["--out", output, "--label", label], outputs=[output], source_directory=folder,
    )])


def publish_behind_endpoint(host, pipeline: Pipeline, name: str) -> str:
    """Publish with the Python client, put an endpoint in front: the endpoint's id."""
    workspace = Workspace(base_url=host.base_url, subscription_id=SUBSCRIPTION, resource_group=RESOURCE_GROUP,
                          name=WORKSPACE, token_provider=lambda: token())
    published = publish(workspace, pipeline, name, None, "1.0")
    return PipelineEndpoint.publish(workspace, f"{name}-endpoint", None, published).id


@pytest.fixture
def endpoint_id(host, tmp_path) -> str:
    return publish_behind_endpoint(host, scoring_pipeline(tmp_path / "code"), "callers")


# -- running a caller ---------------------------------------------------------------------------------
def run_caller(command: list[str], options: dict[str, str], env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    # Only what the test gives: nothing of the developer's or the suite's settings.
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("PIPELINES_", "AZURE_", "AzureWebJobs"))}
    environment.update(env or {})
    argv = list(command)
    for name, value in options.items():
        argv += [name, value]
    return subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=300)


def options(host_url: str, token_url: str, endpoint: str, language: str, download: Path) -> dict[str, str]:
    return {
        "--host": host_url,
        "--token-url": token_url,
        "--client-id": CLIENT_ID,
        "--scope": SCOPE,
        "--subscription-id": SUBSCRIPTION,
        "--resource-group": RESOURCE_GROUP,
        "--workspace": WORKSPACE,
        "--endpoint-id": endpoint,
        "--experiment": f"callers-{language}",
        "--parameters": json.dumps({"label": f"from {language}"}),
        "--step": STEP,
        "--output": OUTPUT,
        "--download-dir": str(download),
        "--poll-seconds": "1",
        "--timeout-seconds": "240",
    }


def files_under(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


LANGUAGES = ["java", "csharp"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_caller_submits_waits_and_downloads_the_step_output(
    request, language, host, endpoint_id, token_endpoint, tmp_path
) -> None:
    command = caller(request, language)
    download = tmp_path / "download"
    # The secret from the environment, as the READMEs recommend; everything else as options.
    result = run_caller(command, options(host.base_url, token_endpoint.url, endpoint_id, language, download),
                        env={"AZURE_CLIENT_SECRET": CLIENT_SECRET})
    said = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, said

    assert files_under(download) == {
        "predictions.csv": predictions_csv(),
        "details/summary.txt": f"label=from {language}\n".encode(),
        "empty.txt": b"",
    }, said
    expected_size = len(predictions_csv())
    assert expected_size > 8 * 1024 * 1024  # two ranges, the second one short
    assert "submitted run " in result.stdout, said
    assert "status: Completed" in result.stdout, said
    assert f"predictions.csv ({expected_size} bytes)" in result.stdout, said
    assert "details/summary.txt (" in result.stdout and "empty.txt (0 bytes)" in result.stdout, said

    assert token_endpoint.requests, "the caller never asked for a token"
    form = token_endpoint.requests[0]
    assert form == {"grant_type": ["client_credentials"], "client_id": [CLIENT_ID],
                    "client_secret": [CLIENT_SECRET], "scope": [SCOPE]}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_wrong_client_secret_fails_with_the_token_endpoints_error(
    request, language, token_endpoint, tmp_path
) -> None:
    command = caller(request, language)
    download = tmp_path / "download"
    # The token request fails before the service is called: no host is needed (nothing listens on port 9).
    chosen = options("http://127.0.0.1:9", token_endpoint.url, "no-endpoint", language, download)
    chosen["--client-secret"] = "not-the-secret"
    result = run_caller(command, chosen)
    said = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode != 0, said
    output = result.stdout + result.stderr
    assert "401" in output and "invalid_client" in output and "AADSTS7000215" in output, said
    assert "submitted run" not in output, said
    assert not download.exists() or not any(download.iterdir()), said
    assert [form["client_secret"] for form in token_endpoint.requests] == [["not-the-secret"]]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_failed_run_exits_3_with_the_runs_error(request, language, host, token_endpoint, tmp_path) -> None:
    command = caller(request, language)
    endpoint = publish_behind_endpoint(host, failing_pipeline(tmp_path / "code"), "failing")
    download = tmp_path / "download"
    result = run_caller(command, options(host.base_url, token_endpoint.url, endpoint, language, download),
                        env={"AZURE_CLIENT_SECRET": CLIENT_SECRET})
    said = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 3, said
    assert "status: Failed" in result.stdout, said
    # the history's `error` object, printed as it came: its message holds the step's stderr
    assert "the model file is missing" in result.stdout, said
    assert not download.exists() or not any(download.iterdir()), said
