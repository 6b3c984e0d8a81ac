"""Start a step script: `python -m pipelines.runtime.launch SCRIPT [ARGS...]`.

The worker starts this in a session of its own. Besides running the script as
`__main__` (as `python SCRIPT ARGS` would), it watches its parent: if the worker
dies (even by SIGKILL, which leaves no chance to clean up), the launcher is
re-parented, notices, and kills its whole process group, so a dead worker
never leaves a step running unseen.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os.killpg(os.getpgid(0), signal.SIGKILL)


def main() -> None:
    if len(sys.argv) < 2:
        sys.stderr.write("usage: python -m pipelines.runtime.launch SCRIPT [ARGS...]\n")
        raise SystemExit(2)
    script = sys.argv[1]
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    sys.argv = sys.argv[1:]
    # As `python script.py` does: the script's folder comes first on sys.path.
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
