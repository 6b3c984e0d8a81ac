"""Run events without storage: which events a run's rows make, their ids, their CloudEvent JSON and the
SDK's CloudEvent objects made from it, webhook signatures and rules, retries' pauses, nudges' rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.messaging import CloudEvent
from pydantic import ValidationError

from pipelines.api import bodies
from pipelines.api.contract import wire_time
from pipelines.api.endpoint_requests import WEBHOOK_KEYS, endpoint_change, new_endpoint
from pipelines.api.events import delivery_entity
from pipelines.api.events_contract import cloud_event
from pipelines.catalogue import KEEP, Webhook
from pipelines.catalogue.webhooks import checked, parse_webhooks, webhooks_text
from pipelines.errors import BadRequestError
from pipelines.events import delivery
from pipelines.events.delivery import QUICK, SINKS, SlowSinks, backoff_seconds
from pipelines.events.signing import signature, signed_headers, verify
from pipelines.events.sinks import FULL, Outcome, Patience
from pipelines.runs.attempts import AttemptOutcome, AttemptRecord
from pipelines.runs.deliveries import SinkRecord
from pipelines.runs.engine import RunState
from pipelines.runs.events import derive, digest, event_id, keys
from pipelines.runs.model import Run, RunStatus, Step, TaskStatus
from pipelines.runs.notify import (
    NUDGE_MARGIN,
    NUDGE_WINDOW_SECONDS,
    ActiveRun,
    Notifier,
    NotifyMessage,
    SinkRef,
    sinks_of,
)
from pipelines.settings import Settings
from pipelines.store.eventgrid import cloud_events

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RUN_ID = "3f2b8a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


def settings(**values: Any) -> Settings:
    return Settings(AzureWebJobsStorage="UseDevelopmentStorage=true", **values)


def a_run(status: RunStatus = RunStatus.FINISHED, *, started: bool = True, steps: int = 2) -> RunState:
    run = Run(id=RUN_ID, workspace="ws1", pipeline_id="p1", graph_id="g1", status=status, experiment_name="exp",
              run_number=7, endpoint_id="e1", pipeline_version="2", tags={"team": "a"}, created=T0,
              started=T0 + timedelta(seconds=1) if started else None,
              ended=T0 + timedelta(seconds=9) if status.terminal else None,
              detail="step 'b' failed: exit code 3" if status is RunStatus.FAILED else None)
    made: dict[str, Step] = {}
    for index in range(steps):
        node = f"n{index}"
        step = Step(node_id=node, name=f"s{index}", index=index, status=TaskStatus.FINISHED, exit_code=0,
                    started=T0 + timedelta(seconds=2 + 3 * index), ended=T0 + timedelta(seconds=4 + 3 * index))
        step.attempts = [AttemptRecord(1, "w", step.started, step.ended, AttemptOutcome.FINISHED)]
        made[node] = step
    return RunState(run, made)


# -- which events, and their ids -------------------------------------------------------------------------
def test_a_runs_events_follow_its_rows_and_their_ids_are_stable_per_transition() -> None:
    state = a_run()
    events = derive(state, steps=False)
    assert [e.name for e in events] == ["RunQueued", "RunStarted", "RunFinished"]
    assert [e.time for e in events] == [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=9)]
    namespace = uuid.UUID("0c6f3d2e-4b8a-4f57-9a51-7a2d64e1c9b3")
    assert events[2].id == str(uuid.uuid5(namespace, f"ws1|{RUN_ID}|RunFinished"))
    assert [e.id for e in derive(a_run(), steps=False)] == [e.id for e in events]  # the same on every read
    assert event_id("ws2", RUN_ID, "RunFinished") != events[2].id  # another workspace, another id
    assert len({e.short for e in events}) == 3 and all(len(e.short) == 16 for e in events)


@pytest.mark.parametrize(("status", "last"), [(RunStatus.FAILED, "RunFailed"), (RunStatus.CANCELED, "RunCanceled"),
                                              (RunStatus.RUNNING, "RunStarted")])
def test_the_last_event_is_the_runs_end_or_its_start(status: RunStatus, last: str) -> None:
    assert derive(a_run(status), steps=False)[-1].name == last


def test_a_run_canceled_before_it_started_has_no_start_event() -> None:
    assert [e.name for e in derive(a_run(RunStatus.CANCELED, started=False), steps=False)] == [
        "RunQueued", "RunCanceled"]


def test_step_events_come_per_attempt_and_end_in_time_order() -> None:
    state = a_run(steps=2)
    retried = state.steps["n1"]
    retried.attempts = [AttemptRecord(1, "w", T0 + timedelta(seconds=3), T0 + timedelta(seconds=4),
                                      AttemptOutcome.FAILED), *retried.attempts]
    retried.attempts[1].number = 2
    retried.attempt = 2
    names = [(e.name, e.node_id, e.attempt) for e in derive(state, steps=True)]
    assert names == [
        ("RunQueued", None, None), ("RunStarted", None, None),
        ("StepStarted", "n0", 1), ("StepStarted", "n1", 1), ("StepFinished", "n0", 1), ("StepStarted", "n1", 2),
        ("StepFinished", "n1", 2), ("RunFinished", None, None),
    ]


@pytest.mark.parametrize("status", list(RunStatus))
@pytest.mark.parametrize("steps", [False, True])
def test_the_cheap_keys_are_the_events_keys(status: RunStatus, steps: bool) -> None:
    state = a_run(status, started=status is not RunStatus.NOT_STARTED)
    assert keys(state, steps=steps) == {e.key for e in derive(state, steps=steps)}


def test_a_digest_is_of_the_set() -> None:
    assert digest(["b", "a", "a"]) == digest(["a", "b"]) != digest(["a"])


# -- the CloudEvent JSON and the SDK's objects --------------------------------------------------------------
def test_a_run_event_is_a_cloud_event_that_says_the_run_as_it_was_then() -> None:
    state = a_run(RunStatus.FAILED)
    queued, _, failed = (cloud_event(e, state, "https://app.example") for e in derive(state, steps=False))
    assert failed["specversion"] == "1.0" and failed["type"] == "Pipelines.RunFailed"
    assert failed["source"] == "https://app.example"
    assert failed["subject"] == f"/workspaces/ws1/experiments/exp/runs/{RUN_ID}"
    assert failed["time"] == "2026-12-01T09:00:09.000000+00:00"
    data = failed["data"]
    assert (data["runId"], data["runStatus"], data["statusCode"], data["runNumber"]) == (RUN_ID, "Failed", 2, 7)
    assert (data["pipelineEndpointId"], data["pipelineVersion"], data["pipelineId"]) == ("e1", "2", "p1")
    assert data["error"] == {"message": "step 'b' failed: exit code 3"} and data["runTags"] == {"team": "a"}
    assert queued["data"]["startTimeUtc"] is None and queued["data"]["endTimeUtc"] is None
    assert queued["data"]["runStatus"] == "NotStarted" and queued["data"]["error"] is None


def test_a_step_event_names_the_step_run() -> None:
    state = a_run()
    started = next(e for e in derive(state, steps=True) if e.name == "StepStarted")
    event = cloud_event(started, state, "s")
    assert event["subject"].endswith(f"/runs/{RUN_ID}_n0")
    assert (event["data"]["runId"], event["data"]["runType"], event["data"]["parentRunId"]) == (
        f"{RUN_ID}_n0", "azureml.StepRun", RUN_ID)
    data = event["data"]
    assert (data["runStatus"], data["statusCode"], data["endTimeUtc"]) == ("Running", 2, None)


def test_event_grid_gets_the_same_events_as_sdk_cloud_events() -> None:
    state = a_run()
    events = [cloud_event(e, state, "https://app.example") for e in derive(state, steps=False)]
    made = cloud_events(events)
    assert all(isinstance(e, CloudEvent) for e in made)
    assert [e.id for e in made] == [e["id"] for e in events]
    last = made[-1]
    assert (last.source, last.type, last.subject, last.specversion) == (
        "https://app.example", "Pipelines.RunFinished", events[-1]["subject"], "1.0")
    assert last.time == T0 + timedelta(seconds=9) and last.data == events[-1]["data"]
    assert last.datacontenttype == "application/json" and not last.extensions


# -- signatures -------------------------------------------------------------------------------------------
def test_a_signature_is_standard_webhooks_hmac_of_id_timestamp_and_body() -> None:
    key = b"0123456789abcdef0123456789abcdef"
    secret = "whsec_" + base64.b64encode(key).decode()
    body = b'{"id":"x"}'
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()).decode()
    assert signature(secret, "msg_1", 1700000000, body) == "v1," + expected
    plain = base64.b64encode(hmac.new(b"plain text", b"m.5." + body, hashlib.sha256).digest()).decode()
    assert signature("plain text", "m", 5, body) == "v1," + plain
    headers = signed_headers(secret, "msg_1", body, timestamp=1700000000)
    assert verify(secret, headers, body, now=1700000010)
    assert not verify(secret, headers, body + b" ", now=1700000010)  # another body
    assert not verify("whsec_" + base64.b64encode(b"another").decode(), headers, body, now=1700000010)
    assert not verify(secret, headers, body, now=1700000000 + 301)  # too old: a replay


# -- webhook rules ------------------------------------------------------------------------------------------
GOOD = "PIPELINES_WEBHOOK_SECRET_A"


@pytest.mark.parametrize("url", ["https://hooks.example.com/x?y=1", "https://a.b:8443", "https://x/"])
def test_https_urls_are_accepted(url: str) -> None:
    assert checked([Webhook(url, GOOD)], allow_local_http=False) == (Webhook(url, GOOD),)


@pytest.mark.parametrize(("url", "local"), [
    ("http://example.com/x", False), ("http://example.com/x", True), ("http://127.0.0.1:9/x", False),
    ("ftp://example.com", True), ("https://", False), ("https://exa mple.com", False),
    ("https://example.com/" + "x" * 2048, False),
])
def test_other_urls_are_refused(url: str, local: bool) -> None:
    with pytest.raises(BadRequestError) as raised:
        checked([Webhook(url, GOOD)], allow_local_http=local)
    assert raised.value.target == "Webhooks[0].Url"


def test_plain_http_to_this_machine_only_where_the_setting_allows_it() -> None:
    assert checked([Webhook("http://127.0.0.1:8080/h", GOOD)], allow_local_http=True)
    assert checked([Webhook("http://localhost/h", GOOD)], allow_local_http=True)


@pytest.mark.parametrize("setting", ["AzureWebJobsStorage", "PIPELINES_WEBHOOK_SECRET_", "PIPELINES_WEBHOOK_SECRET_a"])
def test_a_secret_setting_must_be_one_made_for_webhooks(setting: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        checked([Webhook("https://x.example", setting)], allow_local_http=False)
    assert raised.value.target == "Webhooks[0].SecretSetting"


def test_at_most_five_webhooks_and_equal_ones_kept_once() -> None:
    hooks = [Webhook(f"https://x.example/{i}", GOOD) for i in range(6)]
    with pytest.raises(BadRequestError):
        checked(hooks, allow_local_http=False)
    assert checked([hooks[0], hooks[0]], allow_local_http=False) == (hooks[0],)
    assert parse_webhooks(webhooks_text(hooks[:2])) == tuple(hooks[:2]) and webhooks_text([]) is None


def test_the_webhooks_key_is_parsed_and_documented() -> None:
    assert set(WEBHOOK_KEYS) == {f.alias for f in bodies.WebhookRequest.model_fields.values()}
    body = {"Name": "e", "PipelineId": "p", "webhooks": [{"Url": "https://x.example", "SecretSetting": GOOD}]}
    assert new_endpoint(body).webhooks == (Webhook("https://x.example", GOOD),)
    assert endpoint_change({"Name": "e"}, None).webhooks is KEEP
    assert endpoint_change({"Webhooks": None}, None).webhooks == ()
    for bad in ("https://x", [1], [{"Url": 5, "SecretSetting": GOOD}], [{"url": "https://x", "SecretSetting": GOOD}]):
        with pytest.raises(BadRequestError):
            endpoint_change({"Webhooks": bad}, None)


# -- settings, sinks, retries, nudges ------------------------------------------------------------------------
def test_the_notify_queue_is_named_after_the_steps_queue_which_leaves_room_for_it() -> None:
    assert settings(PIPELINES_STEPS_QUEUE="pipeline-steps").notify_queue_name == "pipeline-steps-notify"
    settings(PIPELINES_STEPS_QUEUE="a" * 49)
    with pytest.raises(ValueError):
        settings(PIPELINES_STEPS_QUEUE="a" * 50)  # its -notify-poison would pass 63 characters


def test_sinks_are_the_configured_ones_and_the_runs_webhooks() -> None:
    run = a_run().run
    assert sinks_of(settings(), run) == [] and not settings().events_everywhere
    run.webhooks = (Webhook("https://x.example/h?token=secret", GOOD),)
    configured = settings(PIPELINES_EVENTS_QUEUE="pipeline-events",
                          PIPELINES_EVENTS_TOPIC_ENDPOINT="https://t.westeurope-1.eventgrid.azure.net/api/events")
    found = sinks_of(configured, run)
    assert [s.kind for s in found] == ["queue", "eventgrid", "webhook"]
    assert found[2].label == "webhook https://x.example/h" and "secret" not in found[2].label  # no query shown


def test_retries_back_off_doubling_up_to_the_cap() -> None:
    assert [backoff_seconds(n, 5) for n in range(1, 6)] == [1, 2, 4, 5, 5]


def test_a_nudge_says_ids_only() -> None:
    message = NotifyMessage("ws1", RUN_ID, "webhook-abc", 2)
    assert message.to_payload() == {"ws": "ws1", "run": RUN_ID, "sink": "webhook-abc", "n": 2}
    assert NotifyMessage.from_payload(message.to_payload()) == message
    assert NotifyMessage.from_payload({"ws": "ws1", "run": RUN_ID}) == NotifyMessage("ws1", RUN_ID)


def test_the_sweeper_leaves_a_run_alone_while_its_events_are_handed_off_or_within_grace() -> None:
    notifier = Notifier(SimpleNamespace(settings=settings(PIPELINES_EVENTS_QUEUE="run-events")))  # type: ignore[arg-type]
    state = a_run()
    shorts = [e.short for e in derive(state, steps=False)]
    handed = ActiveRun("ws1", RUN_ID, T0, digest(shorts))
    assert notifier.sweep(state, handed, T0 + timedelta(hours=1)) == (True, {})  # ended, all handed: it goes
    pending = ActiveRun("ws1", RUN_ID, T0, digest(shorts[:2]))
    assert notifier.sweep(state, pending, T0 + timedelta(seconds=20)) == (False, {})  # within 30 s of its end
    later = ActiveRun("ws1", RUN_ID, T0, digest(shorts[:2]), events_check=T0 + timedelta(minutes=5))
    assert notifier.sweep(state, later, T0 + timedelta(minutes=2)) == (False, {})  # a retry is due later
    quiet = Notifier(SimpleNamespace(settings=settings()))  # type: ignore[arg-type]
    assert quiet.sweep(state, pending, T0 + timedelta(hours=1)) == (True, {})  # no events: nothing held


def test_nudges_are_coalesced_a_change_read_by_a_nudge_on_its_way_sends_none() -> None:
    notifier = Notifier(SimpleNamespace(settings=settings(PIPELINES_EVENTS_QUEUE="run-events")))  # type: ignore[arg-type]
    queued = a_run(RunStatus.NOT_STARTED, started=False, steps=0)
    # A new run's nudge comes NUDGE_WINDOW_SECONDS late, and the run row says when.
    assert notifier.first(queued.run, T0) == NUDGE_WINDOW_SECONDS
    assert queued.run.events_nudge == T0 + timedelta(seconds=NUDGE_WINDOW_SECONDS)
    before = notifier.marks(queued)
    started = a_run(RunStatus.RUNNING, steps=0)
    started.run.events_nudge = queued.run.events_nudge
    # Started well before that nudge is visible: it reads this change too, none is sent.
    assert notifier.plan(started, before, True, T0 + timedelta(milliseconds=300)) is None
    # Too close to it (the commit might land after the deliverer's read): a nudge of its own.
    late = T0 + timedelta(seconds=NUDGE_WINDOW_SECONDS) - NUDGE_MARGIN / 2
    assert notifier.plan(started, before, True, late) == NUDGE_WINDOW_SECONDS
    assert started.run.events_nudge == late + timedelta(seconds=NUDGE_WINDOW_SECONDS)
    # A run's end with no nudge on its way is nudged at once.
    ended = a_run(RunStatus.FINISHED, steps=0)
    ended.run.events_nudge = T0
    assert notifier.plan(ended, notifier.marks(started), True, T0 + timedelta(minutes=1)) == 0
    # No new event, or a commit that does not write the run row (nothing to note it on).
    assert notifier.plan(ended, notifier.marks(ended), True, T0 + timedelta(minutes=2)) is None
    ended.run.events_nudge = T0 + timedelta(hours=1)
    assert notifier.plan(ended, before, False, T0) == 0
    # No sink, no webhook: no nudge, nothing noted.
    quiet = Notifier(SimpleNamespace(settings=settings()))  # type: ignore[arg-type]
    fresh = a_run(RunStatus.NOT_STARTED, started=False, steps=0)
    assert quiet.first(fresh.run, T0) is None and fresh.run.events_nudge is None
    assert quiet.plan(ended, quiet.marks(queued), True, T0) is None


class Row(dict[str, Any]):
    """A table row as the SDK hands it back: a dict with metadata."""

    metadata = {"etag": "e1"}


def test_the_run_row_keeps_when_its_nudge_is_due() -> None:
    run = a_run().run
    run.events_nudge = T0 + timedelta(seconds=2)
    assert Run.from_entity(Row(run.to_entity())).events_nudge == run.events_nudge
    assert Run.from_entity(Row({**run.to_entity(), "EventsNudge": None})).events_nudge is None


def test_the_notify_queue_waits_a_moment_for_a_sink_and_the_sinks_queue_the_full_time() -> None:
    quick = settings(PIPELINES_EVENTS_QUICK_SECONDS="1.5")
    assert QUICK.patience(quick) == Patience(connect=1.5, read=1.5, retries=0, whole=1.5)
    assert QUICK.patience(quick).within(0.5) == Patience(connect=0.5, read=0.5, retries=0, whole=0.5)
    assert QUICK.patience(settings(PIPELINES_EVENTS_QUICK_SECONDS="5")).connect == FULL.connect
    assert SINKS.patience(quick) == FULL and FULL.read > 1.5 and FULL.retries > 0
    assert settings().events_quick_seconds == 2.0
    for bad in ("0", "11", "soon"):
        with pytest.raises(ValidationError):
            settings(PIPELINES_EVENTS_QUICK_SECONDS=bad)


def test_a_slow_sink_is_remembered_by_its_own_address_for_a_while() -> None:
    clock = [100.0]
    slow = SlowSinks(lambda: clock[0])
    hooks = tuple(Webhook(f"https://hooks.example.com/{name}", "PIPELINES_WEBHOOK_SECRET_TEST") for name in ("a", "b"))
    run = a_run().run
    run.webhooks = hooks
    a, b = sinks_of(settings(), run)
    # WHEN one webhook of a host was slow
    slow.note(a)
    # THEN it is known as slow, and another of the same host is not
    assert slow.known(a) and not slow.known(b)
    # AND it is forgotten when it answers in time, or after SLOW_SECONDS
    slow.forget(a)
    assert not slow.known(a)
    slow.note(a)
    clock[0] += delivery.SLOW_SECONDS - 1
    assert slow.known(a)
    clock[0] += 1
    assert not slow.known(a)


def test_a_message_for_a_slow_sink_goes_to_the_sinks_queue_and_any_other_to_the_notify_queue() -> None:
    named: list[str] = []
    account = SimpleNamespace(settings=settings(PIPELINES_STEPS_QUEUE="steps"), queue=lambda name: named.append(name))
    notifier = Notifier(account)  # type: ignore[arg-type]
    notifier.queue(NotifyMessage("ws1", RUN_ID))
    notifier.queue(NotifyMessage("ws1", RUN_ID, "webhook-1", 2))  # a retry of a sink that answered 500
    notifier.queue(NotifyMessage("ws1", RUN_ID, "webhook-1", 2, slow=True))
    assert named == ["steps-notify", "steps-notify", "steps-sinks"]
    # AND the mark travels with the message; a general nudge has none
    slow = NotifyMessage("ws1", RUN_ID, "webhook-1", 2, slow=True)
    assert NotifyMessage.from_payload(slow.to_payload()) == slow
    assert NotifyMessage.from_payload({"ws": "ws1", "run": RUN_ID, "slow": 1}).slow is False
    assert NotifyMessage.from_payload({"ws": "ws1", "run": RUN_ID, "sink": "webhook-1", "n": 2}).slow is False


def test_the_events_route_says_a_delivery_being_tried_and_one_passed_on_due_from_then() -> None:
    event = derive(a_run(), steps=False)[-1]
    record = SinkRecord("webhook-1", "webhook https://hooks.example.com/a")
    # GIVEN a sink slower than the notify queue waits for, passed on to the sinks queue at T0
    message = NotifyMessage("ws1", RUN_ID)
    passed, _ = delivery._pass_on(message, SinkRef("webhook-1", "webhook", record.label), record, T0)
    assert passed.slow and passed.sink == "webhook-1"
    # THEN it is pending and due from then, not at the end of the hold that keeps general nudges off it
    shown = delivery_entity(event, record, T0 + timedelta(seconds=5)).model_dump()
    assert shown == {"Sink": record.label, "Status": "Pending", "Attempts": 0,
                     "NextAttempt": "2026-12-01T09:00:00.000000+00:00", "Error": None, "InProgress": False}
    # WHEN the sinks queue's deliverer calls it: in progress, with no next attempt
    record.working, record.working_until = "token", T0 + timedelta(seconds=60)
    shown = delivery_entity(event, record, T0 + timedelta(seconds=6)).model_dump()
    assert shown["InProgress"] is True and shown["NextAttempt"] is None and shown["Status"] == "Pending"
    # AND once that call failed, the retry's time, the passing forgotten
    record.working = record.working_until = None
    outcome = Outcome(error="HTTP 500")
    delivery._settle(settings(), a_run(), passed, SINKS, SinkRef("webhook-1", "webhook", record.label), record,
                     [event], outcome, 0.0, T0 + timedelta(seconds=20))
    shown = delivery_entity(event, record, T0 + timedelta(seconds=21)).model_dump()
    assert record.passed is None and shown["Attempts"] == 1 and shown["Error"] == "HTTP 500"
    assert record.next is not None and shown["NextAttempt"] == wire_time(record.next)  # now + the back-off
    # AND a delivery made is Delivered, whatever the record says of others
    record.done.add(event.short)
    assert delivery_entity(event, record, T0).model_dump()["Status"] == "Delivered"
