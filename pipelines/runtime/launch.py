"""Start a step script: `python -m pipelines.runtime.launch SCRIPT [ARGS...]`.

This is how a step with `fresh_interpreter=True` runs (the others are forked
from the worker's warm launcher, `pipelines/runtime/forkserver.py`, which ends
each child the same way: `run_script`). The worker starts it in a session of
its own. Besides running the script as `__main__` (as `python SCRIPT ARGS`
would), it watches its parent: if the worker dies (even by SIGKILL, which
leaves no chance to clean up), the launcher is re-parented, notices, and kills
its whole process group, so a dead worker never leaves a step running unseen.

`python -m pipelines.runtime.launch --serve FD` starts the warm launcher itself.
"""

from __future__ import annotations

import _io
import atexit
import contextlib
import gc
import os
import runpy
import signal
import sys
import threading
import time
from typing import NoReturn

PARENT_POLL_SECONDS = 0.5


def watch_parent(parent: int) -> None:
    """Kill this process's group when its parent is no longer `parent` (it died)."""
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            os.killpg(os.getpgid(0), signal.SIGKILL)


def run_script(script: str) -> None:
    """Run `script` as `__main__`; sys.argv[0] is already the script."""
    # As `python script.py` does: the script's folder comes first on sys.path.
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


def run_forked(script: str) -> NoReturn:
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
        run_script(script)
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
    # The launcher froze its own objects before forking (gc.freeze), so this lists only
    # what the script made.
    _flush_open_files()


def _flush_open_files() -> None:
    """Flush every file object still open, as their finalizers would at exit.

    Those finalizers are `_io._IOBase`'s, which every file object of `io`, and every Python
    class built on `io.IOBase`, inherits (a class only registered with `io.IOBase` has none).
    The check is the C type's: `isinstance` against the ABC walks io's class tree for every
    type it has not seen, about a millisecond at each step's exit in a freshly forked child.
    """
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

        forkserver.serve(int(sys.argv[2]))
        # Only a forked child gets here, with its argv, folder and environment in place.
        run_forked(sys.argv[0])
    if len(sys.argv) < 2:
        sys.stderr.write("usage: python -m pipelines.runtime.launch SCRIPT [ARGS...]\n")
        raise SystemExit(2)
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    sys.argv = sys.argv[1:]
    # `python SCRIPT` finalizes `__main__`'s globals at exit, and with them the files the script
    # left open, flushing them. The script's globals here are a module `runpy` let go of, kept
    # alive by their own functions and classes: garbage collected at the very end, in any order,
    # where a file's buffer may be closed before the object writing into it. So they are
    # flushed first, as the forked child's end does: registered before the script runs, this
    # runs after its own atexit functions, once its non-daemon threads have ended.
    atexit.register(_flush_open_files)
    run_script(sys.argv[0])


if __name__ == "__main__":
    main()
