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

import os
import runpy
import signal
import sys
import threading
import time

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


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        from pipelines.runtime import forkserver

        forkserver.serve(int(sys.argv[2]))
        # Only a forked child gets here, with its argv, folder and environment in place.
        run_script(sys.argv[0])
        return
    if len(sys.argv) < 2:
        sys.stderr.write("usage: python -m pipelines.runtime.launch SCRIPT [ARGS...]\n")
        raise SystemExit(2)
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    sys.argv = sys.argv[1:]
    run_script(sys.argv[0])


if __name__ == "__main__":
    main()
