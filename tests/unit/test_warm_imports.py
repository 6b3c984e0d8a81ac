"""The warm launcher's imports cover what running a script needs: a forked child imports
nothing but what the script itself imports (issue 14: each import there is paid by every step)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PROBE = textwrap.dedent(
    """
    import os, sys, threading
    from pipelines.runtime import forkserver, launch

    forkserver._warm_up()
    before = set(sys.modules)
    script = sys.argv[1]
    sys.argv = [script]
    threading.Thread(target=launch.watch_parent, args=(os.getppid(),), daemon=True).start()
    launch.prepare(script).run()
    launch._finish()
    print("NEW", " ".join(sorted(set(sys.modules) - before)))
    """
)


def _new_modules(tmp_path: Path, script_text: str) -> list[str]:
    script = tmp_path / "step.py"
    script.write_text(script_text)
    done = subprocess.run(  # noqa: S603 - a fresh interpreter running the probe above
        [sys.executable, "-c", PROBE, str(script)], capture_output=True, text=True, timeout=60, check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("NEW"))
    return line.split()[1:]


def test_running_a_script_in_a_warm_child_imports_nothing_more(tmp_path: Path) -> None:
    assert _new_modules(tmp_path, "import time, json, pathlib\nprint('ok')\n") == []


def test_the_probe_sees_what_a_script_imports_itself(tmp_path: Path) -> None:
    # The same probe notices a module the launcher does not hold: it would catch one that
    # running the script (runpy, the exit) pulled in too.
    assert "wave" in _new_modules(tmp_path, "import wave\n")
