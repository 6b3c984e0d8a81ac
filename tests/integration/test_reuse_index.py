"""The reuse index against a real Azurite: who holds a key, who waits, who takes over, and
when a key's outputs may be taken. Step rows are written as the run engine leaves them."""

from __future__ import annotations

from datetime import timedelta

from pipelines.runs.model import OutputSummary, Step, TaskStatus, run_partition
from pipelines.runs.reuse import DONE, PENDING, TABLE, Busy, Holder, ReuseIndex
from pipelines.store import Table
from pipelines.vocabulary import now

WS = "ws"
KEY = "f" * 64
SUMMARY = OutputSummary(files=1, bytes=5, sha256="a" * 64)


def put_step(account, run_id: str, status: TaskStatus, *, claim: str | None = None, live: bool = True,
             key: str | None = None) -> None:
    moment = now()
    step = Step(
        node_id="n", name="n", status=status, claim=claim, reuse_key=key, started=moment, ended=moment,
        lease_until=(moment + timedelta(seconds=15 if live else -1)) if status is TaskStatus.RUNNING else None,
        outputs=["out"], output_summaries={"out": SUMMARY}, metrics={"m": 1},
    )
    Table(account.table("Runs")).upsert(step.to_entity(run_partition(WS, run_id)))


def row(account) -> dict:
    found = Table(account.table(TABLE)).get(WS, KEY)
    assert found is not None
    return dict(found)


def test_a_key_is_held_waited_for_taken_over_and_then_taken(account) -> None:
    index = ReuseIndex(account)
    a, b = Holder("run-a", "n", "claim-a", "exp"), Holder("run-b", "n", "claim-b", "exp")
    # GIVEN nothing has the key: a submit finds nothing, the first worker holds it
    assert index.find(WS, KEY) is None
    put_step(account, "run-a", TaskStatus.RUNNING, claim="claim-a")
    assert index.claim(WS, KEY, a) is None
    assert (row(account)["State"], row(account)["RunId"]) == (PENDING, "run-a")
    # WHEN another worker reaches it while the holder runs: it waits; a submit takes nothing
    assert index.claim(WS, KEY, b) == Busy("run-a", "n")
    assert index.find(WS, KEY) is None
    # WHEN the holder failed: the other takes the key over and runs the step itself
    put_step(account, "run-a", TaskStatus.FAILED, key=KEY)
    put_step(account, "run-b", TaskStatus.RUNNING, claim="claim-b")
    assert index.claim(WS, KEY, b) is None
    assert row(account)["RunId"] == "run-b"
    # WHEN the new holder is recorded Finished with that very key: its outputs are taken
    put_step(account, "run-b", TaskStatus.FINISHED, key=KEY)
    prior = index.find(WS, KEY)
    assert prior is not None
    assert (prior.source.run_id, prior.source.node_id, prior.source.experiment) == ("run-b", "n", "exp")
    assert (prior.outputs, prior.summaries, prior.metrics) == (("out",), {"out": SUMMARY}, {"m": 1})
    # AND the first reader settled the row Done, so later readers need no step row
    assert row(account)["State"] == DONE
    Table(account.table("Runs")).delete(run_partition(WS, "run-b"), "step|n")
    again = index.claim(WS, KEY, Holder("run-c", "n", "claim-c", "exp"))
    assert again == prior


def test_a_holder_finished_with_another_key_or_lost_is_not_taken(account) -> None:
    index = ReuseIndex(account)
    a = Holder("run-a", "n", "claim-a", "exp")
    put_step(account, "run-a", TaskStatus.RUNNING, claim="claim-a")
    assert index.claim(WS, KEY, a) is None
    # A holder that finished under another key (its next attempt read other data) proves nothing
    put_step(account, "run-a", TaskStatus.FINISHED, key="e" * 64)
    assert index.find(WS, KEY) is None
    # A holder whose lease expired is dead: the next worker takes the key over
    put_step(account, "run-a", TaskStatus.RUNNING, claim="claim-a", live=False)
    assert index.claim(WS, KEY, Holder("run-b", "n", "claim-b", "exp")) is None
    assert row(account)["RunId"] == "run-b"
    # The holder's own next attempt takes its key back rather than waiting for itself
    put_step(account, "run-b", TaskStatus.RUNNING, claim="claim-b2")
    assert index.claim(WS, KEY, Holder("run-b", "n", "claim-b2", "exp")) is None
    assert row(account)["Claim"] == "claim-b2"
