"""Figure 4d: a hand-off laid out in time, between the step scripts' own stamps.

A hand-off starts at a step script's last statement and ends at its successor's
first (both `time.time()`, stamped by the scripts). The probes (`bench.probes`)
keep every timed call of the host as a span on the same wall clock. For each
hand-off, the spans that overlap it are numbered by label in the order they
start (the first `run change` after a step's exit is its exit note, the next
its commit), clipped to the hand-off, and placed as offsets from its start.
The figure gives, for each span, the median offsets of its start and end over
the hand-offs it appeared in, and the time of the hand-off that no call on the
worker's own thread covered (the host's and the interpreter's own time: thread
switches, the code between the calls).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence

from bench.report import Row, Section
from bench.stats import Summary

Span = tuple[str, str, float, float]  # label, thread name, wall start, wall end
# Spans that hold the others (a whole message, a whole step): left out of what "covered" means.
CONTAINERS = ("step message, whole handler", "execute (stage, run, upload)")


def _where(thread: str) -> str:
    if thread.startswith("step-logs"):
        return "log thread"
    if thread.startswith("lease-"):
        return "lease watcher"
    return "worker"


def _covered(intervals: list[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def section(handoffs: Sequence[tuple[float, float]], spans: Sequence[Span]) -> Section:
    """`handoffs`: (a script's last stamp, its successor's first stamp) pairs."""
    result = Section("4d. A hand-off laid out in time: spans of the host between a script's last statement "
                     "and its successor's first (the runs one at a time)")
    ordered = sorted(spans, key=lambda s: s[2])
    placed: dict[tuple[str, int, str], list[tuple[float, float]]] = defaultdict(list)
    uncovered: list[float] = []
    for begin, end in handoffs:
        seen: dict[tuple[str, str], int] = defaultdict(int)
        worker: list[tuple[float, float]] = []
        for label, thread, start, stop in ordered:
            if stop <= begin or start >= end:
                continue
            where = _where(thread)
            seen[(label, where)] += 1
            start, stop = max(start, begin), min(stop, end)
            placed[(label, seen[(label, where)], where)].append((start - begin, stop - begin))
            if where == "worker" and label not in CONTAINERS:
                worker.append((start, stop))
        uncovered.append(end - begin - _covered(worker))
    if not handoffs:
        return result
    result.add(Row("hand-off, script to script", Summary.of_seconds([e - b for b, e in handoffs])))
    rows = []
    for (label, number, where), offsets in placed.items():
        starts = [s for s, _ in offsets]
        rows.append((statistics.median(starts), label, number, where, offsets))
    for start, label, number, where, offsets in sorted(rows):
        stop = statistics.median(e for _, e in offsets)
        name = f"{label}{f' #{number}' if number > 1 else ''}" + ("" if where == "worker" else f" [{where}]")
        result.add(Row(name, Summary.of_seconds([e - s for s, e in offsets]),
                       note=f"+{start * 1000:.1f} -> +{stop * 1000:.1f} ms, in {len(offsets)}/{len(handoffs)}"))
    result.add(Row("not inside any timed call on the worker's thread", Summary.of_seconds(uncovered)))
    result.notes.append(
        "offsets are medians from the script's last statement; a call that began before it (the child "
        "process) or ended after the successor's first statement is clipped to the hand-off; durations "
        "are of the clipped spans. Calls nest (a run change holds its table transaction)."
    )
    return result
