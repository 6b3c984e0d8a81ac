"""Runs this process has just created, handed to the first claim made in the same process.

A run's first step is claimed by whichever worker takes its message. When that worker
is this process (the local host, and an Azure host on the Premium or Dedicated plan,
where the HTTP and queue functions share one Python worker), the partition it would
read holds exactly the rows the submit just wrote, and their ETags are in the
creating transaction's answer. The claim starts from that state instead of reading the
partition (`RunRepository.mutate`'s `known`): one storage request fewer between the
submit and the first step. Wherever else the message lands (Flex Consumption runs the
queue trigger on instances of its own; a compute target's workers), nothing is found
here and the claim reads, as before.

Safe for the reason `known` is: the claim's commit is conditional on the ETag of every
row it writes, and every status change rewrites the run row; if anything changed the
run since its creation (a cancel, another claim), the commit fails and the claim runs
again on a fresh read. A state is kept as a deep copy made when the run is created
(the submit goes on with its own objects, to answer) and handed out once (the first
claim changes the run row, so a second copy would only fail). A state nobody takes is
dropped after `KEPT_SECONDS`, or when `KEPT_RUNS` newer ones are kept.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict

from pipelines.runs.engine import RunState

KEPT_RUNS = 64
KEPT_SECONDS = 30.0


class Handover:
    """States of runs created here, by (workspace, run id), each taken at most once."""

    def __init__(self, runs: int = KEPT_RUNS, seconds: float = KEPT_SECONDS) -> None:
        self._runs = runs
        self._seconds = seconds
        self._kept: OrderedDict[tuple[str, str], tuple[float, RunState]] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, state: RunState) -> None:
        """Keep a copy of the state of a run just created (its rows' ETags those of the creation)."""
        kept = copy.deepcopy(state)
        with self._lock:
            self._kept[(state.run.workspace, state.run.id)] = (time.monotonic() + self._seconds, kept)
            while len(self._kept) > self._runs:
                self._kept.popitem(last=False)

    def take(self, workspace: str, run_id: str) -> RunState | None:
        """The run's state as created, if it was created here lately and not taken yet."""
        with self._lock:
            kept = self._kept.pop((workspace, run_id), None)
        if kept is None or kept[0] < time.monotonic():
            return None
        return kept[1]


HANDOVER = Handover()
