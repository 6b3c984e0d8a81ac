"""One execution of a step: every claim by a worker starts an attempt record on the step row.

Kept with the run's step (`pipelines.runs.model.Step.attempts`); the words of its
outcome and reason are the wire's (`Attempts[].Outcome`, `Attempts[].Reason`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipelines.store.codec import parse_time, time_text


class AttemptOutcome:
    """How one execution of a step ended, in words (`Attempts[].Outcome`)."""

    RUNNING = "Running"
    FINISHED = "Finished"
    FAILED = "Failed"
    CANCELED = "Canceled"
    LOST = "Lost"  # its worker stopped answering: the script may or may not have finished


class AttemptReason:
    """Why an execution ended other than by its script's own outcome (`Attempts[].Reason`)."""

    RETRY = "Retry"  # it failed and the step has retries left: a new attempt is queued
    LEASE_EXPIRED = "LeaseExpired"  # the sweeper found its lease expired and queued the step again
    WORKER_LOST = "WorkerLost"  # the queue redelivered its message and another worker took the step over
    POISONED = "Poisoned"  # its message failed every delivery


# The attempts a step row keeps (the newest); more only happen with many retries.
MAX_ATTEMPT_RECORDS = 20
ATTEMPT_DETAIL_CHARS = 300


@dataclass
class AttemptRecord:
    """One execution of a step: every claim by a worker starts one.

    `script_exited` is when the script exited 0. For a step declared not idempotent
    it is written before its outputs are uploaded: if the worker is lost after
    that, the record says the script finished although its result was never
    recorded. For the others it is written with the result.
    """

    number: int
    worker: str | None
    started: datetime | None
    ended: datetime | None = None
    outcome: str = AttemptOutcome.RUNNING
    reason: str | None = None
    exit_code: int | None = None
    script_exited: datetime | None = None
    detail: str | None = None

    def close(self, outcome: str, now: datetime, reason: str | None = None, detail: str | None = None) -> None:
        self.outcome = outcome
        self.ended = now
        self.reason = reason
        if detail is not None:
            self.detail = detail[:ATTEMPT_DETAIL_CHARS]

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.number, "w": self.worker, "s": time_text(self.started), "e": time_text(self.ended),
            "o": self.outcome, "r": self.reason, "x": self.exit_code, "xt": time_text(self.script_exited),
            "d": self.detail,
        }

    @classmethod
    def from_json(cls, value: Any) -> AttemptRecord | None:
        try:
            return cls(
                number=int(value["n"]), worker=value.get("w"), started=parse_time(value.get("s")),
                ended=parse_time(value.get("e")), outcome=str(value.get("o") or AttemptOutcome.RUNNING),
                reason=value.get("r"), exit_code=value.get("x"), script_exited=parse_time(value.get("xt")),
                detail=value.get("d"),
            )
        except (KeyError, TypeError, ValueError):
            return None
