"""Where a run's events were delivered: table `RunEvents`, one partition per run.

- RowKey `claim`: the deliverer working on the run (`Claim`, `ClaimUntil`), so that two
  nudges taken at once do not both deliver: the second finds the claim held and comes back.
- RowKey `sink|{sink id}`, one per sink (`pipelines.runs.notify.SinkRef`): the events
  delivered there (`Done`: their short ids, `pipelines.runs.events.RunEvent.short`), the
  ones given up on after every attempt (`Failed`: short id to why), the attempts of the
  delivery under way (`Tries`), when its next attempt is due (`Next`) and its last error;
  while a deliverer calls that sink alone (for a message naming it), who does (`Working`,
  `WorkingUntil`): it holds the sink, not the run (`begin`, `end`); when the sink was passed
  on to the sinks queue and not called since, when (`Passed`).

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
from pipelines.store import StorageAccount, Table, create_op, etag_of, key, replace_op, upsert_op
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
    working: str | None = None  # the deliverer calling this sink alone, until `working_until`
    working_until: datetime | None = None
    passed: datetime | None = None  # passed on to the sinks queue then, and not called since
    etag: str | None = None  # the row's, as read (None: no row yet)

    def handled(self, short: str) -> bool:
        return short in self.done or short in self.failed

    def worked_on(self, when: datetime) -> bool:
        """Whether a deliverer is calling this sink alone (and has not been presumed gone)."""
        return self.working is not None and self.working_until is not None and self.working_until > when

    def to_entity(self, partition: str) -> dict[str, Any]:
        return {
            "PartitionKey": partition, "RowKey": key("sink", self.sink), "Sink": self.sink, "Label": self.label,
            "Done": json_text(sorted(self.done)), "Failed": json_text(self.failed), "Tries": self.tries,
            "Next": time_text(self.next), "Error": (self.error or "")[:ERROR_CHARS] or None,
            "Working": self.working, "WorkingUntil": time_text(self.working_until),
            "Passed": time_text(self.passed),
        }

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> SinkRecord:
        return cls(
            sink=str(entity["Sink"]), label=str(entity.get("Label") or entity["Sink"]),
            done=set(parse_json(entity.get("Done"), [])), failed=dict(parse_json(entity.get("Failed"), {})),
            tries=int(entity.get("Tries") or 0), next=parse_time(entity.get("Next")), error=entity.get("Error"),
            working=entity.get("Working"), working_until=parse_time(entity.get("WorkingUntil")),
            passed=parse_time(entity.get("Passed")), etag=etag_of(entity),
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

    def begin(self, workspace: str, run_id: str, seen: Claim, record: SinkRecord, token: str,
              when: datetime) -> bool:
        """Take one sink's delivery, for a message naming it: the sink's row is marked as
        being worked on by `token` (general nudges leave it alone meanwhile, `Next`) and the run's
        claim row is written back released, both on the ETags read, in one transaction. So it
        fails if a deliverer took the run, or the sink, since they were read; and a deliverer that
        read them before cannot take the run after (its claim is on the old ETag). The run is
        not held while the sink is called. False: another deliverer came first."""
        partition = run_partition(workspace, run_id)
        released = {"PartitionKey": partition, "RowKey": CLAIM_ROW, "Claim": None, "ClaimUntil": None}
        if seen.held(when):
            return False
        record.working, record.working_until = token, when + timedelta(seconds=CLAIM_SECONDS)
        record.next = record.working_until
        row = record.to_entity(partition)
        try:
            answers = self.table.transact([
                create_op(released) if seen.etag is None else replace_op(released, seen.etag),
                create_op(row) if record.etag is None else replace_op(row, record.etag),
            ])
        except (AlreadyExistsError, EtagMismatchError):
            return False
        record.etag = answers[1]["etag"]
        return True

    def end(self, workspace: str, run_id: str, record: SinkRecord) -> None:
        """Record what a deliverer did with the sink it took (`begin`) and let the sink go. The row
        changes only under its `begin`'s ETag; if another deliverer wrote it meanwhile (one that
        presumed this one gone), what each delivered is kept: the rows are merged."""
        partition = run_partition(workspace, run_id)
        record.working = record.working_until = None
        for _ in range(3):
            assert record.etag is not None, "end() follows begin()"
            try:
                record.etag = self.table.replace(record.to_entity(partition), record.etag)
                return
            except EtagMismatchError:
                current = self.table.get(partition, key("sink", record.sink))
                if current is None:
                    record.etag = self.table.insert(record.to_entity(partition))
                    return
                other = SinkRecord.from_entity(current)
                record.done |= other.done
                record.failed = {**other.failed, **record.failed}
                record.etag = other.etag
        raise EtagMismatchError("the record of a sink kept changing while it was written")

    def finish(self, workspace: str, run_id: str, claim_etag: str, records: list[SinkRecord]) -> None:
        """Record what was delivered and let the run go, in one transaction on the claim's ETag:
        a deliverer presumed gone (its claim expired and was taken over) records nothing."""
        partition = run_partition(workspace, run_id)
        release = {"PartitionKey": partition, "RowKey": CLAIM_ROW, "Claim": None, "ClaimUntil": None}
        self.table.transact([replace_op(release, claim_etag), *(upsert_op(r.to_entity(partition)) for r in records)])
