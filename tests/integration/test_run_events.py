"""Run events out (issue 15): the local sink, webhooks, and no event lost when a nudge is.

Against the local host and Azurite: runs with real step scripts; the local sink is a real
queue read back here; webhooks are received by an HTTP server this test serves on
127.0.0.1, which checks each signature with its own HMAC, not the app's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue import QueueClient

from pipelines.client import publish
from pipelines.runs.notify import NUDGE_WINDOW_SECONDS
from tests import pipelines_for_tests as make
from tests.hosting import wait_for
from tests.listening import QuietHandler
from tests.service import Service, assert_error, token

SECRET = "whsec_" + base64.b64encode(b"a test secret of 32 bytes, fixed").decode()
SECRET_SETTING = "PIPELINES_WEBHOOK_SECRET_TEST"
# The namespace the app derives event ids from (pipelines/runs/events.py): ids are uuid5 of
# "{workspace}|{run id}|{transition}", so the same transition has the same id on every delivery.
EVENT_NAMESPACE = uuid.UUID("0c6f3d2e-4b8a-4f57-9a51-7a2d64e1c9b3")


def expected_id(run_id: str, transition: str, workspace: str = "ws1") -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{workspace}|{run_id}|{transition}"))


@pytest.fixture
def host_env(storage_env: dict[str, str]) -> dict[str, str]:
    return {
        "PIPELINES_EVENTS_QUEUE": storage_env["PIPELINES_NAME_PREFIX"] + "-events",
        "PIPELINES_WEBHOOKS_ALLOW_LOCAL_HTTP": "true",
        SECRET_SETTING: SECRET,
        "PIPELINES_WEBHOOK_MAX_ATTEMPTS": "3",
        "PIPELINES_WEBHOOK_MAX_BACKOFF_SECONDS": "2",
    }


@pytest.fixture
def sink(storage_env: dict[str, str], host_env: dict[str, str]) -> QueueClient:
    return QueueClient.from_connection_string(storage_env["AzureWebJobsStorage"], host_env["PIPELINES_EVENTS_QUEUE"])


def read_all(queue: QueueClient) -> list[dict[str, Any]]:
    """Every event on the queue, consumed."""
    found = []
    while True:
        batch = list(queue.receive_messages(messages_per_page=32, visibility_timeout=60))
        if not batch:
            return found
        for message in batch:
            found.append(json.loads(base64.b64decode(message.content)))
            queue.delete_message(message)


def settled(service: Service, run_id: str) -> bool:
    """Every event of the run handed to every sink (the events route says so)."""
    events = service.get(f"/PipelineRuns/{run_id}/Events").json()
    return bool(events) and all(d["Status"] != "Pending" for e in events for d in e["Deliveries"])


# -- a receiver of webhooks on 127.0.0.1 ---------------------------------------------------------------
class Receiver:
    """Answers `fail_first` requests with 500, then 200, each after `delay` seconds (only the first
    `slow_first` requests, when given); records every request and when it came (`times`, the
    monotonic clock)."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0, slow_first: int | None = None) -> None:
        self.fail_first = fail_first
        self.delay = delay
        self.slow_first = slow_first
        self.requests: list[tuple[int, dict[str, str], bytes]] = []  # (status answered, headers, body)
        self.paths: list[str] = []  # the path and query of each request
        self.times: list[float] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    status = 500 if len(receiver.requests) < receiver.fail_first else 200
                    receiver.requests.append((status, {k.lower(): v for k, v in self.headers.items()}, body))
                    receiver.paths.append(self.path)
                    receiver.times.append(time.monotonic())
                    slow = receiver.slow_first is None or len(receiver.requests) <= receiver.slow_first
                time.sleep(receiver.delay if slow else 0.0)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/pipelines"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for status, _, body in self.requests if status == 200]


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.server.shutdown()
        receiver.server.server_close()


