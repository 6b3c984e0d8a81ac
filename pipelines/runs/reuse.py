"""Step reuse: finished executions indexed by reuse key, and who may take their outputs.

Table `StepReuse`, partition = workspace, row = a reuse key (`pipelines.runs.reuse_keys`):

- `Pending`: a worker holds the key: it is running a step with it (`RunId`, `NodeId`,
  `Claim`: that step and the claim token of its attempt);
- `Done`: the step `RunId`/`NodeId` finished with the key; its outputs' names and
  digests (and the outputs themselves, when they were small enough to be kept on its
  row), its metrics and its times, so a reader needs nothing else.

How a row becomes `Done`: nobody writes it after the fact. The holder's Finished commit
(`engine.complete`, with the key it ran under) is the proof: the first reader that finds
a `Pending` row whose holder's step row says Finished with that key takes the outputs
and turns the row `Done` (on its ETag). So a row never points at a half-written output:
a step's outputs are uploaded before the commit that records it Finished, and that commit
is what is read. A reused step's outputs stay where their run wrote them; nothing writes
there again, so what a later run took cannot change.

Two runs reaching one key at once: both submits find nothing and queue the step; at the
claim (`pipelines.worker.reuse_gate`), one worker inserts `Pending` (insert-if-absent) and
runs it, the other finds the holder alive (its step Running, the same claim, a live lease)
and waits (its step goes back to the queue for a few seconds), then takes the outputs. If
the holder failed, was canceled, lost its lease or moved on to another attempt, the waiter
replaces the row on its ETag (of two, one wins) and runs the step itself.

A submit only reads: a step whose key is `Done` (or `Pending` with a finished holder) is
created Finished; anything else is queued and decided by its worker.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pipelines.authoring.definition import PipelineDefinition, StepSpec
from pipelines.data.digests import DataDigests
from pipelines.data.references import DataError, References
from pipelines.errors import AlreadyExistsError, EtagMismatchError
from pipelines.runs.data import input_value
from pipelines.runs.engine import RunState
from pipelines.runs.model import (
    OutputSummary,
    Prior,
    ReusedFrom,
    Run,
    Step,
    TaskStatus,
    inline_text,
    parse_inline,
    run_partition,
    step_row,
)
from pipelines.runs.reuse_keys import NoKey, step_key
from pipelines.store import Entity, StorageAccount, Table, etag_of
from pipelines.store.codec import json_text, parse_json, parse_time, time_text
from pipelines.vocabulary import now

log = logging.getLogger("pipelines.runs")

TABLE = "StepReuse"
PENDING, DONE = "Pending", "Done"
MAX_TRIES = 10
# Lookups of one wave of a submit's steps (independent of each other) go side by side.
_side_by_side = ThreadPoolExecutor(max_workers=8, thread_name_prefix="reuse-lookup")


@dataclass(frozen=True)
class Holder:
    """A worker about to run a step with a key: the step, and its claim token."""

    run_id: str
    node_id: str
    claim: str
    experiment: str | None

    def entity(self, workspace: str, key: str) -> dict[str, Any]:
        return {"PartitionKey": workspace, "RowKey": key, "State": PENDING, "RunId": self.run_id,
                "NodeId": self.node_id, "Claim": self.claim, "Experiment": self.experiment,
                "Since": time_text(now())}


@dataclass(frozen=True)
class Busy:
    """Another step holds the key and is running: wait for it."""

    run_id: str
    node_id: str


class ReuseIndex:
    def __init__(self, account: StorageAccount) -> None:
        self.table = Table(account.table(TABLE))
        self.runs = Table(account.table("Runs"))

    def find(self, workspace: str, key: str) -> Prior | None:
        """The finished execution with this key, if there is one (a submit's question)."""
        found = self._decide(workspace, key, None)
        return found if isinstance(found, Prior) else None

    def claim(self, workspace: str, key: str, holder: Holder) -> Prior | Busy | None:
        """A worker's question before running a step: the outputs to take, the holder to wait
        for, or None: `holder` holds the key now, and runs the step."""
        return self._decide(workspace, key, holder)

    def _decide(self, workspace: str, key: str, holder: Holder | None) -> Prior | Busy | None:
        for attempt in range(MAX_TRIES):
            if holder is not None and attempt == 0:
                try:  # most keys a worker reaches are new: one call
                    self.table.insert(holder.entity(workspace, key))
                    return None
                except AlreadyExistsError:
                    pass
            row = self.table.get(workspace, key)
            if row is None:
                if holder is None:
                    return None
                try:
                    self.table.insert(holder.entity(workspace, key))
                    return None
                except AlreadyExistsError:
                    continue  # somebody else reached it first: read what they wrote
            if row.get("State") == DONE:
                prior = prior_of(row, key)
                if prior is not None:
                    return prior
            else:
                step = self._holder_step(workspace, row)
                if step is not None and finished_with(step, key):
                    prior = _finished(row, step, key)
                    self._settle(workspace, key, row, prior)
                    return prior
                own = holder is not None and (row.get("RunId"), row.get("NodeId")) == (holder.run_id, holder.node_id)
                if step is not None and not own and _alive(step, row):
                    return Busy(str(row["RunId"]), str(row["NodeId"])) if holder is not None else None
            if holder is None:
                return None
            try:  # a dead holder's key (or our own lost attempt's), or an unreadable row: take it
                self.table.replace(holder.entity(workspace, key), etag_of(row))
                return None
            except EtagMismatchError:
                continue
        log.warning("reuse key %s of workspace %s kept changing; the step runs without it", key, workspace)
        return None

    def _holder_step(self, workspace: str, row: Entity) -> Step | None:
        run_id, node_id = row.get("RunId"), row.get("NodeId")
        if not run_id or not node_id:
            return None
        entity = self.runs.get(run_partition(workspace, str(run_id)), step_row(str(node_id)))
        return Step.from_entity(entity) if entity is not None else None

    def _settle(self, workspace: str, key: str, row: Entity, prior: Prior) -> None:
        source = prior.source
        done = {
            "PartitionKey": workspace, "RowKey": key, "State": DONE, "RunId": source.run_id, "NodeId": source.node_id,
            "Experiment": source.experiment, "Started": time_text(source.started), "Ended": time_text(source.ended),
            "Outputs": json_text(list(prior.outputs)),
            "OutputSummaries": json_text({name: s.to_json() for name, s in prior.summaries.items()}),
            "Metrics": json_text(prior.metrics),
            "InlineOutputs": inline_text(prior.inline),
        }
        with contextlib.suppress(EtagMismatchError):  # another reader settled it first
            self.table.replace(done, etag_of(row))


def finished_with(step: Step, key: str) -> bool:
    """The step ran (it took nothing from another) and was recorded Finished with this key."""
    return step.status is TaskStatus.FINISHED and step.reuse_key == key and step.reused_from is None


def _alive(step: Step, row: Entity) -> bool:
    lease = step.lease_until
    return (
        step.status is TaskStatus.RUNNING and step.claim == row.get("Claim") and lease is not None and lease > now()
    )


def _finished(row: Entity, step: Step, key: str) -> Prior:
    source = ReusedFrom(str(row["RunId"]), step.node_id, row.get("Experiment"), step.started, step.ended)
    return _prior(source, step, key)


def _prior(source: ReusedFrom, step: Step, key: str) -> Prior:
    """What a finished step leaves to a step that takes it: its outputs (and the files, when its row
    keeps them), their digests and its metrics."""
    return Prior(source, key, tuple(step.outputs), dict(step.output_summaries), dict(step.metrics),
                 dict(step.inline_outputs))


def prior_of(row: Entity, key: str) -> Prior | None:
    try:
        source = ReusedFrom(str(row["RunId"]), str(row["NodeId"]), row.get("Experiment"),
                            parse_time(row.get("Started")), parse_time(row.get("Ended")))
        summaries = {
            name: summary
            for name, value in parse_json(row.get("OutputSummaries"), {}).items()
            if (summary := OutputSummary.from_json(value)) is not None
        }
        return Prior(source, key, tuple(parse_json(row.get("Outputs"), [])), summaries,
                     dict(parse_json(row.get("Metrics"), {})), parse_inline(row.get("InlineOutputs")))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


# -- keys of a run's steps ---------------------------------------------------------------------------
class Keys:
    """Reuse keys of one run's steps, with the data digests they need (each read once)."""

    def __init__(self, account: StorageAccount, definition: PipelineDefinition, run: Run) -> None:
        self.definition = definition
        self.run = run
        self.references = References(account, run.workspace)
        self.digests = DataDigests(account, run.workspace)

    def of(self, spec: StepSpec, upstream: Mapping[str, Mapping[str, OutputSummary]]) -> str | None:
        """`spec`'s key, its upstream outputs' digests read from `upstream` (node id -> output
        summaries); None when an input's digest is unknown (the step is then not reused)."""
        inputs: dict[str, str] = {}
        for item in spec.inputs:
            if item.kind == "step_output":
                summary = upstream.get(item.source_step or "", {}).get(item.source_output or "")
                if summary is None:
                    return None
                inputs[item.name] = summary.sha256
                continue
            try:
                value = input_value(self.run, self.definition, item)
                resolution = self.references.recorded(value, as_of=self.run.created)
                inputs[item.name] = self.digests.digest(resolution)
            except DataError:
                return None  # staging will say what is wrong; nothing to reuse
        try:
            return step_key(spec, self.definition, self.run.parameters, inputs)
        except NoKey:
            return None


def plan(account: StorageAccount, definition: PipelineDefinition, state: RunState,
         rerun_of: RunState | None = None) -> dict[str, Prior]:
    """The steps of a new run that are created Finished with an earlier execution's outputs.

    Top-down, in waves: a step is looked at once every step it waits for is taken (its
    key needs their outputs' digests); the steps of one wave are looked up side by side.
    A rerun first takes, for each step that finished in the run it reruns, that step's
    outputs when its key is unchanged (whatever the step's allow_reuse: the rerun asks for
    exactly that); then, as any submit, the index's, unless the step says
    allow_reuse=False or the run regenerates its outputs.
    """
    run = state.run
    index = ReuseIndex(account)
    keys = Keys(account, definition, run)
    taken: dict[str, Prior] = {}

    def decide(spec: StepSpec, upstream: Mapping[str, Mapping[str, OutputSummary]]) -> Prior | None:
        earlier = rerun_of.steps.get(spec.id) if rerun_of is not None else None
        if earlier is not None and earlier.status is not TaskStatus.FINISHED:
            earlier = None
        use_index = spec.allow_reuse and not run.regenerate_outputs
        if earlier is None and not use_index:
            return None
        key = keys.of(spec, upstream)
        if key is None:
            return None
        prior = _from_earlier(rerun_of, earlier, key) if rerun_of is not None and earlier is not None else None
        return index.find(run.workspace, key) if prior is None and use_index else prior

    looked: set[str] = set()
    while True:
        wave = [
            spec for spec in definition.steps
            if spec.id not in looked and all(parent in taken for parent in state.steps[spec.id].parents)
        ]
        if not wave:
            return taken
        looked |= {spec.id for spec in wave}
        upstream = {node: prior.summaries for node, prior in taken.items()}
        if len(wave) == 1:
            found = [decide(wave[0], upstream)]
        else:
            found = list(_side_by_side.map(decide, wave, [upstream] * len(wave)))
        taken |= {spec.id: prior for spec, prior in zip(wave, found, strict=True) if prior is not None}


def _from_earlier(earlier_run: RunState, step: Step, key: str) -> Prior | None:
    """A rerun's step takes what the step of the run it reruns finished with, when its key is the same."""
    if step.reuse_key != key:
        return None
    run = earlier_run.run
    source = step.reused_from or ReusedFrom(run.id, step.node_id, run.experiment_name, step.started, step.ended)
    return _prior(source, step, key)
