"""Start a step script: `python -m pipelines.runtime.launch SCRIPT [ARGS...]`.

This is how a step with `fresh_interpreter=True` runs (the others are forked
from the worker's warm launcher, `pipelines/runtime/forkserver.py`, which runs
each child's script the same way: `prepare`, then `Script.run`). The worker starts
it in a session of its own. Besides running the script as `__main__` as
`python SCRIPT ARGS` would, it watches its parent: if the worker dies (even by
SIGKILL, which leaves no chance to clean up), the launcher is re-parented,
notices, and kills its whole process group, so a dead worker never leaves a step
running unseen.

`python -m pipelines.runtime.launch --serve FD` starts the warm launcher itself.
"""

from __future__ import annotations

import _io
import atexit
import builtins
import contextlib
import gc
import importlib.machinery
import io
import os
import pkgutil
import runpy
import signal
import sys
import threading
import time
import types
from typing import Any, NoReturn

PARENT_POLL_SECONDS = 0.5


def watch_parent(parent: int) -> None:
    """Kill this process's group when its parent is no longer `parent` (it died)."""
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            os.killpg(os.getpgid(0), signal.SIGKILL)


class Script:
    """A step's script, read and compiled by `prepare`, to run as `python SCRIPT` runs it."""

    def __init__(self, given: str) -> None:
        self.given = given  # as the step names it (sys.argv[0]), relative to its folder
        self.path = os.path.abspath(given)
        self.code: types.CodeType | None = None
        self.failure: Exception | None = None  # what reading or compiling it raised
        self.by_runpy = False  # a folder or a zip archive: runpy runs the `__main__.py` in it

    def run(self) -> None:
        """Run the script as `python SCRIPT` does: its folder first on `sys.path`; a module of
        its own as `__main__` (and left there), whose `__file__` is the script's absolute
        path, `__loader__` a source loader, `__package__`, `__spec__` and `__cached__` None;
        a script that cannot be read exits 2 with the interpreter's message; an uncaught
        exception's traceback starts at the script's own frame (`_Trimmed`)."""
        sys.path[0] = os.path.dirname(self.path)
        if self.by_runpy:
            runpy.run_path(self.given, run_name="__main__")
            return
        if isinstance(self.failure, OSError):
            sys.stderr.write(f"{sys.executable}: can't open file {self.path!r}: "
                             f"[Errno {self.failure.errno}] {self.failure.strerror}\n")
            raise SystemExit(2)
        sys.excepthook = _Trimmed(self.path, sys.excepthook)
        if self.code is None:  # a syntax error: reported as the interpreter reports it
            raise self.failure or RuntimeError(f"{self.path} was not read")
        main = types.ModuleType("__main__")
        namespace: dict[str, Any] = vars(main)
        namespace.update(__file__=self.path, __cached__=None, __builtins__=builtins,
                         __loader__=importlib.machinery.SourceFileLoader("__main__", self.path))
        sys.modules["__main__"] = main
        exec(self.code, namespace)  # noqa: S102 - the step's own script, as the interpreter runs it


def prepare(given: str) -> Script:
    """`given` read and compiled now (a child on hold does it before its go, so that what is
    left at the go is running it); what fails here fails when it runs, as it would have."""
    script = Script(given)
    try:
        if pkgutil.get_importer(script.path) is not None:
            script.by_runpy = True
            return script
        with io.open_code(script.path) as source:
            code = pkgutil.read_code(source)  # a compiled script runs as compiled, as runpy has it
        if code is None:
            with io.open_code(script.path) as source:
                code = compile(source.read(), script.path, "exec")
        script.code = code
    except Exception as exc:  # noqa: BLE001 - reported when it runs, as the interpreter reports it
        script.failure = exc
    return script


class _Trimmed:
    """`sys.excepthook` for the script's run: the traceback from the script's own frame on, as
    `python SCRIPT` prints it (without the frames that ran it), handed to the hook it replaced.
    A hook the script sets itself replaces this one and gets the whole traceback."""

    def __init__(self, path: str, hook: Any) -> None:
        self.path = path
        self.hook = hook

    def __call__(self, kind: type[BaseException], value: BaseException, tb: types.TracebackType | None) -> None:
        while tb is not None and tb.tb_frame.f_code.co_filename != self.path:
            tb = tb.tb_next
        # The interpreter's hook prints the exception's own traceback, not the one it is given.
        self.hook(kind, value.with_traceback(tb), tb)


def run_forked(script: Script) -> NoReturn:
    """Run `script` in a child forked from the warm launcher and end the child as the
    interpreter ends `python SCRIPT`, without tearing down the launcher's modules.

    The exit code is the interpreter's: 0; `sys.exit(n)` gives n; `sys.exit("text")`
    prints the text and gives 1; an uncaught exception prints its traceback and gives 1;
    an uncaught KeyboardInterrupt ends the child by SIGINT. Then, in the interpreter's
    order: non-daemon threads are joined, atexit functions run, and every file object
    the script left open is flushed. What is skipped is the teardown of every module
    the launcher had imported (about 6 ms per step) and with it the `__del__` of
    objects still alive at exit, as in `multiprocessing`'s forked children; a script
    that relies on those asks for `fresh_interpreter=True`.
    """
    code = 0
    interrupted = False
    try:
        script.run()
    except SystemExit as exc:
        code = _system_exit_code(exc.code)
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        interrupted = True
    except BaseException:  # noqa: BLE001 - reported as the interpreter reports it
        sys.excepthook(*sys.exc_info())
        code = 1
    _finish()
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code)


def _system_exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    with contextlib.suppress(Exception):
        sys.stderr.write(f"{value}\n")
    return 1


def _finish() -> None:
    """What the interpreter does at exit that a step can observe."""
    with contextlib.suppress(Exception):
        threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads, as at exit
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    # The launcher froze its own objects before forking (gc.freeze), so this lists only what
    # the script made: the files it left open are flushed as their finalizers would. Those
    # finalizers are `_io._IOBase`'s, which every file object of `io`, and every Python class
    # built on `io.IOBase`, inherits (a class only registered with `io.IOBase` has none). The
    # check is the C type's: `isinstance` against the ABC walks io's class tree for every type
    # it has not seen, about a millisecond at each step's exit in a freshly forked child.
    for thing in gc.get_objects():
        if isinstance(thing, _io._IOBase):
            with contextlib.suppress(Exception):
                if not thing.closed:
                    thing.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        from pipelines.runtime import forkserver

        # Only a forked child gets past `serve`, with its argv, folder and environment in place
        # and its script read.
        run_forked(forkserver.serve(int(sys.argv[2])))
    if len(sys.argv) < 2:
        sys.stderr.write("usage: python -m pipelines.runtime.launch SCRIPT [ARGS...]\n")
        raise SystemExit(2)
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    sys.argv = sys.argv[1:]
    prepare(sys.argv[0]).run()


if __name__ == "__main__":
    main()
