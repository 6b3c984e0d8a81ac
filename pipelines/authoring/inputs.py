"""Bindings of datasets and datapaths to a step's inputs.

In the old SDK a datapath reaches a step as the tuple
`(datapath_or_parameter, DataPathComputeBinding(mode="mount"))` and a dataset
as a `DatasetConsumptionConfig`. Both forms are accepted; `DataPathInput` is
the explicit spelling of the tuple.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pipelines.authoring.data import DataPath, DatasetRef, Mode, check_mode, invalid
from pipelines.authoring.names import identifier_problem
from pipelines.authoring.parameters import PipelineParameter

DatasetMode = Literal["direct", "mount", "download"]


def _check_input_name(name: object) -> str:
    reason = identifier_problem(name)
    if reason:
        raise invalid(f"input name {name!r} {reason}", "name")
    return name  # type: ignore[return-value]


@dataclass(frozen=True)
class DataPathInput:
    """A datapath input: a fixed `DataPath` or a datapath `PipelineParameter`."""

    name: str
    source: DataPath | PipelineParameter
    mode: Mode = "mount"

    def __post_init__(self) -> None:
        _check_input_name(self.name)
        check_mode(self.mode, f"{self.name}.mode")
        source = self.source
        if isinstance(source, PipelineParameter):
            if source.type != "datapath":
                raise invalid(
                    f"input {self.name!r}: parameter {source.name!r} is a {source.type}, not a datapath",
                    self.name,
                )
        elif not isinstance(source, DataPath):
            raise invalid(
                f"input {self.name!r}: the source must be a DataPath or a datapath PipelineParameter,"
                f" not {type(source).__name__}",
                self.name,
            )


@dataclass(frozen=True)
class DatasetConsumptionConfig:
    """A dataset input, named as the step will see it, like the old SDK's class.

    Mode "direct" (the old default, where the script received a dataset
    object) is staged like "download": the worker puts the files on local
    disk and the runtime hands the script their path under `name`.
    """

    name: str
    dataset: DatasetRef | PipelineParameter
    mode: DatasetMode = "direct"
    path_on_compute: str | None = None  # accepted for compatibility; the worker chooses

    def __post_init__(self) -> None:
        _check_input_name(self.name)
        if self.mode not in ("direct", "mount", "download"):
            raise invalid(f"input {self.name!r}: mode must be direct, mount or download", self.name)
        dataset = self.dataset
        if isinstance(dataset, PipelineParameter):
            if dataset.type != "dataset":
                raise invalid(
                    f"input {self.name!r}: parameter {dataset.name!r} is a {dataset.type}, not a dataset",
                    self.name,
                )
        elif not isinstance(dataset, DatasetRef):
            raise invalid(
                f"input {self.name!r}: the dataset must be a DatasetRef or a dataset PipelineParameter,"
                f" not {type(dataset).__name__}",
                self.name,
            )

    @property
    def staging_mode(self) -> Mode:
        return "mount" if self.mode == "mount" else "download"

    def as_mount(self) -> DatasetConsumptionConfig:
        return replace(self, mode="mount")

    def as_download(self) -> DatasetConsumptionConfig:
        return replace(self, mode="download")
