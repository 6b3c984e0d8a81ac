"""Run numbers: a workspace numbers its runs 1, 2, 3, ... as the history service did.

Table storage has no atomic increment, and a compare-and-swap on one counter row
per submit would make concurrent submits queue behind each other. So each
process reserves a block of numbers at a time (one compare-and-swap on the
counter row per block) and hands them out from memory: numbers are unique in the
workspace and grow within a process; runs submitted through different instances
at the same moment interleave, and a process that stops leaves the rest of its
block unused (a gap, never a duplicate). A pipeline run takes one number for
itself and one per step, in the definition's order.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pipelines.errors import AlreadyExistsError, EtagMismatchError
from pipelines.store import StorageAccount, Table, etag_of, key

BLOCK = 100
_TRIES = 50


@dataclass
class _Block:
    next: int
    end: int  # exclusive


_blocks: dict[tuple[str, str], _Block] = {}
_lock = threading.Lock()


class RunNumbers:
    def __init__(self, account: StorageAccount) -> None:
        self.table = Table(account.table("RunIndex"))

    def take(self, workspace: str, count: int) -> int:
        """The first of `count` consecutive numbers, reserved for the caller."""
        slot = (self.table.client.table_name, workspace)
        with _lock:
            block = _blocks.get(slot)
            if block is None or block.next + count > block.end:
                start = self._reserve(workspace, max(BLOCK, count))
                block = _blocks[slot] = _Block(start, start + max(BLOCK, count))
            first = block.next
            block.next += count
            return first

    def _reserve(self, workspace: str, size: int) -> int:
        partition, row = key(workspace, "counter"), "runs"
        for _ in range(_TRIES):
            entity = self.table.get(partition, row)
            if entity is None:
                try:
                    self.table.insert({"PartitionKey": partition, "RowKey": row, "Next": 1 + size})
                    return 1
                except AlreadyExistsError:
                    continue
            start = int(entity["Next"])
            try:
                self.table.replace({"PartitionKey": partition, "RowKey": row, "Next": start + size}, etag_of(entity))
                return start
            except EtagMismatchError:
                continue
        raise EtagMismatchError("run numbers are being reserved too fast; try again", target=workspace)
