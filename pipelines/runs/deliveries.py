"""Where a run's events were delivered: table `RunEvents`, one partition per run.

- RowKey `claim`: the deliverer working on the run (`Claim`, `ClaimUntil`), so that two
  nudges taken at once do not both deliver: the second finds the claim held and comes back.
- RowKey `sink|{sink id}`, one per sink (`pipelines.runs.notify.SinkRef`): the events
  delivered there (`Done`: their short ids, `pipelines.runs.events.RunEvent.short`), the
  ones given up on after every attempt (`Failed`: short id to why), the attempts of the
  delivery under way (`Tries`), when its next attempt is due (`Next`) and its last error.

The run row is never written here: its ETag is what the engine's commits are conditioned
on, and a deliverer writing it would make them conflict. These rows are also what the
events route (`GET .../PipelineRuns/{runId}/Events`) shows a user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipelines.errors import AlreadyExistsError, EtagMismatchError
from pipelines.runs.model import run_partition
from pipelines.store import StorageAccount, Table, etag_of, key, replace_op, upsert_op
from pipelines.store.codec import json_text, parse_json, parse_time, time_text

CLAIM_ROW = "claim"
# A deliverer that holds a run longer than this is presumed gone; it stops well before.
CLAIM_SECONDS = 120
ERROR_CHARS = 500


@dataclass
class SinkRecord:
    sink: str
    label: str
    done: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    tries: int = 0
    next: datetime | None = None
    error: str | None = None

    def handled(self, short: str) -> bool:
        return short in self.done or short in self.failed

    def to_entity(self, partition: str) -> dict[str, Any]:
        return {
            "PartitionKey": partition, "RowKey": key("sink", self.sink), "Sink": self.sink, "Label": self.label,
            "Done": json_text(sorted(self.done)), "Failed": json_text(self.failed), "Tries": self.tries,
            "Next": time_text(self.next), "Error": (self.error or "")[:ERROR_CHARS] or None,
        }

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> SinkRecord:
        return cls(
            sink=str(entity["Sink"]), label=str(entity.get("Label") or entity["Sink"]),
            done=set(parse_json(entity.get("Done"), [])), failed=dict(parse_json(entity.get("Failed"), {})),
            tries=int(entity.get("Tries") or 0), next=parse_time(entity.get("Next")), error=entity.get("Error"),
        )


@dataclass
class Claim:
    """The claim row as read: who holds the run's delivery, until when, and the row's ETag."""

    holder: str | None
    until: datetime | None
    etag: str | None

    def held(self, when: datetime) -> bool:
        return self.holder is not None and self.until is not None and self.until > when


class Deliveries:
    def __init__(self, account: StorageAccount) -> None:
        self.table = Table(account.table("RunEvents"))

    def read(self, workspace: str, run_id: str) -> tuple[Claim, dict[str, SinkRecord]]:
        rows = self.table.query_all("PartitionKey eq @pk", parameters={"pk": run_partition(workspace, run_id)})
        claim = Claim(None, None, None)
        records: dict[str, SinkRecord] = {}
        for row in rows:
            if row["RowKey"] == CLAIM_ROW:
                claim = Claim(row.get("Claim"), parse_time(row.get("ClaimUntil")), etag_of(row))
            elif row.get("Sink"):
                record = SinkRecord.from_entity(row)
                records[record.sink] = record
        return claim, records

    def claim(self, workspace: str, run_id: str, seen: Claim, token: str, when: datetime) -> str | None:
        """Take the run's delivery: the ETag of the claim, or None when another deliverer holds it."""
        if seen.held(when):
            return None
        entity = {"PartitionKey": run_partition(workspace, run_id), "RowKey": CLAIM_ROW, "Claim": token,
                  "ClaimUntil": time_text(when + timedelta(seconds=CLAIM_SECONDS))}
        try:
            return self.table.insert(entity) if seen.etag is None else self.table.replace(entity, seen.etag)
        except (AlreadyExistsError, EtagMismatchError):
            return None  # another deliverer took it first

    def finish(self, workspace: str, run_id: str, claim_etag: str, records: list[SinkRecord]) -> None:
        """Record what was delivered and let the run go, in one transaction on the claim's ETag:
        a deliverer presumed gone (its claim expired and was taken over) records nothing."""
        partition = run_partition(workspace, run_id)
        release = {"PartitionKey": partition, "RowKey": CLAIM_ROW, "Claim": None, "ClaimUntil": None}
        self.table.transact([replace_op(release, claim_etag), *(upsert_op(r.to_entity(partition)) for r in records)])
