"""What a step consumes, in the authoring API: data references, parameters, and their bindings.

Named after the old SDK (`azureml.data`, `azureml.pipeline.core`) so existing
pipeline code ports with an import change. These are plain values: nothing
here reaches storage; the worker resolves them at run time. They refer to one
another as the old SDK's did (`DataPath.as_input()` makes a `DataPathInput`, whose
source may be a `PipelineParameter`, whose default may be a `DataPath`), so they
live in one module.

- Data references: `DataPath`, `DatasetRef`, `PipelineData`.
- `PipelineParameter`: a value fixed at publish as a default, chosen per run. The
  type is inferred from the default, as in the old SDK. `bool` is checked before
  `int` because `True` is an `int` in Python, and a bool parameter typed as int
  would turn "True" submissions into errors.
- Bindings to a step's inputs. In the old SDK a datapath reaches a step as the tuple
  `(datapath_or_parameter, DataPathComputeBinding(mode="mount"))` and a dataset as a
  `DatasetConsumptionConfig`. Both forms are accepted; `DataPathInput` is the
  explicit spelling of the tuple.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pipelines.authoring.definition import (
    DataPathValue,
    DatasetValue,
    ParameterSpec,
    ParameterType,
    default_problem,
)
from pipelines.authoring.names import display_name_problem, identifier_problem
from pipelines.authoring.paths import UnsafePathError, safe_relative_path
from pipelines.errors import ErrorDetail, InvalidParameterError

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


# -- parameters ------------------------------------------------------------------------------------------
ParameterDefault = bool | int | float | str | DatasetRef | DataPath


def infer_parameter_type(value: object) -> ParameterType:
    """The parameter type a default implies; `TypeError`-like errors for anything else."""
    if isinstance(value, bool):  # before int: bool is a subclass of int
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, DatasetRef):
        return "dataset"
    if isinstance(value, DataPath):
        return "datapath"
    raise invalid(
        f"a PipelineParameter default must be a str, int, float, bool, DatasetRef or DataPath,"
        f" not {type(value).__name__}",
        "default_value",
    )


def _plain(value: Any, type_: ParameterType) -> ParameterDefault:
    """Drop subclasses (IntEnum, str enums): the definition stores JSON values."""
    if type_ == "bool":
        return bool(value)
    if type_ == "int":
        return int(value)
    if type_ == "float":
        return float(value)
    if type_ == "string":
        return str.__str__(value)
    return value  # type: ignore[no-any-return]


class PipelineParameter:
    """A named run-time value with a default, like `azureml.pipeline.core.PipelineParameter`.

    Two parameters are equal when name, type and default agree, so the same
    parameter declared twice in a script is fine, but two different defaults
    under one name are an error when the pipeline is built.
    """

    __slots__ = ("default_value", "name", "type")

    def __init__(self, name: str, default_value: ParameterDefault) -> None:
        reason = display_name_problem(name)
        if reason:
            raise invalid(f"parameter name {name!r} {reason}", "name")
        type_ = infer_parameter_type(default_value)
        if type_ == "float" and not math.isfinite(default_value):  # type: ignore[arg-type]
            raise invalid(f"parameter {name!r}: default {default_value!r} is not a finite number", name)
        value = _plain(default_value, type_)
        if isinstance(value, (bool, int, float, str)):
            reason = default_problem(type_, value)
            if reason:
                raise invalid(f"parameter {name!r}: {reason}", name)
        self.name: str = name
        self.default_value: ParameterDefault = value
        self.type: ParameterType = type_

    def _key(self) -> tuple[str, str, Any]:
        return (self.name, self.type, self.default_value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PipelineParameter):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"PipelineParameter(name={self.name!r}, default_value={self.default_value!r})"

    def to_spec(self) -> ParameterSpec:
        default = self.default_value
        value = default.to_value() if isinstance(default, (DatasetRef, DataPath)) else default
        return ParameterSpec(name=self.name, type=self.type, default=value)


# -- bindings to a step's inputs -------------------------------------------------------------------------
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
