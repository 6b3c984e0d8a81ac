"""Step folders removed behind the worker, so no step and no invocation waits on the disk.

A step's folder (its code copy, its inputs, what it wrote) is removed once its
successor's process has started, and the last ones when the invocation ends
(`pipelines/worker/executor.py`). Removing a tree is a few milliseconds of
unlinks on a quiet disk and more on a busy one: done in line, it held the
invocation's return (the end of a run) and took the worker's thread from the
step it had just started. Here one thread per process removes what it is
handed, in order, and the caller goes on at once.

Nothing waits for it but the process's exit (`atexit`, at most
EXIT_WAIT_SECONDS) and tests (`wait`). A folder it could not remove is logged
and left; a process killed outright leaves what was still queued, as a kill
mid-removal did before. Every folder's name holds its claim token, so nothing
new is ever made under a name still queued here.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

log = logging.getLogger("pipelines.worker")

EXIT_WAIT_SECONDS = 10.0


class Remover:
    """One thread that removes folders, in the order they are handed to it."""

    def __init__(self, remove_tree: Callable[..., object] = shutil.rmtree) -> None:
        self._remove_tree = remove_tree
        self._changed = threading.Condition()
        self._waiting: deque[Path] = deque()
        self._busy = False
        self._thread: threading.Thread | None = None

    def remove(self, *folders: Path) -> None:
        """Remove these folders (and everything under them) soon; returns at once."""
        if not folders:
            return
        with self._changed:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="step-folders", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # no thread to be had: remove them here, as before
                    log.warning("no thread to remove step folders behind the worker; removing them in line",
                                exc_info=True)
                    for folder in folders:
                        self._remove_tree(folder, onerror=_report)
                    return
                self._thread = thread
            self._waiting.extend(folders)
            self._changed.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until everything handed over so far is removed; False after `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._waiting and not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._waiting))
                folder = self._waiting.popleft()
                self._busy = True
            try:
                self._remove_tree(folder, onerror=_report)
            except Exception:  # noqa: BLE001 - one folder must not stop the removal of the others
                log.warning("could not remove the step folder %s", folder, exc_info=True)
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()


def _report(
    function: Callable[..., object], path: str, exc_info: tuple[type[BaseException], BaseException, TracebackType]
) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):  # gone already is what was asked
        log.warning("could not remove %s from a step's folder", path, exc_info=exc_info)


_shared = Remover()


def shared() -> Remover:
    """This process's remover."""
    return _shared


def _forget_after_fork() -> None:
    # A forked copy of the worker has no remover thread: it gets its own when it needs one.
    global _shared
    _shared = Remover()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(lambda: _shared.wait(EXIT_WAIT_SECONDS))
