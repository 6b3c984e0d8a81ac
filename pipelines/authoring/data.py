"""Data references of the authoring API: datasets, datapaths, intermediate data.

Named after the old SDK (`azureml.data`, `azureml.pipeline.core`) so existing
pipeline code ports with an import change. These are plain values: nothing
here reaches storage; the worker resolves them at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pipelines.authoring.definition import DataPathValue, DatasetValue
from pipelines.authoring.names import display_name_problem, identifier_problem
from pipelines.authoring.paths import UnsafePathError, safe_relative_path
from pipelines.errors import ErrorDetail, InvalidParameterError

if TYPE_CHECKING:
    from pipelines.authoring.inputs import DataPathInput, DatasetConsumptionConfig

Mode = Literal["mount", "download"]
MODES: tuple[str, ...] = ("mount", "download")


def invalid(message: str, target: str) -> InvalidParameterError:
    return InvalidParameterError(
        message, target=target, details=[ErrorDetail("InvalidParameter", message, target)]
    )


def check_mode(mode: object, target: str) -> Mode:
    if mode not in MODES:
        raise invalid(f"mode must be 'mount' or 'download', not {mode!r}", target)
    return mode  # type: ignore[return-value]


@dataclass(frozen=True, init=False)
class DatasetRef:
    """A registered dataset, by id or by name (and version; None means the latest).

    Stands in for the old `azureml.core.Dataset` object: the authoring side
    only needs to name it; the worker looks it up when a run starts.
    """

    id: str | None
    name: str | None
    version: int | None

    def __init__(
        self, id: str | None = None, name: str | None = None, version: int | str | None = None
    ) -> None:
        if (id is None) == (name is None):
            raise invalid("a dataset is referenced by id or by name, not both or neither", "dataset")
        if version is not None and id is not None:
            raise invalid("a version goes with a dataset name, not an id", "dataset.version")
        for what, value in (("id", id), ("name", name)):
            if value is not None:
                reason = display_name_problem(value)
                if reason:
                    raise invalid(f"dataset {what} {value!r} {reason}", f"dataset.{what}")
        number = _dataset_version(version)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "version", number)

    @classmethod
    def get_by_name(cls, name: str, version: int | str | None = None) -> DatasetRef:
        return cls(name=name, version=None if version == "latest" else version)

    @classmethod
    def get_by_id(cls, id: str) -> DatasetRef:
        return cls(id=id)

    def to_value(self) -> DatasetValue:
        return DatasetValue(id=self.id, name=self.name, version=self.version)

    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        from pipelines.authoring.inputs import DatasetConsumptionConfig

        return DatasetConsumptionConfig(name, self)


def _dataset_version(version: int | str | None) -> int | None:
    if version is None:
        return None
    # The REST API carries versions as strings ("1"); accept both, keep an int.
    if isinstance(version, str) and version.isascii() and version.isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise invalid(f"dataset version must be a positive integer, not {version!r}", "dataset.version")
    return version


@dataclass(frozen=True, init=False)
class DataPath:
    """A path on a datastore, like `azureml.data.datapath.DataPath`.

    `datastore` is a name or any object with a `.name` (an old `Datastore`).
    `name` is what the step's input is called when the DataPath is bound
    without a parameter.
    """

    datastore_name: str
    path_on_datastore: str
    name: str | None

    def __init__(self, datastore: Any, path_on_datastore: str, name: str | None = None) -> None:
        datastore_name = datastore if isinstance(datastore, str) else getattr(datastore, "name", None)
        reason = identifier_problem(datastore_name)
        if reason:
            raise invalid(f"datastore name {datastore_name!r} {reason}", "datapath.datastore")
        try:
            path = safe_relative_path(path_on_datastore)
        except UnsafePathError as exc:
            raise invalid(f"path_on_datastore: {exc}", "datapath.path_on_datastore") from None
        if name is not None:
            reason = identifier_problem(name)
            if reason:
                raise invalid(f"datapath name {name!r} {reason}", "datapath.name")
        object.__setattr__(self, "datastore_name", datastore_name)
        object.__setattr__(self, "path_on_datastore", path)
        object.__setattr__(self, "name", name)

    def to_value(self) -> DataPathValue:
        return DataPathValue(datastore=self.datastore_name, path=self.path_on_datastore)

    def as_input(self, name: str | None = None, mode: Mode = "mount") -> DataPathInput:
        from pipelines.authoring.inputs import DataPathInput

        input_name = name or self.name
        if input_name is None:
            raise invalid("a DataPath bound as an input needs a name", "datapath.name")
        return DataPathInput(input_name, self, mode=mode)

    def create_data_reference(
        self,
        data_reference_name: str | None = None,
        datapath_compute_binding: DataPathComputeBinding | None = None,
    ) -> DataPathInput:
        """The old SDK's way to bind a fixed DataPath as a step input."""
        binding = datapath_compute_binding or DataPathComputeBinding()
        return self.as_input(data_reference_name, mode=binding.mode)


@dataclass(frozen=True)
class DataPathComputeBinding:
    """How a datapath reaches the step: as in the old SDK, paired with the source in a tuple.

    `path_on_compute` and `overwrite` are accepted for compatibility and
    ignored: the worker chooses the local folder.
    """

    mode: Mode = "mount"
    path_on_compute: str | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        check_mode(self.mode, "binding.mode")


@dataclass(eq=False)
class PipelineData:
    """Intermediate data: written by one step (in its `outputs`), read by others.

    Compared by identity, as in the old SDK: the object is the edge.
    """

    name: str
    datastore: Any = None
    datastore_name: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        reason = identifier_problem(self.name)
        if reason:
            raise invalid(f"PipelineData name {self.name!r} {reason}", "pipeline_data.name")
        if self.datastore is not None:
            store = (
                self.datastore if isinstance(self.datastore, str) else getattr(self.datastore, "name", None)
            )
            reason = identifier_problem(store)
            if reason:
                raise invalid(f"datastore name {store!r} {reason}", "pipeline_data.datastore")
            self.datastore_name = store

    def __repr__(self) -> str:
        return f"PipelineData({self.name!r})"
