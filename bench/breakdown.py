"""The worker's probe timings (`bench.probes`) as a section of the report."""

from __future__ import annotations

from typing import Any

from bench.report import Row, Section
from bench.stats import Summary

# The order a step goes through, so the table reads as a timeline.
ORDER = (
    "queue wait (submit to first claim)",
    "queue wait (hand-off)",
    "queue receive call",
    "step message, whole handler",
    "run partition load (query)",
    "table transaction",
    "pipeline row read",
    "lease watcher start",
    "execute (stage, run, upload)",
    "snapshot cache lookup",
    "snapshot copy (copytree)",
    "stage inputs (list+download)",
    "log append (create+append blob)",
    "warm launch (request to pid answered)",
    "child process (launch to exit, pumps joined)",
    "upload outputs (list+upload)",
    "lease watcher stop",
    "queue send",
)


def section(probes: dict[str, Any], title: str) -> Section:
    durations: dict[str, list[float]] = probes.get("durations", {})
    result = Section(title)
    for label in [*ORDER, *sorted(set(durations) - set(ORDER))]:
        if durations.get(label):
            result.add(Row(label, Summary.of_seconds(durations[label])))
    counts: dict[str, int] = probes.get("counts", {})
    if counts:
        result.notes.append(", ".join(f"{name}: {value}" for name, value in sorted(counts.items())))
    result.notes.append(
        "worker threads only; a claim and a completion each = 1 partition load + 1 transaction"
    )
    return result
