"""The keys of a request body's JSON object, matched as the contract matches them.

A body's keys are matched case-insensitively (docs/contract.md §2: clients send
both `Tags` and `tags`) against the keys its parser declares; other keys are
ignored. Where one key comes several times in different cases, the first wins,
as `pipelines.text.pick` reads them, or the last (`last_wins`, a PUT of a whole
endpoint). A parser reads only the keys it declares (reading another is a bug,
a `KeyError`), so the declared keys are the ones read: `tests/unit` holds them
against the aliases of the documented models (`pipelines.api.bodies`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class WireObject:
    """A JSON object seen through the keys a parser reads, under their canonical names."""

    def __init__(self, body: Mapping[str, Any], keys: Iterable[str], *, last_wins: bool = False) -> None:
        self.keys = tuple(keys)
        canonical = {k.lower(): k for k in self.keys}
        self._values: dict[str, Any] = {}
        for raw_key, value in body.items():
            name = canonical.get(raw_key.lower()) if isinstance(raw_key, str) else None
            if name is not None and (last_wins or name not in self._values):
                self._values[name] = value

    def _declared(self, key: str) -> str:
        if key not in self.keys:
            raise KeyError(f"{key!r} is not a key this body declares: {', '.join(self.keys)}")
        return key

    def __contains__(self, key: str) -> bool:
        """Whether the body holds `key` (in any case), null or not."""
        return self._declared(key) in self._values

    def get(self, key: str) -> Any:
        """The value of `key`; None when absent."""
        return self._values.get(self._declared(key))
