"""Parameter values of a run: coerced to the declared type, formatted for argv.

Clients send values as JSON numbers and booleans or as strings ("20",
"True" from the old Python SDK, which str()-ed everything). The rules are
strict on purpose (docs/contract.md §2): a value that could mean two things is
refused rather than guessed.

- int: 20, "20", "+20", " 20 ", 20.0 (an integral number). Not "abc", 20.5,
  "20.0", "1_000", true. Within the signed 64-bit range.
- float: any finite number (not a bool), or a decimal string ("2.5",
  "-1e3", "10"). Not "nan", "inf" or "Infinity": JSON cannot carry them
  back, and no pipeline means them on purpose.
- bool: true/false, the integers 1/0, and the strings "true"/"false"/"1"/"0"
  in any case (the old SDK sent "True"). Nothing else.
- string: a string as sent; a number or a bool becomes its Python str(), as
  the old SDK would have sent it ("True", "20", "2.5"). Not null, lists or
  objects. At most MAX_STRING_VALUE characters, no NUL (argv cannot hold one).
- dataset / datapath: the project's snake_case value ({"id"} / {"name",
  "version"}, {"datastore", "path"}); the wire forms of docs/contract.md §2 are the
  API layer's to translate.
"""

from __future__ import annotations

import math
import re
from typing import Any, Protocol

from pydantic import ValidationError

from pipelines.authoring.definition import (
    INT_MAX,
    INT_MIN,
    MAX_STRING_VALUE,
    DataPathValue,
    DatasetValue,
)

ParameterValue = bool | int | float | str | DatasetValue | DataPathValue

_INT = re.compile(r"^[+-]?[0-9]+$")
_FLOAT = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
# int("9" * 5000) is slow and then refused by Python itself; refuse early.
_MAX_NUMBER_TEXT = 400


class _Typed(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...


def _fail(spec: _Typed, value: Any, expected: str) -> ValueError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ValueError(f"parameter {spec.name!r} expects {expected}; got {shown}")


def coerce_parameter(spec: _Typed, value: Any) -> ParameterValue:
    """`value` as the Python value of `spec.type`; `ValueError` with a clear message if it is not one."""
    kind = spec.type
    if kind == "int":
        return _to_int(spec, value)
    if kind == "float":
        return _to_float(spec, value)
    if kind == "bool":
        return _to_bool(spec, value)
    if kind == "string":
        return _to_string(spec, value)
    if kind == "dataset":
        return _to_model(spec, value, DatasetValue, 'a dataset ({"id"} or {"name", "version"})')
    if kind == "datapath":
        return _to_model(spec, value, DataPathValue, 'a datapath ({"datastore", "path"})')
    raise ValueError(f"parameter {spec.name!r} has an unknown type {kind!r}")


def _to_int(spec: _Typed, value: Any) -> int:
    expected = "an integer"
    if isinstance(value, bool):
        raise _fail(spec, value, expected)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise _fail(spec, value, expected)
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_NUMBER_TEXT or not _INT.match(text):
            raise _fail(spec, value, expected)
        number = int(text)
    else:
        raise _fail(spec, value, expected)
    if not INT_MIN <= number <= INT_MAX:
        raise _fail(spec, value, "an integer in the signed 64-bit range")
    return number


def _to_float(spec: _Typed, value: Any) -> float:
    expected = "a finite number"
    if isinstance(value, bool):
        raise _fail(spec, value, expected)
    try:
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            text = value.strip()
            if len(text) > _MAX_NUMBER_TEXT or not _FLOAT.match(text):
                raise _fail(spec, value, expected)
            number = float(text)
        else:
            raise _fail(spec, value, expected)
    except OverflowError:
        raise _fail(spec, value, expected) from None
    if not math.isfinite(number):  # "1e999" parses to inf
        raise _fail(spec, value, expected)
    return number


def _to_bool(spec: _Typed, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _fail(spec, value, 'true or false ("true", "false", "1" or "0" as strings)')


def _to_string(spec: _Typed, value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bool, int)):
        text = str(value)
    elif isinstance(value, float) and math.isfinite(value):
        text = repr(value)
    else:
        raise _fail(spec, value, "a string")
    if "\x00" in text or len(text) > MAX_STRING_VALUE:
        raise _fail(spec, value, f"a string without NUL of at most {MAX_STRING_VALUE} characters")
    return text


def _to_model(
    spec: _Typed, value: Any, model: type[DatasetValue | DataPathValue], expected: str
) -> DatasetValue | DataPathValue:
    if isinstance(value, model):
        return value
    if not isinstance(value, dict):
        raise _fail(spec, value, expected)
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        reasons = "; ".join(
            error["msg"].removeprefix("Value error, ") for error in exc.errors(include_url=False)
        )
        raise ValueError(f"parameter {spec.name!r} expects {expected}: {reasons}") from None


def format_parameter(spec: _Typed, value: Any) -> str:
    """The command-line text of a scalar parameter's value (coerced first).

    bool -> "True"/"False" (Python's str, what scripts written for the old SDK
    parse); int -> "20"; float -> the shortest text that reads back the same
    ("0.1", "1e+20"); string -> as is. Datasets and datapaths are not
    formatted: they reach the step as inputs, as local paths.
    """
    coerced = coerce_parameter(spec, value)
    if isinstance(coerced, bool):
        return "True" if coerced else "False"
    if isinstance(coerced, float):
        return repr(coerced)
    if isinstance(coerced, (int, str)):
        return str(coerced)
    raise ValueError(
        f"parameter {spec.name!r} is a {spec.type}: it reaches the step as an input, not an argument"
    )
