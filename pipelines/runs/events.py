"""A run's events, derived from its rows: what happened to it, each with an id of its own.

Nothing here is stored: the events of a run are read off its run row and step rows
whenever they are needed, so delivering them is idempotent (a second delivery finds
the same events, with the same ids, and what was already delivered):

- `RunQueued`: the run exists (its `Created` time);
- `RunStarted`: its first step was claimed (`Started`);
- `RunFinished`, `RunFailed`, `RunCanceled`: it ended (`Ended`);
- with step events on, per step: `StepStarted` for each attempt (its attempt record's
  start), and `StepFinished`, `StepFailed` or `StepCanceled` when the step ended.

An event's key names its transition (`RunFinished`, `{node}|2|StepStarted`); its id is
a UUID derived from the workspace, the run and the key (`event_id`), the same on every
delivery, so a receiver that deduplicates by id sees each transition once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pipelines.runs.engine import RunState
from pipelines.runs.model import RunStatus, TaskStatus

TYPE_PREFIX = "Pipelines."
# The namespace of event ids (uuid5): fixed for good, or every id changes.
_EVENT_NAMESPACE = uuid.UUID("0c6f3d2e-4b8a-4f57-9a51-7a2d64e1c9b3")

_RUN_ENDS = {
    RunStatus.FINISHED: "RunFinished",
    RunStatus.FAILED: "RunFailed",
    RunStatus.CANCELED: "RunCanceled",
}
_STEP_ENDS = {
    TaskStatus.FINISHED: "StepFinished",
    TaskStatus.FAILED: "StepFailed",
    TaskStatus.CANCELED: "StepCanceled",
    # Never produced by this engine; the nearest words if an older row holds them.
    TaskStatus.BYPASSED: "StepFinished",
    TaskStatus.PARTIALLY_EXECUTED: "StepFailed",
}
RUN_EVENT_NAMES = ("RunQueued", "RunStarted", *_RUN_ENDS.values())
STEP_EVENT_NAMES = ("StepStarted", "StepFinished", "StepFailed", "StepCanceled")


@dataclass(frozen=True)
class RunEvent:
    """One transition of a run (or of one of its steps, `node_id` set)."""

    key: str
    name: str  # RunQueued, RunStarted, ..., StepStarted, StepFinished, ...
    id: str
    time: datetime | None
    node_id: str | None = None
    attempt: int | None = None

    @property
    def type(self) -> str:
        return TYPE_PREFIX + self.name

    @property
    def short(self) -> str:
        """What delivery records keep of the id: 16 hex digits, unique within a run."""
        return self.id.replace("-", "")[:16]


def event_id(workspace: str, run_id: str, key: str) -> str:
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{workspace}|{run_id}|{key}"))


def derive(state: RunState, *, steps: bool) -> list[RunEvent]:
    """The run's events so far, in the order they happened: the run's start first, its end last."""
    run = state.run

    def event(key: str, name: str, time: datetime | None, node: str | None = None,
              attempt: int | None = None) -> RunEvent:
        return RunEvent(key, name, event_id(run.workspace, run.id, key), time, node, attempt)

    found = [event("RunQueued", "RunQueued", run.created)]
    if run.started is not None:  # a run canceled before its first step started never started
        found.append(event("RunStarted", "RunStarted", run.started))
    if steps:
        step_events: list[RunEvent] = []
        for step in sorted(state.steps.values(), key=lambda s: s.index):
            for record in step.attempts:
                if record.started is not None:
                    key = f"{step.node_id}|{record.number}|StepStarted"
                    step_events.append(event(key, "StepStarted", record.started, step.node_id, record.number))
            if step.status.terminal:
                name = _STEP_ENDS[step.status]
                step_events.append(event(f"{step.node_id}|{name}", name, step.ended, step.node_id, step.attempt))
        step_events.sort(key=lambda e: e.time.timestamp() if e.time else 0.0)  # stable: a step's own order kept
        found.extend(step_events)
    if run.status.terminal:
        name = _RUN_ENDS[run.status]
        found.append(event(name, name, run.ended))
    return found


def keys(state: RunState, *, steps: bool) -> frozenset[str]:
    """The keys of the run's events, without their ids (what a commit compares, cheaply)."""
    run = state.run
    found = {"RunQueued"}
    if run.started is not None:
        found.add("RunStarted")
    if run.status.terminal:
        found.add(_RUN_ENDS[run.status])
    if steps:
        for step in state.steps.values():
            found.update(f"{step.node_id}|{a.number}|StepStarted" for a in step.attempts if a.started is not None)
            if step.status.terminal:
                found.add(f"{step.node_id}|{_STEP_ENDS[step.status]}")
    return frozenset(found)


def digest(shorts: Iterable[str]) -> str:
    """A fingerprint of a set of events (their short ids): equal sets, equal digests."""
    return hashlib.sha256("\n".join(sorted(set(shorts))).encode()).hexdigest()[:32]


def latest_time(events: Iterable[RunEvent]) -> datetime | None:
    times = [e.time for e in events if e.time is not None]
    return max(times) if times else None
