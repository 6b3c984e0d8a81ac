"""How a tabular dataset's delimited files are read: separator, header line, text encoding.

Recorded on each registration (`Dataset.options`) and handed to the step's
runtime as they are. Encodings are named as the old SDK named them
(`azureml.data.dataset_type_definitions.FileEncoding`: utf8, iso88591, ...) or
as Python does, and kept under Python's canonical name.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any

from pipelines.errors import BadRequestError

SEPARATOR_RULE = "Separator must be one character (not a quote or a line break)"
ENCODING_RULE = "Encoding must be a text encoding such as utf8 or latin1"

# The old SDK's encoding names, and Python's.
_ENCODINGS = {
    "utf8": "utf-8",
    "iso88591": "iso-8859-1",
    "latin1": "latin-1",
    "ascii": "ascii",
    "utf16": "utf-16",
    "utf32": "utf-32",
    "utf8bom": "utf-8-sig",
    "windows1252": "cp1252",
}


@dataclass(frozen=True)
class TabularOptions:
    separator: str = ","
    header: bool = True
    encoding: str = "utf-8"

    def to_dict(self) -> dict[str, Any]:
        return {"separator": self.separator, "header": self.header, "encoding": self.encoding}

    @classmethod
    def checked(cls, separator: str = ",", header: bool = True, encoding: str = "utf-8") -> TabularOptions:
        """The options, or a 400: a separator of one character (no quote, no line break), a known encoding."""
        if len(separator) != 1 or separator in '\r\n"':
            raise BadRequestError(SEPARATOR_RULE, target="Separator")
        return cls(separator, header, normalise_encoding(encoding))


def normalise_encoding(value: str) -> str:
    """An encoding's canonical name (`utf8` → `utf-8`), or a 400."""
    if not value:
        raise BadRequestError(ENCODING_RULE, target="Encoding")
    wanted = _ENCODINGS.get(value.lower().replace("-", "").replace("_", ""), value)
    try:
        return codecs.lookup(wanted).name
    except LookupError:
        raise BadRequestError(f"Encoding {value!r} is not a known text encoding", target="Encoding") from None