def serve(receivers: list[Receiver], fail_first: int = 0, delay: float = 0.0,
          slow_first: int | None = None) -> Receiver:
    receiver = Receiver(fail_first, delay, slow_first)
    receiver.thread.start()
    receivers.append(receiver)
    return receiver


def signed_correctly(headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks, computed here: v1,base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, headers["webhook-signature"])


def endpoint_with(service: Service, pipeline_id: str, name: str, webhooks: list[dict[str, str]]) -> dict[str, Any]:
    response = service.post("/PipelineEndpoints/Create",
                            json={"Name": name, "PipelineId": pipeline_id, "Webhooks": webhooks})
    assert response.status_code == 200, response.text
    return dict(response.json())


# -- the tests -------------------------------------------------------------------------------------------
def test_finished_failed_and_canceled_runs_put_their_events_once_on_the_local_sink(
    service: Service, workspace: Any, sink: QueueClient, tmp_path: Path
) -> None:
    # GIVEN three pipelines: one that finishes, one that fails, one that holds until canceled
    ok = publish(workspace, make.single(tmp_path / "ok", "print('fine')"), "ok")
    bad = publish(workspace, make.single(tmp_path / "bad", "sys.exit('broken on purpose')"), "bad")
    held = publish(workspace, make.held(tmp_path / "held", tmp_path / "never"), "held")
    endpoint = endpoint_with(service, ok.id, "ok-endpoint", [])
    # WHEN each runs (the first through its endpoint) and the held one is canceled while it runs
    finished = service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint['Id']}", json={}).json()["Id"]
    failed = service.post(f"/PipelineRuns/PipelineSubmit/{bad.id}", json={}).json()["Id"]
    canceled = service.post(f"/PipelineRuns/PipelineSubmit/{held.id}", json={}).json()["Id"]
    wait_for(lambda: service.get(f"/PipelineRuns/{canceled}").json()["Status"]["StatusCode"] == 1, timeout=30)
    service.post(f"/PipelineRuns/{canceled}/Cancel")
    ends = {run: service.wait_run(run)["Status"]["StatusCode"] for run in (finished, failed, canceled)}
    assert ends == {finished: 3, failed: 2, canceled: 4}
    for run in (finished, failed, canceled):
        wait_for(lambda run=run: settled(service, run), timeout=30, interval=0.2)
    # THEN the sink holds each run's three events, each once, with the ids of their transitions
    events = read_all(sink)
    by_run: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_run.setdefault(event["data"]["pipelineRunId"], []).append(event)
    assert set(by_run) == {finished, failed, canceled}
    expected = {finished: "RunFinished", failed: "RunFailed", canceled: "RunCanceled"}
    for run, end in expected.items():
        got = by_run[run]
        assert Counter(e["type"] for e in got) == Counter(
            ["Pipelines.RunQueued", "Pipelines.RunStarted", f"Pipelines.{end}"]), got
        assert {e["id"] for e in got} == {expected_id(run, t) for t in ("RunQueued", "RunStarted", end)}
        for event in got:
            assert event["specversion"] == "1.0" and event["datacontenttype"] == "application/json"
            assert event["subject"] == f"/workspaces/ws1/experiments/{event['data']['experimentName']}/runs/{run}"
            assert event["data"]["runId"] == run and event["data"]["runType"] == "azureml.PipelineRun"
    words = {e["type"]: e["data"]["runStatus"] for e in events}
    assert words == {"Pipelines.RunQueued": "NotStarted", "Pipelines.RunStarted": "Running",
                     "Pipelines.RunFinished": "Completed", "Pipelines.RunFailed": "Failed",
                     "Pipelines.RunCanceled": "Canceled"}
    # AND the data says the endpoint and version, the times, and the failure's error
    done = next(e for e in by_run[finished] if e["type"] == "Pipelines.RunFinished")["data"]
    assert (done["pipelineEndpointId"], done["pipelineVersion"], done["pipelineId"]) == (endpoint["Id"], "0", ok.id)
    assert done["createdUtc"] <= done["startTimeUtc"] <= done["endTimeUtc"] and done["error"] is None
    queued = next(e for e in by_run[finished] if e["type"] == "Pipelines.RunQueued")["data"]
    assert queued["startTimeUtc"] is None and queued["endTimeUtc"] is None
    broken = next(e for e in by_run[failed] if e["type"] == "Pipelines.RunFailed")["data"]
    assert "broken on purpose" in broken["error"]["message"] and broken["pipelineEndpointId"] is None
    # AND nothing more comes: a second look finds the sink empty, and the runs left the active index
    time.sleep(1.5)
    assert read_all(sink) == []
    active = service.post(f"{service.hs}/experiments/ok/runs:query", json={"filter": "Status eq 'Running'"})
    assert active.json()["value"] == []


