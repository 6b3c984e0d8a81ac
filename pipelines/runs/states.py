"""What the engine's transitions take and give (`pipelines.runs.engine`): a run's rows as
loaded, the rows a transition changed with the messages to send after its commit, and how a
step's attempt ended as its worker saw it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pipelines.runs.model import InlineOutputs, OutputSummary, Prior, Run, Step, StepMessage, TaskStatus


@dataclass
class RunState:
    run: Run
    steps: dict[str, Step]

    def children(self, node_id: str) -> list[Step]:
        return [s for s in self.steps.values() if node_id in s.parents]

    def on_queue(self, node_id: str, queue: str | None) -> bool:
        """Whether the step's messages go to `queue` (None: the app's steps queue), as its row recorded
        when the run was created: a worker takes over only a successor of the queue it serves."""
        step = self.steps.get(node_id)
        return step is not None and step.queue == queue

    def inline_outputs(self) -> dict[str, InlineOutputs]:
        """The outputs kept on step rows, by node id (steps whose outputs are in Blob storage left out)."""
        return {node: step.inline_outputs for node, step in self.steps.items() if step.inline_outputs}


@dataclass
class Transition:
    run_changed: bool = False
    steps_changed: set[str] = field(default_factory=set)
    messages: list[tuple[StepMessage, int]] = field(default_factory=list)  # (message, delay s)

    @property
    def empty(self) -> bool:
        return not (self.run_changed or self.steps_changed or self.messages)


@dataclass(frozen=True)
class Outcome:
    """How a step's attempt ended, as the worker saw it."""

    status: TaskStatus  # FINISHED, FAILED or CANCELED
    detail: str | None = None
    exit_code: int | None = None
    metrics: dict[str, object] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    retryable: bool = True
    summaries: dict[str, OutputSummary] = field(default_factory=dict)
    # The outputs' files, when they are small enough to go on the step's row (`InlineOutputs`).
    inline: InlineOutputs = field(default_factory=dict)
    # The attempt's logs by kind, when they go on the step's row (`InlineLogs`); else in Blob storage.
    logs: dict[str, bytes] = field(default_factory=dict)
    # The step's reuse key, as the worker computed it before running it (None: not computed).
    reuse_key: str | None = None
    # When the script exited 0, if the worker did not note it on the attempt before the upload.
    script_exited: datetime | None = None
    # FINISHED without running: an earlier execution's outputs were taken (no attempt happened).
    # QUEUED: the step waits while another run computes the same outputs (`detail` says which).
    prior: Prior | None = None
