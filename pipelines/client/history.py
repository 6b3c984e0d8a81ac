"""Runs read back as Azure ML SDK v1 read them: run details, step runs, outputs.

    pipeline_run = PipelineRun.get(workspace, run_id)
    pipeline_run.get_details()["status"]                  # "Completed"
    for step_run in pipeline_run.get_children():          # StepRun objects
        print(step_run.name, step_run.get_status())
    step_run = pipeline_run.find_step_run("score")[0]
    step_run.get_output_data("predictions").download("./out")

All of it goes through the service with the workspace's token: the history
family (`/history/v1.0/...`) for runs, the pipelines family for
outputs. Files come down in 8 MiB ranges, each written to disk as it arrives,
so a file of any size never sits whole in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pipelines.client.workspace import Workspace
from pipelines.errors import PipelinesError

PART_BYTES = 8 * 1024 * 1024
FINISHED = ("Completed", "Failed", "Canceled")


def paginated(workspace: Workspace, method: str, url: str, *, body: Mapping[str, Any] | None = None,
              params: Mapping[str, Any] | None = None, token_key: str = "continuationToken") -> Iterator[Any]:
    """Every item of a `{value, continuationToken}` list, page after page."""
    query = dict(params or {})
    payload = dict(body or {})
    while True:
        if method == "POST":
            page = workspace.request(method, url, json_body=payload).json()
        else:
            page = workspace.request(method, url, params=query).json()
        yield from page.get("value") or []
        token = page.get("continuationToken")
        if not token:
            return
        if method == "POST":
            payload["continuationToken"] = token
        else:
            query[token_key] = token


@dataclass
class HistoryRun:
    """A run as the history family answers it (RunDto): a pipeline run or a step run."""

    workspace: Workspace
    dto: dict[str, Any]

    @staticmethod
    def of(workspace: Workspace, dto: dict[str, Any]) -> HistoryRun:
        if dto.get("runType") == "azureml.StepRun":
            return StepRun(workspace, dto)
        return HistoryRun(workspace, dto)

    @classmethod
    def get(cls, workspace: Workspace, run_id: str) -> HistoryRun:
        return cls.of(workspace, workspace.request("GET", f"{workspace.history_url}/runs/{quote(run_id)}").json())

    @property
    def id(self) -> str:
        return str(self.dto["runId"])

    @property
    def name(self) -> str | None:
        return self.dto.get("name")

    @property
    def status(self) -> str:
        return str(self.dto.get("status"))

    def refresh(self) -> HistoryRun:
        self.dto = self.workspace.request("GET", f"{self.workspace.history_url}/runs/{quote(self.id)}").json()
        return self

    def get_status(self) -> str:
        """The history word: NotStarted, Queued, Running, CancelRequested, Completed, Failed, Canceled."""
        if self.status not in FINISHED:
            self.refresh()
        return self.status

    def get_details(self) -> dict[str, Any]:
        return dict(self.workspace.request("GET", f"{self.workspace.history_url}/runs/{quote(self.id)}/details").json())

    def get_children(self) -> list[HistoryRun]:
        experiment = quote(self._experiment())
        url = f"{self.workspace.history_url}/experiments/{experiment}/runs/{quote(self.id)}/children"
        items = paginated(self.workspace, "GET", url, params={"$top": 500}, token_key="$continuationToken")
        return [HistoryRun.of(self.workspace, dto) for dto in items]

    def _experiment(self) -> str:
        experiment_id = self.dto["experimentId"]
        found = self.workspace.request("GET", f"{self.workspace.history_url}/experimentids/{quote(experiment_id)}")
        return str(found.json()["name"])


class StepRun(HistoryRun):
    """One step of a pipeline run, with its outputs and logs."""

    @property
    def node_id(self) -> str:
        return str(self.dto["tags"]["azureml.nodeid"])

    @property
    def pipeline_run_id(self) -> str:
        return str(self.dto["tags"]["azureml.pipeline"])

    def get_outputs(self) -> dict[str, PortDataReference]:
        answer = self.workspace.request("POST", f"/PipelineRuns/{quote(self.pipeline_run_id)}/Outputs",
                                        json_body=[self.node_id]).json()
        return {name: PortDataReference(self.workspace, name, node) for name, node in answer.items()}

    def get_output_data(self, name: str) -> PortDataReference:
        outputs = self.get_outputs()
        if name not in outputs:
            known = ", ".join(sorted(outputs)) or "none yet"
            raise PipelinesError(f"step {self.name!r} has no output {name!r} (its outputs: {known})", target=name)
        return outputs[name]

    def get_log(self, kind: str = "STDOUT", attempt: int | None = None) -> str:
        """The step's log: of its latest attempt, or of `attempt` (1, 2, ...)."""
        return self.workspace.request(
            "POST", f"/PipelineRuns/{quote(self.pipeline_run_id)}/Graph/Shareable/{kind}", json_body=[self.node_id],
            params={"attempt": attempt} if attempt is not None else None,
        ).text

    def get_stdout_log(self) -> str:
        """SDK v1's name: the step's STDOUT (latest attempt)."""
        return self.get_log("STDOUT")

    def get_stderr_log(self) -> str:
        return self.get_log("STDERR")

    def get_job_log(self) -> str:
        return self.get_log("JobLog")