def test_a_webhook_receives_each_event_signed(service: Service, workspace: Any, receivers: list[Receiver],
                                               tmp_path: Path) -> None:
    # GIVEN an endpoint whose webhook is served by this test
    receiver = serve(receivers)
    ok = publish(workspace, make.single(tmp_path / "ok", "print('fine')"), "hooked")
    endpoint = endpoint_with(service, ok.id, "hooked", [{"Url": receiver.url, "SecretSetting": SECRET_SETTING}])
    assert endpoint["Webhooks"] == [{"Url": receiver.url, "SecretSetting": SECRET_SETTING}]
    # WHEN a run of it finishes
    run = service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint['Id']}", json={}).json()["Id"]
    assert service.wait_run(run)["Status"]["StatusCode"] == 3
    wait_for(lambda: len(receiver.accepted()) >= 3, timeout=30, interval=0.2)
    # THEN it got the three events, each once, as signed CloudEvents
    with receiver.lock:
        requests = list(receiver.requests)
    assert [json.loads(body)["type"] for _, _, body in requests] == [
        "Pipelines.RunQueued", "Pipelines.RunStarted", "Pipelines.RunFinished"]
    for _, headers, body in requests:
        event = json.loads(body)
        assert headers["content-type"].startswith("application/cloudevents+json")
        assert headers["webhook-id"] == event["id"]
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
        assert signed_correctly(headers, body)
        assert not signed_correctly({**headers, "webhook-id": str(uuid.uuid4())}, body)  # the check can fail
        assert event["data"]["pipelineEndpointId"] == endpoint["Id"]
    assert SECRET not in json.dumps(service.get(f"/PipelineEndpoints/Id/{endpoint['Id']}").json())


def test_a_webhooks_query_is_masked_in_answers_and_kept_through_a_whole_entity_put(
    service: Service, workspace: Any, receivers: list[Receiver], tmp_path: Path
) -> None:
    # GIVEN an endpoint whose webhook URL carries a credential in its query, as a Logic Apps trigger's does
    receiver = serve(receivers)
    ok = publish(workspace, make.single(tmp_path / "ok", "print('fine')"), "signed-url")
    url = receiver.url + "?api-version=2016-10-01&sig=SECRETSIGNATURE"
    created = endpoint_with(service, ok.id, "signed-url", [{"Url": url, "SecretSetting": SECRET_SETTING}])
    # THEN no answer shows the query's values, to any reader
    masked = receiver.url + "?api-version=***&sig=***"
    assert created["Webhooks"] == [{"Url": masked, "SecretSetting": SECRET_SETTING}]
    reader = {"Authorization": f"Bearer {token(['Pipelines.Read'])}"}
    for path in (f"/PipelineEndpoints/Id/{created['Id']}", "/PipelineEndpoints"):
        answer = service.get(path, headers=reader)
        assert answer.status_code == 200 and "SECRETSIGNATURE" not in answer.text, answer.text
    # WHEN the whole entity is read and put back (a read-modify-write, as SDK clients do)
    entity = service.get(f"/PipelineEndpoints/Id/{created['Id']}").json()
    put = service.put(f"/PipelineEndpoints/{created['Id']}", json=dict(entity, Description="renamed"))
    assert put.status_code == 200, put.text
    # THEN the webhook is still the whole URL: a run's events reach it with its query
    run = service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{created['Id']}", json={}).json()["Id"]
    assert service.wait_run(run)["Status"]["StatusCode"] == 3
    wait_for(lambda: len(receiver.accepted()) >= 3, timeout=30, interval=0.2)
    with receiver.lock:
        assert set(receiver.paths) == {"/hooks/pipelines?api-version=2016-10-01&sig=SECRETSIGNATURE"}
    # AND a masked URL that is none of the endpoint's webhooks is refused, not stored
    other = dict(put.json(), Webhooks=[{"Url": "https://example.com/x?sig=***", "SecretSetting": SECRET_SETTING}])
    assert_error(service.put(f"/PipelineEndpoints/{created['Id']}", json=other), 400)


