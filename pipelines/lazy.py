"""The app's imports on first use, made one at a time in the process.

The functions import what they need on their first invocation, not when the app
loads (a cold start imports little: `pipelines/api/functions.py`). The Functions
worker runs sync invocations on a thread pool, so first invocations of different
functions import side by side, and Python's per-module import locks do not make
that safe for packages whose `__init__` imports their own modules: a thread that
enters `pipelines.authoring.coercion` first holds that module's lock and waits
for its package, while a thread importing the package waits for that module.
Python breaks the cycle by handing one of them a half-made module, and the
import fails ("cannot import name ... from partially initialized module"); the
other then finds the package gone from `sys.modules` (KeyError). Both happened
to a host's first requests in a test run, as a 500 and a failed timer.

Every import made on first use goes through `first_use()` (or `load`): one lock
for the process, re-entrant, so a module imported on first use may itself import
on first use. Once a module is loaded, its `import` is a lookup in
`sys.modules` and the lock is held for that long.
"""

from __future__ import annotations

import importlib
import threading
from contextlib import AbstractContextManager
from types import ModuleType

_IMPORTS = threading.RLock()


def first_use() -> AbstractContextManager[bool]:
    """The process's lock on imports made on first use, to hold around `import` statements."""
    return _IMPORTS


def load(name: str) -> ModuleType:
    """`importlib.import_module(name)`, holding the same lock."""
    with _IMPORTS:
        return importlib.import_module(name)