@dataclass
class OutputFile:
    path: str
    size: int
    url: str


@dataclass
class PortDataReference:
    """A step's output, as SDK v1's `StepRun.get_output_data()` gave it."""

    workspace: Workspace
    name: str
    node_output: dict[str, Any]

    @property
    def uri(self) -> str:
        return str(self.node_output["DataLocation"]["DataReference"]["AzureBlobReference"]["Uri"])

    @property
    def datastore_name(self) -> str | None:
        """SDK v1's `PortDataReference.datastore_name`."""
        return self._blob_reference().get("AmlDataStoreName")

    @property
    def path_on_datastore(self) -> str | None:
        return self._blob_reference().get("RelativePath")

    def _blob_reference(self) -> dict[str, Any]:
        location = self.node_output.get("DataLocation") or {}
        return dict((location.get("DataReference") or {}).get("AzureBlobReference") or {})

    @property
    def size(self) -> int | None:
        size = self.node_output.get("LogicalSizeInBytes")
        return int(size) if size is not None else None

    def files(self) -> list[OutputFile]:
        found: list[OutputFile] = []
        params: dict[str, str] = {}
        while True:
            listing = self.workspace.request("GET", self.uri, params=params).json()
            found += [OutputFile(f["Path"], int(f["Size"]), f["Url"]) for f in listing["Files"]]
            if not listing.get("ContinuationToken"):
                return found
            params["continuationToken"] = listing["ContinuationToken"]

    def download(self, local_path: str | os.PathLike[str] = ".", overwrite: bool = False,
                 show_progress: bool = True) -> str:
        """Download every file of the output under `local_path/<output name>/`; returns that folder."""
        target = Path(local_path) / self.name
        files = self.files()
        progress = _progress(show_progress, sum(f.size for f in files), f"{self.name}")
        with progress as bar:
            for file in files:
                destination = (target / file.path).resolve()
                if not destination.is_relative_to(target.resolve()):
                    raise PipelinesError(f"the output names a file outside its folder: {file.path!r}")
                if destination.exists() and not overwrite:
                    raise PipelinesError(f"{destination} exists (pass overwrite=True to replace it)")
                download_file(self.workspace, file.url, file.size, destination, bar.advance)
        return str(target)


def download_file(workspace: Workspace, url: str, size: int, destination: Path, advance: Any = None) -> None:
    """One file in PART_BYTES ranges, streamed to `destination.partial` and renamed when whole."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with open(partial, "wb") as sink:
        if size == 0:
            workspace.request("GET", url)
        for first in range(0, size, PART_BYTES):
            last = min(first + PART_BYTES, size) - 1
            response = workspace.request("GET", url, headers={"Range": f"bytes={first}-{last}"}, stream=True)
            received = 0
            for chunk in response.iter_content(1024 * 1024):
                sink.write(chunk)
                received += len(chunk)
                if advance:
                    advance(len(chunk))
            if response.status_code != 206 or received != last - first + 1:
                raise PipelinesError(f"{url}: asked for bytes {first}-{last}, got {received} ({response.status_code})")
    os.replace(partial, destination)


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def advance(self, count: int) -> None:
        return None


class _Progress:
    """A rich progress bar of bytes downloaded."""

    def __init__(self, total: int, label: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        # On stderr: what a command prints on stdout stays clean for pipes.
        self.progress = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), console=Console(stderr=True), transient=False)
        self.task = self.progress.add_task(label, total=total)

    def __enter__(self) -> _Progress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def advance(self, count: int) -> None:
        self.progress.advance(self.task, count)


def _progress(show: bool, total: int, label: str) -> _Progress | _NoProgress:
    return _Progress(total, label) if show else _NoProgress()