def test_a_receiver_that_fails_twice_gets_each_event_once_it_recovers(
    service: Service, workspace: Any, sink: QueueClient, receivers: list[Receiver], tmp_path: Path
) -> None:
    # GIVEN a webhook that answers 500 to its first two requests, and one that never recovers
    flaky = serve(receivers, fail_first=2)
    down = serve(receivers, fail_first=10**6)
    ok = publish(workspace, make.single(tmp_path / "ok", "print('fine')"), "flaky")
    endpoint = endpoint_with(service, ok.id, "flaky", [{"Url": flaky.url, "SecretSetting": SECRET_SETTING},
                                                       {"Url": down.url, "SecretSetting": SECRET_SETTING}])
    # WHEN a run of it finishes
    run = service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint['Id']}", json={}).json()["Id"]
    assert service.wait_run(run)["Status"]["StatusCode"] == 3
    wait_for(lambda: settled(service, run), timeout=40, interval=0.3)
    # THEN the flaky receiver, once recovered, accepted each event exactly once, signed
    ids = {expected_id(run, t) for t in ("RunQueued", "RunStarted", "RunFinished")}
    accepted = flaky.accepted()
    assert sorted(e["id"] for e in accepted) == sorted(ids)
    assert [status for status, _, _ in flaky.requests[:2]] == [500, 500]
    assert all(signed_correctly(h, b) for _, h, b in flaky.requests)
    # AND the one that never recovered was tried 3 times (the setting), then given up, recorded where a user looks
    assert len(down.requests) == 3 and down.accepted() == []
    events = service.get(f"/PipelineRuns/{run}/Events").json()
    assert {e["Id"] for e in events} == ids
    for event in events:
        statuses = {d["Sink"].split()[0]: d for d in event["Deliveries"] if d["Sink"].startswith("webhook")}
        by_url = {d["Sink"]: d for d in event["Deliveries"]}
        assert by_url[f"webhook {flaky.url}"]["Status"] == "Delivered"
        gave_up = by_url[f"webhook {down.url}"]
        assert gave_up["Status"] == "Failed" and "HTTP 500" in gave_up["Error"] and statuses
    # AND the local sink had each event once: the webhooks' retries sent nothing to it again
    assert sorted(e["id"] for e in read_all(sink)) == sorted(ids)


