"""The local development host: runs `function_app.py` where Core Tools cannot be installed.

`python -m pipelines.devhost` starts Azurite and the host; `DevHost` is the
library entry point (tests use it through `tests/hosting.py`). Only this
package imports uvicorn and starlette, which are development dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.devhost.host import DevHost

__all__ = ["DevHost"]


def __getattr__(name: str) -> Any:
    # Lazy, so `pipelines.devhost.azurite` stays importable without uvicorn.
    if name == "DevHost":
        from pipelines.devhost.host import DevHost

        return DevHost
    raise AttributeError(name)
