"""What the worker tells a step script, in one typed shape both sides use.

The worker writes `StepContext` as `context.json` in the step's folder (and
points `PIPELINES_STEP_CONTEXT` at it); `Run.get_context()` reads it back. Each
data input comes with a `StagedInput`: what staging put on disk and where it
came from. Standard library only, like the rest of `pipelines.runtime`: a step's
interpreter imports nothing of the worker.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StagedInput:
    """A dataset or datapath input, downloaded before the script started."""

    kind: str  # "dataset" or "datapath"
    type: str  # "tabular" or "file"
    root: str  # the folder holding the files
    path: str  # what the script's argument gets: the folder, or a one-file datapath's file
    files: list[str] | None = None  # relative to root, in reading order (None: walk the folder)
    dataset: dict[str, Any] | None = None  # id, name, version
    options: dict[str, Any] = field(default_factory=dict)  # separator, header, encoding
    sources: list[dict[str, str]] = field(default_factory=list)  # where the files came from

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> StagedInput:
        return cls(
            kind=str(value.get("kind", "dataset")),
            type=str(value.get("type", "file")),
            root=str(value.get("root") or value.get("path", "")),
            path=str(value.get("path", "")),
            files=value.get("files"),
            dataset=value.get("dataset"),
            options=dict(value.get("options") or {}),
            sources=list(value.get("sources") or []),
        )


@dataclass
class StepInfo:
    id: str
    name: str
    attempt: int


@dataclass
class StepContext:
    run_id: str
    workspace: str
    experiment_name: str | None
    pipeline_id: str
    step: StepInfo
    parameters: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # input name -> local path
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> folder to write into
    # By consumption name (the script never sees the parameter's name).
    input_datasets: dict[str, StagedInput] = field(default_factory=dict)
    metrics_path: str | None = None  # where `run.log` appends; None outside a step
    tags: dict[str, str] = field(default_factory=dict)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> StepContext:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> StepContext:
        step = dict(value.get("step") or {})
        return cls(
            run_id=str(value.get("run_id", "offline")),
            workspace=str(value.get("workspace", "")),
            experiment_name=value.get("experiment_name"),
            pipeline_id=str(value.get("pipeline_id", "")),
            step=StepInfo(str(step.get("id", "")), str(step.get("name", "")), int(step.get("attempt", 1))),
            parameters=dict(value.get("parameters") or {}),
            inputs=dict(value.get("inputs") or {}),
            outputs=dict(value.get("outputs") or {}),
            input_datasets={
                name: StagedInput.from_json(entry) for name, entry in dict(value.get("input_datasets") or {}).items()
            },
            metrics_path=value.get("metrics_path"),
            tags=dict(value.get("tags") or {}),
        )

    @classmethod
    def offline(cls) -> StepContext:
        """A script run by hand, outside any pipeline."""
        return cls(run_id="offline", workspace="", experiment_name=None, pipeline_id="", step=StepInfo("", "", 1))