def test_webhooks_that_keep_their_callers_waiting_hold_up_no_other_runs_events(
    service: Service, workspace: Any, receivers: list[Receiver], tmp_path: Path
) -> None:
    # GIVEN two webhooks that answer their first requests only after 8 s (more than the notify
    # queue's deliverer waits for, PIPELINES_EVENTS_QUICK_SECONDS = 2, less than a sink's full
    # 10 s; later ones at once, so that the test ends sooner) behind one endpoint, and a webhook
    # that answers at once behind another
    slow = [serve(receivers, delay=8.0, slow_first=8) for _ in range(2)]
    quick = serve(receivers)
    ok = publish(workspace, make.single(tmp_path / "ok", "print('fine')"), "waits")
    slow_endpoint = endpoint_with(service, ok.id, "slow", [{"Url": r.url, "SecretSetting": SECRET_SETTING}
                                                           for r in slow])
    quick_endpoint = endpoint_with(service, ok.id, "quick", [{"Url": quick.url, "SecretSetting": SECRET_SETTING}])
    # WHEN six runs of the first endpoint start, more than the notify queue's slots (batchSize 4 +
    # newBatchThreshold 2), and then a run of the second
    waiting = [service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{slow_endpoint['Id']}", json={}).json()["Id"]
               for _ in range(6)]
    wait_for(lambda: any(r.times for r in slow), timeout=30, interval=0.05)
    probe = service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{quick_endpoint['Id']}", json={}).json()["Id"]
    assert service.wait_run(probe)["Status"]["StatusCode"] == 3
    finished = expected_id(probe, "RunFinished")
    wait_for(lambda: finished in {e["id"] for e in quick.accepted()}, timeout=60, interval=0.05)
    told = quick.times[[e["id"] for e in quick.accepted()].index(finished)]
    first_call = min(t for r in slow for t in r.times)
    # THEN the second endpoint's webhook had its run's end before any slow webhook answered anyone:
    # the slow ones' calls, however many a run has, held no slot the other run's delivery needed
    assert told < first_call + 8.0, (told - first_call, 8.0)
    # AND each slow webhook still got every event of every run, from the sinks queue, which waits
    # the full time: each delivered, none counted as failed (a timed-out call may have been taken
    # too: events go at least once, with the same id)
    for run in waiting:
        assert service.wait_run(run)["Status"]["StatusCode"] == 3
    for run in waiting:
        wait_for(lambda run=run: settled(service, run), timeout=180, interval=0.5)
        deliveries = [d for e in service.get(f"/PipelineRuns/{run}/Events").json() for d in e["Deliveries"]]
        assert {d["Status"] for d in deliveries} == {"Delivered"}, deliveries
    every = {expected_id(run, t) for run in waiting for t in ("RunQueued", "RunStarted", "RunFinished")}
    for receiver in slow:
        assert {e["id"] for e in receiver.accepted()} == every


def test_a_runs_other_webhook_is_told_while_its_slow_one_is_called(
    service: Service, workspace: Any, receivers: list[Receiver], tmp_path: Path
) -> None:
    # GIVEN an endpoint with two webhooks, one that answers after 8 s and one at once, and a run
    # of it that holds its step until told
    slow = serve(receivers, delay=8.0)
    quick = serve(receivers)
    held = publish(workspace, make.held(tmp_path / "held", tmp_path / "release"), "two-hooks")
    endpoint = endpoint_with(service, held.id, "two-hooks", [{"Url": slow.url, "SecretSetting": SECRET_SETTING},
                                                             {"Url": quick.url, "SecretSetting": SECRET_SETTING}])
    run = service.post(f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint['Id']}", json={}).json()["Id"]
    # WHEN the slow one is being called from the sinks queue (its second request: the first waited
    # the notify queue's 2 s) and the run ends meanwhile
    wait_for(lambda: len(slow.times) >= 2, timeout=60, interval=0.05)
    # THEN the events route says the slow one is being called (no next attempt is due), the other not
    shown = [d for e in service.get(f"/PipelineRuns/{run}/Events").json() for d in e["Deliveries"]]
    calling = [d for d in shown if slow.url in d["Sink"] and d["Status"] == "Pending"]
    assert calling and all(d["InProgress"] and d["NextAttempt"] is None for d in calling), shown
    assert not any(d["InProgress"] for d in shown if quick.url in d["Sink"]), shown
    (tmp_path / "release").write_text("go")
    assert service.wait_run(run)["Status"]["StatusCode"] == 3
    finished = expected_id(run, "RunFinished")
    wait_for(lambda: finished in {e["id"] for e in quick.accepted()}, timeout=60, interval=0.05)
    told = quick.times[[e["id"] for e in quick.accepted()].index(finished)]
    # AND the other webhook had the run's end before the slow one answered that call: the call
    # held the slow sink, not the run
    assert told < slow.times[1] + slow.delay, (told - slow.times[1], slow.delay)
    # AND the slow one gets the run's end too, after its call (a follow-up), each event delivered
    wait_for(lambda: settled(service, run), timeout=90, interval=0.5)
    deliveries = [d for e in service.get(f"/PipelineRuns/{run}/Events").json() for d in e["Deliveries"]]
    assert {d["Status"] for d in deliveries} == {"Delivered"}, deliveries
    every = {expected_id(run, t) for t in ("RunQueued", "RunStarted", "RunFinished")}
    assert {e["id"] for e in slow.accepted()} == every and {e["id"] for e in quick.accepted()} == every


