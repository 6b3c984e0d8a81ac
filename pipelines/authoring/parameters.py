"""`PipelineParameter`: a value fixed at publish as a default, chosen per run.

The type is inferred from the default, as in the old SDK. `bool` is checked
before `int` because `True` is an `int` in Python, and a bool parameter typed
as int would turn "True" submissions into errors.
"""

from __future__ import annotations

import math
from typing import Any

from pipelines.authoring.data import DataPath, DatasetRef, invalid
from pipelines.authoring.definition import ParameterSpec, ParameterType, default_problem
from pipelines.authoring.names import display_name_problem

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
