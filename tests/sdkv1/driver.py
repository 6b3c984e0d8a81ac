"""The real Azure ML SDK v1 (azureml-core, azureml-pipeline-core) driven against the local host.

Run by tests/integration/test_sdk_v1.py with the SDK's own venv (`make sdkv1`), never the app's:

    .venv-sdkv1/bin/python tests/sdkv1/driver.py BASE_URL TOKEN_FILE SETUP_JSON

SETUP_JSON names what the test published: `pipeline` (two steps, train then score, score's
output `predictions`), `endpoint` (its endpoint's name), `spare` (a pipeline behind no endpoint),
`held` (a one-step pipeline whose step waits), `workspace`, `subscription`, `resource_group`.
The script does what migrating code does, one call after another, and prints one JSON object of
what each call gave back; an exception ends it with a traceback (exit 1).

How the SDK finds the host, as it finds Azure ML without ARM in a remote run: a ServiceContext
whose discovery URL is a discovery document served here on 127.0.0.1 (every service key is the
host's base URL), made a Workspace by `Workspace._from_service_context`; the SDK's own
`TokenAuthentication` puts the token on every call. Nothing of the SDK is patched but
`requests.Session.send`, wrapped to refuse any host but 127.0.0.1: nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

os.environ["HOME"] = tempfile.mkdtemp(prefix="sdkv1-home-")  # the SDK's discovery cache goes under it

import requests  # noqa: E402

_send = requests.Session.send


def _loopback_only(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
    if urlsplit(request.url).hostname not in ("127.0.0.1", "localhost"):
        raise requests.exceptions.ConnectionError(f"the test sends nothing off this machine: {request.url}")
    return _send(self, request, **kwargs)


requests.Session.send = _loopback_only  # type: ignore[method-assign]


def discovery(base_url: str) -> str:
    """A discovery document (azureml/_base_sdk_common/service_discovery.py reads it): every key the host."""
    body = json.dumps({key: base_url for key in ("api", "experimentation", "history", "hyperdrive",
                                                   "modelmanagement", "studio")}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/discovery"


def connect(base_url: str, token_file: str, setup: dict[str, Any]) -> Any:
    """The SDK's Workspace of the host at `base_url`, as a remote run makes it (no ARM)."""
    from azureml._restclient.service_context import ServiceContext
    from azureml.core import Workspace
    from azureml.core.authentication import TokenAuthentication

    token = Path(token_file).read_text().strip()
    auth = TokenAuthentication(lambda audience: token, cloud="AzureCloud")
    context = ServiceContext(setup["subscription"], setup["resource_group"], setup["workspace"],
                             "00000000-0000-0000-0000-00000000f00d", discovery(base_url), auth)
    return Workspace._from_service_context(context, _location="local")


def main(base_url: str, token_file: str, setup_file: str) -> dict[str, Any]:
    from azureml.core import Experiment, Run
    from azureml.pipeline.core import PipelineEndpoint, PipelineRun, PublishedPipeline

    setup = json.loads(Path(setup_file).read_text())
    ws = connect(base_url, token_file, setup)
    seen: dict[str, Any] = {}

    # Published pipelines: get, list, submit, and the run followed to its end
    published = PublishedPipeline.get(ws, setup["pipeline"])
    seen["published"] = {"id": published.id, "name": published.name, "status": published.status}
    seen["listed"] = sorted(p.id for p in PublishedPipeline.list(ws))
    run = published.submit(ws, experiment_name="sdk-v1")
    seen["final"] = run.wait_for_completion(show_output=False, timeout_seconds=120)
    seen["status"] = run.get_status()
    details = run.get_details()
    seen["details"] = {"runId": details["runId"], "status": details["status"]}

    # Its steps, their outputs and logs
    steps = {step.name: step for step in run.get_steps()}
    seen["steps"] = sorted(steps)
    score = steps["score"]
    seen["score"] = {"status": score.get_status(), "outputs": sorted(score.get_outputs()),
                     "stdout": score.get_stdout_log(), "job_log": score.get_job_log()}
    reference = score.get_output_data("predictions")
    seen["output"] = {"datastore": reference.datastore_name, "path": reference.path_on_datastore}

    # Run history, the way SDK v1 reads it
    experiment = Experiment(ws, "sdk-v1")
    seen["experiment_runs"] = [(r.id, type(r).__name__) for r in experiment.get_runs()]
    seen["run_list"] = [r.id for r in Run.list(experiment)]
    again = PipelineRun(experiment, run.id)
    seen["children"] = sorted(child.name for child in again.get_children())
    seen["found_step"] = [step.id for step in PipelineRun.get(ws, run.id).find_step_run("score")]
    seen["file_names"] = again.get_file_names()
    seen["experiments"] = [e.name for e in Experiment.list(ws)]

    # A release job's marks on the run: tags, a property, a name; then found by its tag
    run.tag("approved", "true")
    run.tag("DeploymentCandidate")
    run.add_properties({"ReleaseId": "42"})
    run.display_name = "nightly 42"
    run.remove_tags(["DeploymentCandidate"])
    marked = Run.get(ws, run.id)
    seen["marked"] = {"tags": marked.get_tags(), "release": marked.get_properties().get("ReleaseId"),
                      "display_name": marked.display_name}
    seen["tagged"] = [r.id for r in experiment.get_runs(tags={"approved": "true"})]

    # Endpoints: by name, listed, submitted, their pipelines
    endpoint = PipelineEndpoint.get(ws, name=setup["endpoint"])
    seen["endpoint"] = {"id": endpoint.id, "default_version": endpoint.default_version}
    seen["endpoints"] = [e.name for e in PipelineEndpoint.list(ws)]
    seen["endpoint_pipelines"] = [p.id for p in endpoint.list_pipelines()]
    by_endpoint = endpoint.submit("sdk-v1")
    seen["endpoint_final"] = by_endpoint.wait_for_completion(show_output=False, timeout_seconds=120)

    # A pipeline's status, and a run canceled while its step runs
    spare = PublishedPipeline.get(ws, setup["spare"])
    spare.disable()
    seen["disabled"] = PublishedPipeline.get(ws, setup["spare"]).status
    spare.enable()
    seen["enabled"] = PublishedPipeline.get(ws, setup["spare"]).status
    held = PublishedPipeline.get(ws, setup["held"]).submit(ws, experiment_name="sdk-v1-cancel")
    seen["held"] = held.id
    PipelineRun(Experiment(ws, "sdk-v1-cancel"), held.id).cancel()
    seen["canceled"] = held.wait_for_completion(show_output=False, timeout_seconds=120)

    # An experiment tagged, archived and reactivated
    done = Experiment(ws, "sdk-v1-cancel")
    done.set_tags({"owner": "forecast"})
    done.archive()
    seen["archived"] = {"time": done.archived_time is not None,
                        "active": [e.name for e in Experiment.list(ws)],
                        "archived": [e.name for e in Experiment.list(ws, view_type="ArchivedOnly")],
                        "tags": Experiment(ws, "sdk-v1-cancel").tags}
    done.reactivate()
    seen["reactivated"] = [e.name for e in Experiment.list(ws)]
    done.remove_tags(["owner"])
    seen["untagged"] = Experiment(ws, "sdk-v1-cancel").tags
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