def test_webhooks_are_refused_unless_https(service: Service, workspace: Any, tmp_path: Path) -> None:
    ok = publish(workspace, make.single(tmp_path / "ok", "print('fine')"), "refused")
    for webhooks, target in (
        ([{"Url": "http://example.com/hook", "SecretSetting": SECRET_SETTING}], "Webhooks[0].Url"),
        ([{"Url": "https://example.com/hook", "SecretSetting": "AzureWebJobsStorage"}], "Webhooks[0].SecretSetting"),
        ([{"Url": f"https://example.com/{i}", "SecretSetting": SECRET_SETTING} for i in range(6)], "Webhooks"),
        ([{"Url": "https://example.com/hook"}], "Webhooks[0].SecretSetting"),
    ):
        response = service.post("/PipelineEndpoints/Create",
                                json={"Name": "refused", "PipelineId": ok.id, "Webhooks": webhooks})
        assert response.status_code == 400, response.text
        assert response.json()["Error"]["Target"] == target


# -- a lost nudge: the sweeper sends it again -----------------------------------------------------------
def test_a_lost_nudge_is_sent_again_by_the_sweeper_and_an_ended_run_waits_for_its_events(
    storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A crash between a commit and its nudge, played by deleting the nudge before anything takes it:
    the host here has no worker and no deliverer (the test calls the sweeper and the deliverer itself)."""
    import azure.functions as func

    from pipelines.blueprints import BLUEPRINTS
    from pipelines.client import Workspace
    from pipelines.events.delivery import deliver
    from pipelines.events.functions import bp as events_bp
    from pipelines.runs.repository import RunRepository
    from pipelines.settings import reset_settings
    from pipelines.store import get_worker_account, messages
    from pipelines.store.account import reset_account
    from pipelines.worker.functions import bp as worker_bp
    from pipelines.worker.handler import sweep
    from tests.hosting import running_host
    from tests.service import token

    prefix = storage_env["PIPELINES_NAME_PREFIX"]
    monkeypatch.setenv("PIPELINES_EVENTS_QUEUE", f"{prefix}-events")
    # A grace longer than the window by which a nudge is sent late (NUDGE_WINDOW_SECONDS).
    monkeypatch.setenv("PIPELINES_EVENTS_GRACE_SECONDS", str(NUDGE_WINDOW_SECONDS + 1))
    reset_settings()
    reset_account()
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in BLUEPRINTS:
        if blueprint not in (worker_bp, events_bp):
            app.register_functions(blueprint)
    notify = QueueClient.from_connection_string(storage_env["AzureWebJobsStorage"], f"{prefix}-steps-notify")
    sink = QueueClient.from_connection_string(storage_env["AzureWebJobsStorage"], f"{prefix}-events")

    def nudges() -> list[dict[str, Any]]:
        return [json.loads(base64.b64decode(m.content)) for m in notify.peek_messages(max_messages=32)]

    with running_host(app, dev_issuer=True) as host:
        service = Service(host.base_url)
        client = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
        held = publish(client, make.single(tmp_path / "code", "print('never runs: no worker here')"), "lost")
        # GIVEN a submitted run whose nudge is lost
        run = service.post(f"/PipelineRuns/PipelineSubmit/{held.id}", json={}).json()["Id"]
        wait_for(lambda: nudges() == [{"ws": "ws1", "run": run}])
        notify.clear_messages()
        account = get_worker_account()
        repository = RunRepository(account)
        # WHEN the sweeper looks before the grace period is over, THEN it sends nothing yet
        sweep(account)
        assert nudges() == []
        # WHEN it looks after it THEN it nudges the run again, once
        time.sleep(NUDGE_WINDOW_SECONDS + 1.2)
        sweep(account)
        sweep(account)
        [again] = nudges()
        assert again == {"ws": "ws1", "run": run}
        notify.clear_messages()
        # AND delivering that nudge puts RunQueued on the sink, after which the sweeper is quiet
        deliver(account, again)
        assert [e["id"] for e in read_all(sink)] == [expected_id(run, "RunQueued")]
        time.sleep(NUDGE_WINDOW_SECONDS + 1.2)
        sweep(account)
        assert nudges() == []
        # GIVEN the run canceled before it started, and that nudge lost too
        service.post(f"/PipelineRuns/{run}/Cancel")
        assert service.wait_run(run)["Status"]["StatusCode"] == 4
        wait_for(lambda: nudges() == [{"ws": "ws1", "run": run}])
        notify.clear_messages()
        # THEN the ended run stays in the active index until its last event is handed off
        time.sleep(NUDGE_WINDOW_SECONDS + 1.2)
        sweep(account)
        assert run in {a.run_id for a in repository.active_rows()}
        [again] = nudges()
        deliver(account, messages.decode(json.dumps(again)))
        assert [e["type"] for e in read_all(sink)] == ["Pipelines.RunCanceled"]
        assert run not in {a.run_id for a in repository.active_rows()}


def test_the_command_line_sets_webhooks_tails_the_sink_and_lists_deliveries(
    service: Service, workspace: Any, host: Any, host_env: dict[str, str], receivers: list[Receiver], tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    from tests.service import ROOT

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINES_")}
        return subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    service_options = ("--base-url", host.base_url, "--workspace", "ws1", "-o", "json")
    receiver = serve(receivers)
    ok = publish(workspace, make.single(tmp_path / "ok", "print('fine')"), "cli")
    endpoint_with(service, ok.id, "cli-endpoint", [])
    # GIVEN webhooks set from the command line (one --secret-setting for every --webhook)
    set_hooks = cli("endpoint", "set-webhooks", "cli-endpoint", "--webhook", receiver.url,
                    "--secret-setting", SECRET_SETTING, *service_options)
    assert set_hooks.returncode == 0, set_hooks.stderr
    assert json.loads(set_hooks.stdout)["Webhooks"] == [{"Url": receiver.url, "SecretSetting": SECRET_SETTING}]
    # WHEN a run ends
    run = cli("run", "submit", "--endpoint", "cli-endpoint", "--wait", *service_options)
    assert run.returncode == 0, run.stderr
    run_id = json.loads(run.stdout)["Id"]
    wait_for(lambda: settled(service, run_id), timeout=30, interval=0.2)
    # THEN `events tail` prints its events, one line each, and `events list` where each went
    tail = cli("events", "tail", "--once", "--queue", host_env["PIPELINES_EVENTS_QUEUE"])
    assert tail.returncode == 0, tail.stderr
    lines = tail.stdout.splitlines()
    assert [line.split()[1] for line in lines] == [
        "Pipelines.RunQueued", "Pipelines.RunStarted", "Pipelines.RunFinished"]
    assert all(line.endswith(f"/runs/{run_id}") for line in lines) and "Completed" in lines[-1]
    listed = cli("events", "list", run_id, *service_options)
    assert listed.returncode == 0, listed.stderr
    deliveries = {(e["Type"], d["Sink"], d["Status"]) for e in json.loads(listed.stdout) for d in e["Deliveries"]}
    assert {status for _, _, status in deliveries} == {"Delivered"} and len(deliveries) == 6
    # AND `set-webhooks` without --webhook removes them
    cleared = cli("endpoint", "set-webhooks", "cli-endpoint", *service_options)
    assert cleared.returncode == 0 and json.loads(cleared.stdout)["Webhooks"] == []
