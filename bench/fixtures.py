"""The pipelines the bench publishes, and a small authenticated HTTP client.

Steps are trivial on purpose (a print, or a one-line file for the next step),
so what is measured is the service's own overhead.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from pipelines.auth import devissuer
from pipelines.authoring import Pipeline, PipelineData, PipelineParameter, PythonScriptStep
from pipelines.client import PublishedPipeline, Workspace, publish

ROLES = ("Pipelines.Read", "Pipelines.Submit", "Pipelines.Publish", "Pipelines.Admin")
RESOURCE_GROUP = "rg"
TERMINAL = (2, 3, 4)  # Failed, Finished, Canceled
FINISHED = 3

# The first and the last statement stamp time.time(); with --stamps, both go to that file
# as "index first last" (issue 14: hand-off = a step's first stamp minus its parent's last).
_LINK_SCRIPT = textwrap.dedent(
    """
    import time; first = time.time()
    import pathlib, random, sys
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    # --sleep S > 0: sleep between S and S + 1 seconds, so each successor's message
    # lands at a random point of the queue poller's back-off (as real steps do).
    sleep = float(args["--sleep"])
    if sleep > 0:
        time.sleep(random.uniform(sleep, sleep + 1))
    if "--inp" in args:
        pathlib.Path(args["--inp"], "value.txt").read_text()
    pathlib.Path(args["--out"], "value.txt").write_text("ok")
    print("done")
    last = time.time()
    if args.get("--stamps"):
        with open(args["--stamps"], "a") as stamps:
            stamps.write(f"{args['--index']} {first!r} {last!r}\\n")
    """
)


def one_step(folder: Path) -> Pipeline:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text("print('ok')\n")
    return Pipeline(steps=[PythonScriptStep("main.py", name="main", source_directory=folder)])


def linear(folder: Path, length: int, fresh_interpreter: bool = False) -> Pipeline:
    """step0 → step1 → ... each reading its parent's output; parameter `sleep` (default 0) slows
    steps, parameter `stamps` (a file path; default "": none) collects each script's stamps.
    `fresh_interpreter`: every step asks for a new interpreter rather than a warm fork."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "link.py").write_text(_LINK_SCRIPT)
    sleep = PipelineParameter(name="sleep", default_value=0.0)
    stamps = PipelineParameter(name="stamps", default_value="")
    outputs = [PipelineData(f"out{i}") for i in range(length)]
    steps = []
    for i, output in enumerate(outputs):
        arguments: list[Any] = ["--out", output, "--sleep", sleep, "--index", i, "--stamps", stamps]
        inputs = []
        if i:
            arguments += ["--inp", outputs[i - 1]]
            inputs.append(outputs[i - 1])
        steps.append(
            PythonScriptStep(
                "link.py", name=f"step{i}", arguments=arguments, inputs=inputs, outputs=[output],
                source_directory=folder, fresh_interpreter=fresh_interpreter,
            )
        )
    return Pipeline(steps=steps)


def step_order(length: int) -> list[str]:
    return [f"step{i}" for i in range(length)]


@dataclass
class Api:
    """The service as a client sees it: one long-lived token, httpx clients with keep-alive."""

    base_url: str
    workspace_name: str
    token: str = field(default_factory=lambda: devissuer.mint(list(ROLES), lifetime_seconds=3600))

    @property
    def workspace(self) -> Workspace:
        return Workspace(
            base_url=self.base_url,
            resource_group=RESOURCE_GROUP,
            name=self.workspace_name,
            token_provider=lambda: self.token,
        )

    @property
    def ws_url(self) -> str:
        return self.workspace.url

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.ws_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )

    def publish(self, pipeline: Pipeline, name: str) -> PublishedPipeline:
        return publish(self.workspace, pipeline, name, None, "1")


def submit(
    client: httpx.Client, pipeline_id: str, parameters: dict[str, Any] | None = None, *, reuse: bool = False
) -> str:
    """A submit; without `reuse` it sends RegenerateOutputs, so every step runs (figures of
    execution submit one request many times, which step reuse would otherwise answer at once)."""
    body: dict[str, Any] = {"ExperimentName": "bench"}
    if not reuse:
        body["RegenerateOutputs"] = True
    if parameters:
        body["ParameterAssignments"] = parameters
    response = client.post(f"/PipelineRuns/PipelineSubmit/{pipeline_id}", json=body)
    response.raise_for_status()
    return str(response.json()["Id"])


def step_statuses(client: httpx.Client, run_id: str) -> dict[str, Any]:
    response = client.post(f"/PipelineRuns/{run_id}/Graph/AllNodes/Status")
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def run_entity(client: httpx.Client, run_id: str) -> dict[str, Any]:
    response = client.get(f"/PipelineRuns/{run_id}")
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]
