"""Who delivers a run's events to a sink, against Azurite (`pipelines.runs.deliveries`): the sinks
queue's deliverer holds one sink, not the run, while it calls it, and a deliverer that read the run
or the sink before cannot take either meanwhile; what two deliverers wrote is merged, never lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.runs.deliveries import CLAIM_SECONDS, Deliveries, SinkRecord
from pipelines.store import StorageAccount

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RUN = ("ws1", "3f2b8a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")


def test_one_sink_is_held_and_the_run_let_go_while_it_is_called(account: StorageAccount) -> None:
    deliveries = Deliveries(account)
    claim, records = deliveries.read(*RUN)
    hook = records.setdefault("webhook-1", SinkRecord("webhook-1", "webhook https://hooks.example.com/a"))
    # WHEN the sinks queue's deliverer begins with the sink
    assert deliveries.begin(*RUN, claim, hook, "deliverer-a", T0)
    # THEN the sink reads as being worked on (general nudges leave it alone: its Next), the run as free
    claim_now, rows = deliveries.read(*RUN)
    assert rows["webhook-1"].worked_on(T0 + timedelta(seconds=1))
    assert rows["webhook-1"].next == T0 + timedelta(seconds=CLAIM_SECONDS)
    assert not rows["webhook-1"].worked_on(T0 + timedelta(seconds=CLAIM_SECONDS))  # presumed gone after
    assert not claim_now.held(T0)
    # AND the notify queue's deliverer may take the run meanwhile, for the run's other sinks
    assert deliveries.claim(*RUN, claim_now, "deliverer-b", T0) is not None
    # AND a deliverer that read before the begin can take neither the run nor the sink
    assert deliveries.claim(*RUN, claim, "deliverer-c", T0) is None
    stale = SinkRecord("webhook-1", "webhook https://hooks.example.com/a")
    assert not deliveries.begin(*RUN, claim, stale, "deliverer-d", T0)


def test_the_end_records_the_outcome_and_merges_what_another_deliverer_wrote_meanwhile(
    account: StorageAccount
) -> None:
    deliveries = Deliveries(account)
    claim, records = deliveries.read(*RUN)
    hook = records.setdefault("webhook-1", SinkRecord("webhook-1", "webhook https://hooks.example.com/a"))
    hook.done = {"queued"}
    assert deliveries.begin(*RUN, claim, hook, "deliverer-a", T0)
    # WHEN, the first presumed gone, a second deliverer delivers RunStarted and writes the row
    later = T0 + timedelta(seconds=CLAIM_SECONDS + 1)
    claim2, rows = deliveries.read(*RUN)
    second = rows["webhook-1"]
    assert deliveries.begin(*RUN, claim2, second, "deliverer-b", later)
    second.done.add("started")
    deliveries.end(*RUN, second)
    # AND the first ends, having delivered RunFinished
    hook.done.add("finished")
    hook.tries, hook.next = 0, None
    deliveries.end(*RUN, hook)
    # THEN the row holds every event either delivered, and nobody works on the sink
    _, final = deliveries.read(*RUN)
    assert final["webhook-1"].done == {"queued", "started", "finished"}
    assert not final["webhook-1"].worked_on(later) and final["webhook-1"].working is None
