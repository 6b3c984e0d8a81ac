"""Wire types that read JSON as JSON Schema (and so OpenAPI) defines it.

JSON has one kind of number: JSON Schema's `integer` is any number without a fraction, so `3.0`
is an integer as much as `3` is (`json.loads` makes it a float). Pydantic's `StrictInt` would
refuse it, its lax `int` would take `"3"` and `true` too: `WholeNumber` takes what the document
says and nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator


def whole_number_of(value: Any) -> int:
    """`value` as an int when JSON Schema calls it an integer (3 or 3.0, never true); else ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError("must be a whole number")


WholeNumber = Annotated[int, BeforeValidator(whole_number_of)]
