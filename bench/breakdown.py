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
    "run change: claim, exit note or commit",
    "run partition load (query)",
    "table transaction",
    "pipeline row read",
    "reuse index: look up and hold the step's key",
    "lease watcher start",
    "execute (stage, run, upload)",
    "snapshot cache lookup",
    "snapshot copy (copytree)",
    "stage inputs (list+download)",
    "log flush, waited for",
    "log append, behind the step (create+append blob)",
    "log put whole, behind the step (one request)",
    "warm launch (request to pid answered)",
    "child process (launch to exit, pumps joined)",
    "upload outputs (list+upload)",
    "lease watcher stop",
    "queue send",
)


WHOLE = "step message, whole handler"
# A child forked ahead, on hold, while the commit claiming its step was in flight (the fork is
# then on the worker's side, as "warm launch") is timed from the go it is given.
CHILD = "child process (launch to exit, pumps joined)"


def overhead_per_step(durations: dict[str, list[float]]) -> float | None:
    """The worker's own time per step, seconds: every step message's whole handler (claims,
    staging, the launch request, exit notes, uploads, commits, log waits) minus the step
    processes' lives, divided by the steps run."""
    whole, children = durations.get(WHOLE) or [], durations.get(CHILD) or []
    if not whole or not children:
        return None
    return (sum(whole) - sum(children)) / len(children)


def section(probes: dict[str, Any], title: str) -> Section:
    durations: dict[str, list[float]] = probes.get("durations", {})
    result = Section(title)
    overhead = overhead_per_step(durations)
    if overhead is not None:
        result.add(Row("worker overhead per step (claim ... commit, outside the step's process)",
                       value=overhead * 1000, unit="ms",
                       note="(sum of whole handlers - sum of child processes, a child forked ahead from "
                            "its go) / steps; aim <= 15 ms"))
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
