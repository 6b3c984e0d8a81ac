"""Figure 4c: the worker's memory with 6 steps running at once (issue 14).

A pipeline of 6 independent steps that each sleep a few seconds; while all 6 run,
the memory of the host process (the Function worker), of its warm step launcher,
and of the 6 step processes forked from it is read from /proc. RSS counts every
page a process maps, so the forked children, which share most of the launcher's
pages copy-on-write, each look as big as the launcher; PSS shares each page among
the processes that map it, so the PSS figures add up to what the whole tree costs.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path
from typing import Any

from bench.fixtures import Api, submit
from bench.report import Row, Section
from pipelines.authoring import Pipeline, PythonScriptStep

WIDTH = 6


def fan_out(folder: Path, width: int = WIDTH, seconds: float = 6.0) -> Pipeline:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rest.py").write_text(textwrap.dedent(f"""
        import time
        time.sleep({seconds})
    """))
    # Each step its own argument: steps alike would be one execution reused by the others.
    return Pipeline(steps=[PythonScriptStep("rest.py", name=f"rest{i}", arguments=["--index", i],
                                            source_directory=folder) for i in range(width)])


def _kib(pid: int, key: str, file: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _tree(host_pid: int) -> tuple[list[int], list[int]]:
    """The host's warm launchers (its children started with --serve) and their children, the
    steps (forks keep the launcher's command line, so only the parent tells them apart)."""
    launchers = [p for p in _children(host_pid) if "--serve" in _cmdline(p)]
    return launchers, [p for launcher in launchers for p in _children(launcher)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def host_json_for(host_json: dict[str, Any]) -> dict[str, Any]:
    """The project's host.json with batches as wide as the fan-out: with batchSize 4 and
    newBatchThreshold 2, 6 steps of equal length never run at once on one instance (a batch
    waits until at most 2 of those fetched before are left)."""
    copy: dict[str, Any] = json.loads(json.dumps(host_json))
    copy["extensions"]["queues"].update(batchSize=WIDTH, newBatchThreshold=WIDTH)
    return copy


def measure(api: Api, host_pid: int, tmp: Path) -> Section:
    published = api.publish(fan_out(tmp / "code-fan-out"), "bench-fan-out")
    section = Section(f"4c. Worker memory with {WIDTH} steps running (one host process, its launcher, the steps)")
    with api.client() as client:
        submit(client, published.id)
    # Watched in /proc, not over HTTP: with every thread of the worker's pool running a step,
    # a status request would wait for one to end (HTTP and queue functions share the pool).
    deadline = time.monotonic() + 60
    steps: list[int] = []
    while time.monotonic() < deadline:
        launchers, steps = _tree(host_pid)
        if len(steps) >= WIDTH:
            break
        time.sleep(0.05)
    time.sleep(0.5)  # the scripts are past their start
    launchers, steps = _tree(host_pid)
    mib = 1024.0
    section.add(Row("host process (HTTP, queue worker, engine) RSS", value=_kib(host_pid, "VmRSS", "status") / mib,
                    unit="MiB"))
    section.add(Row("host process PSS", value=_kib(host_pid, "Pss", "smaps_rollup") / mib, unit="MiB"))
    for launcher in launchers:
        section.add(Row("warm launcher RSS / PSS", value=_kib(launcher, "VmRSS", "status") / mib, unit="MiB",
                        note=f"PSS {_kib(launcher, 'Pss', 'smaps_rollup') / mib:.1f} MiB"))
    if steps:
        rss = [_kib(p, "VmRSS", "status") for p in steps]
        pss = [_kib(p, "Pss", "smaps_rollup") for p in steps]
        section.add(Row(f"{len(steps)} step processes, RSS each (max)", value=max(rss) / mib, unit="MiB"))
        section.add(Row(f"{len(steps)} step processes, PSS together", value=sum(pss) / mib, unit="MiB"))
    total = _kib(host_pid, "Pss", "smaps_rollup") + sum(
        _kib(p, "Pss", "smaps_rollup") for p in [*launchers, *steps])
    section.add(Row("the whole worker tree, PSS", value=total / mib, unit="MiB",
                    note=f"{len(steps)} steps were running when read"))
    section.notes.append(__doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "")
    if os.cpu_count():
        section.notes.append("read from /proc (Linux): VmRSS of status, Pss of smaps_rollup")
    return section
