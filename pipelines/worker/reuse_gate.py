"""Between claiming a step and running it: take an earlier execution's outputs, wait for
one under way, or hold the step's reuse key and run it (`pipelines.runs.reuse`).

The worker calls `run_or_reuse` for every step it has claimed, before anything is
staged or started. A step taken from an earlier execution is recorded Finished like a
step that ran (the same commit claims its successor, so a chain goes on in the same
invocation) but starts no process and makes no attempt. A step whose key another step
is computing goes back to the queue for a few seconds (an outcome `QUEUED`). A step
that runs carries its key into its outcome: the commit that records it Finished with
that key is what makes its outputs reusable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from pipelines.authoring.definition import PipelineDefinition
from pipelines.runs.engine import Outcome, RunState
from pipelines.runs.model import OutputSummary, Prior, Run, TaskStatus
from pipelines.runs.reuse import Busy, Holder, Keys, ReuseIndex
from pipelines.store import StorageAccount

log = logging.getLogger("pipelines.worker")


Decision = tuple[str | None, Prior | Busy | None]  # the step's key, and what the index answered


def upstream_of(state: RunState) -> dict[str, dict[str, OutputSummary]]:
    """Each step's output summaries, as recorded: what a step's reuse key reads of its parents."""
    return {node: step.output_summaries for node, step in state.steps.items()}


def decide(
    account: StorageAccount,
    run: Run,
    definition: Callable[[], PipelineDefinition],
    node_id: str,
    token: str,
    upstream: Mapping[str, Mapping[str, OutputSummary]],
) -> Decision:
    """The step's reuse key and the index's answer for it, holding the key for `token` when
    nothing answers it. `upstream`: each step's output summaries (a key needs its parents')."""
    key: str | None = None
    try:
        graph = definition()
        spec = graph.step(node_id)
        key = Keys(account, graph, run).of(spec, upstream)
        if key is not None and spec.allow_reuse and not run.regenerate_outputs:
            return key, ReuseIndex(account).claim(
                run.workspace, key, Holder(run.id, node_id, token, run.experiment_name))
    except Exception:  # noqa: BLE001 - reuse saves work; it never stops a step from running
        log.warning("reuse of step %s of run %s was not decided; the step runs", node_id, run.id, exc_info=True)
    return key, None


def run_or_reuse(
    account: StorageAccount,
    state: RunState,
    definition: Callable[[], PipelineDefinition],
    node_id: str,
    token: str,
    execute: Callable[[], Outcome | None],
    decided: Decision | None = None,
) -> Outcome | None:
    """The claimed step's outcome: taken, waiting, or `execute()`'s (None: the lease was lost).
    `decided`: the decision already made for this claim (`decide`, while the claim committed)."""
    if decided is None:
        decided = decide(account, state.run, definition, node_id, token, upstream_of(state))
    key, found = decided
    if isinstance(found, Prior):
        return Outcome(TaskStatus.FINISHED, prior=found)
    if isinstance(found, Busy):
        return Outcome(
            TaskStatus.QUEUED,
            f"waiting for step {found.node_id!r} of run {found.run_id}, which is computing the same outputs",
        )
    outcome = execute()
    return replace(outcome, reuse_key=key) if outcome is not None and key is not None else outcome
