"""What a step script imports to learn about its run, in the spirit of Azure ML's `Run`.

    from pipelines.runtime import Run

    run = Run.get_context()
    run.parameters["pipeline_arg"]        # the run's value, typed
    run.inputs["training"]                # local path of an input
    run.outputs["output_data"]            # local folder to write an output into
    run.input_datasets["tabular_dataset"] # by consumption name: .files(), .to_records(),
                                          # .to_pandas_dataframe() (pandas only if called)
    run.log("accuracy", 0.93)             # a metric, stored on the step
    run.parent.id, run.parent.get_tags()  # the pipeline run, read-only (SDK v1's `run.parent`)

Outside a pipeline step (a script run by hand) `get_context()` answers an
offline run whose `log` prints, so a script stays runnable on a laptop.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipelines.runtime.context import StagedInput, StepContext
from pipelines.runtime.datasets import FileDataset, MountContext, TabularDataset, dataset_of

__all__ = ["FileDataset", "MountContext", "ParentRun", "Run", "StagedInput", "StepContext", "TabularDataset"]


class ParentRun:
    """The pipeline run a step belongs to, as SDK v1's step scripts read it through `run.parent`:
    its id, experiment and tags. Read-only: a step cannot tag its pipeline run here
    (`tag`, `set_tags` and the like are refused with AttributeError)."""

    def __init__(self, context: StepContext) -> None:
        self.id: str = context.run_id
        self.experiment_name: str | None = context.experiment_name
        self._tags = dict(context.tags)

    def get_tags(self) -> dict[str, str]:
        return dict(self._tags)


class Run:
    def __init__(self, context: StepContext) -> None:
        self.context = context
        self.id: str = context.run_id
        self.experiment_name: str | None = context.experiment_name
        self.parameters: dict[str, Any] = dict(context.parameters)
        self.inputs: dict[str, str] = dict(context.inputs)
        self.outputs: dict[str, str] = dict(context.outputs)
        self.tags: dict[str, str] = dict(context.tags)
        self.step: dict[str, Any] = {"id": context.step.id, "name": context.step.name, "attempt": context.step.attempt}
        # Keyed by the consumption name the step gave its input, never the parameter's name.
        self.input_datasets: dict[str, FileDataset] = {
            name: dataset_of(name, staged) for name, staged in context.input_datasets.items()
        }
        self._metrics_path = context.metrics_path

    @classmethod
    def get_context(cls) -> Run:
        path = os.environ.get("PIPELINES_STEP_CONTEXT")
        if not path:
            return cls(StepContext.offline())
        return cls(StepContext.read(Path(path)))

    @property
    def offline(self) -> bool:
        return self._metrics_path is None

    @property
    def parent(self) -> ParentRun | None:
        """The pipeline run (`run.parent.id`, `run.parent.get_tags()`); None outside a step, as an
        offline run of SDK v1 has no parent."""
        return None if self.offline else ParentRun(self.context)

    def log(self, name: str, value: Any) -> None:
        """Record a metric on the step; logged again, the values form a list."""
        line = json.dumps({"name": str(name), "value": value}, default=str)
        if self._metrics_path is None:
            print(f"[metric] {line}")
            return
        with open(self._metrics_path, "a", encoding="utf-8") as sink:
            sink.write(line + "\n")

    def log_list(self, name: str, values: list[Any]) -> None:
        for value in values:
            self.log(name, value)
