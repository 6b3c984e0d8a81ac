"""The development host's queue and timer triggers, against a real Azurite.

Each test names the Storage Queues extension's (or Timer extension's) behaviour it
checks; pipelines/devhost/README.md maps them.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from datetime import timedelta
from typing import Any

import azure.functions as func
import httpx
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueClient

from pipelines.devhost.queues import PollingBackoff, poison_queue_name, queue_service, valid_queue_name
from pipelines.errors import ConfigurationError
from tests.conftest import unique_prefix
from tests.hosting import FAST_QUEUES, b64, running_host, wait_for


def queue_app(
    *, fail: bool = False, sleep: float = 0.0, gate: threading.Event | None = None, returns: Any = None
) -> tuple[func.FunctionApp, list[func.QueueMessage]]:
    app = func.FunctionApp()
    received: list[func.QueueMessage] = []

    # `%...%` is resolved from the environment, as the host resolves app settings.
    @app.queue_trigger(arg_name="msg", queue_name="%DEVHOST_TEST_QUEUE%", connection="AzureWebJobsStorage")
    def work(msg: func.QueueMessage) -> Any:
        received.append(msg)
        msg.received_at = time.monotonic()  # type: ignore[attr-defined]
        if gate is not None:
            gate.wait(20)
        time.sleep(sleep)
        if fail:
            raise RuntimeError("this message always fails")
        return returns

    return app, received


@pytest.fixture
def queue_name(storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"{unique_prefix()}-work"
    monkeypatch.setenv("DEVHOST_TEST_QUEUE", name)
    return name


def _queue(storage_env: dict[str, str], name: str) -> QueueClient:
    client = QueueClient.from_connection_string(storage_env["AzureWebJobsStorage"], name)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    return client


def _count(client: QueueClient) -> int:
    try:
        return int(client.get_queue_properties().approximate_message_count or 0)
    except Exception:  # noqa: BLE001 - not created yet
        return 0


def _visible(client: QueueClient) -> int:
    return len(list(client.peek_messages(max_messages=32)))


def _options(**changes: Any) -> dict[str, Any]:
    return {"version": "2.0", "extensions": {"queues": {**FAST_QUEUES["extensions"]["queues"], **changes}}}


# -- delivery ---------------------------------------------------------------------------------------
def test_queue_function_receives_a_base64_message(storage_env: dict[str, str], queue_name: str) -> None:
    app, received = queue_app()
    queue = _queue(storage_env, queue_name)
    with running_host(app, host_json=FAST_QUEUES):
        # WHEN a base64 message arrives
        queue.send_message(b64('{"step": 1}'))
        # THEN the function gets the decoded body, first delivery, and the message is deleted
        wait_for(lambda: received)
        message = received[0]
        assert message.get_json() == {"step": 1}
        assert message.dequeue_count == 1
        assert message.id and message.pop_receipt
        wait_for(lambda: _count(queue) == 0)


def test_an_idle_queue_is_still_polled_within_max_polling_interval(
    storage_env: dict[str, str], queue_name: str
) -> None:
    app, received = queue_app()
    queue = _queue(storage_env, queue_name)
    with running_host(app, host_json=FAST_QUEUES):
        time.sleep(2)  # long enough for the back-off to reach maxPollingInterval (200 ms)
        sent = time.monotonic()
        queue.send_message(b64("late"))
        wait_for(lambda: received, timeout=5)
    assert received[0].received_at - sent < 1.0  # type: ignore[attr-defined]


def test_polling_backs_off_exponentially_up_to_the_maximum_and_resets() -> None:
    # RandomizedExponentialBackoffStrategy(100 ms, max): min, then min + min * 2^(n-1) * U(0.8, 1.2)
    backoff = PollingBackoff(2.0, rng=random.Random(7))
    delays = [backoff.next_delay(False) for _ in range(8)]
    assert delays[0] == pytest.approx(0.1)
    for n, delay in enumerate(delays[1:5], start=1):
        assert 0.1 + 0.8 * 0.1 * 2 ** (n - 1) <= delay <= 0.1 + 1.2 * 0.1 * 2 ** (n - 1)
    assert delays[-1] == 2.0 and delays == sorted(delays)
    assert backoff.next_delay(True) == pytest.approx(0.1)  # messages were found: from the start


def test_batch_size_and_new_batch_threshold_bound_what_runs_at_once(
    storage_env: dict[str, str], queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN batchSize 2, newBatchThreshold 1, threads to spare, and messages that wait for a gate
    # but one, which ends at once
    monkeypatch.setenv("PYTHON_THREADPOOL_THREAD_COUNT", "16")
    gate = threading.Event()
    app = func.FunctionApp()
    running: list[str] = []

    @app.queue_trigger(arg_name="msg", queue_name="%DEVHOST_TEST_QUEUE%", connection="AzureWebJobsStorage")
    def work(msg: func.QueueMessage) -> None:
        if msg.get_body() != b"quick":
            running.append(msg.id)
            gate.wait(20)

    queue = _queue(storage_env, queue_name)
    for body in ["slow", "quick", "slow", "slow", "slow", "slow", "slow"]:
        queue.send_message(b64(body))
    with running_host(app, host_json=_options(batchSize=2, newBatchThreshold=1)):
        # THEN the first batch (slow, quick) falls to the threshold when `quick` ends, one more
        # batch of 2 is fetched, and no more: batchSize + newBatchThreshold run at once
        wait_for(lambda: len(running) == 3)
        time.sleep(1)
        assert len(running) == 3
        assert _visible(queue) == 3  # the rest wait in the queue, visible to other instances
        gate.set()
        wait_for(lambda: len(running) == 6)
        wait_for(lambda: _count(queue) == 0)


def test_a_failed_message_returns_after_visibility_timeout(
    storage_env: dict[str, str], queue_name: str
) -> None:
    app, received = queue_app(fail=True)
    queue = _queue(storage_env, queue_name)
    with running_host(app, host_json=_options(visibilityTimeout="00:00:02")):
        queue.send_message(b64("retry me"))
        wait_for(lambda: len(received) == 2, timeout=10)
    gap = received[1].received_at - received[0].received_at  # type: ignore[attr-defined]
    assert gap >= 1.9
    assert [m.dequeue_count for m in received] == [1, 2]


def test_failing_message_moves_to_poison_after_max_dequeue_count(
    storage_env: dict[str, str], queue_name: str
) -> None:
    app, received = queue_app(fail=True)
    queue = _queue(storage_env, queue_name)
    poison = QueueClient.from_connection_string(storage_env["AzureWebJobsStorage"], f"{queue_name}-poison")
    with running_host(app, host_json=FAST_QUEUES):
        queue.send_message(b64("doomed"))
        wait_for(lambda: _count(poison) == 1)
        # THEN it was tried maxDequeueCount (2) times, and now lives only in the poison queue, as sent
        assert [m.dequeue_count for m in received] == [1, 2]
        wait_for(lambda: _count(queue) == 0)  # copied first, then deleted: never lost
        assert [m.content for m in poison.receive_messages()] == [b64("doomed")]


def test_a_value_returned_without_a_return_binding_fails_the_invocation(
    storage_env: dict[str, str], queue_name: str
) -> None:
    # The worker fails an invocation that returns a value when the function has no $return binding.
    app, received = queue_app(returns="a value")
    queue = _queue(storage_env, queue_name)
    with running_host(app, host_json=FAST_QUEUES):
        queue.send_message(b64("m"))
        wait_for(lambda: len(received) == 2)
    assert [m.dequeue_count for m in received] == [1, 2]


def test_message_that_is_not_base64_goes_to_poison_unprocessed(
    storage_env: dict[str, str], queue_name: str
) -> None:
    app, received = queue_app()
    queue = _queue(storage_env, queue_name)
    poison = QueueClient.from_connection_string(storage_env["AzureWebJobsStorage"], f"{queue_name}-poison")
    with running_host(app, host_json=FAST_QUEUES):
        queue.send_message("{not base64}")
        wait_for(lambda: _count(poison) == 1)
        assert received == []


def test_a_poison_queue_has_no_poison_queue_of_its_own(
    storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a function on a queue named *-poison that always fails, with a short processing visibility
    name = f"{unique_prefix()}-steps-poison"
    monkeypatch.setenv("DEVHOST_TEST_QUEUE", name)
    app, received = queue_app(fail=True)
    queue = _queue(storage_env, name)
    with running_host(app, host_json=FAST_QUEUES, processing_visibility=timedelta(seconds=1)):
        queue.send_message(b64("failing again"))
        # THEN a failed message is not released (it comes back when the processing visibility ends)
        wait_for(lambda: len(received) == 2, timeout=10)
        gap = received[1].received_at - received[0].received_at  # type: ignore[attr-defined]
        assert gap >= 0.5
        # and once over maxDequeueCount it stays in the queue, never runs, and goes nowhere
        time.sleep(3)
        assert len(received) == 2
        assert _count(queue) == 1
    connection = storage_env["AzureWebJobsStorage"]
    assert _count(QueueClient.from_connection_string(connection, f"{name}-poison")) == 0


def test_queue_names() -> None:
    assert poison_queue_name("steps") == "steps-poison"
    assert poison_queue_name("steps-poison") is None
    assert poison_queue_name("s" * 60) is None  # "-poison" would make it too long
    assert all(valid_queue_name(name) for name in ("abc", "a-b-c", "q12", "s" * 63))
    assert not any(valid_queue_name(name) for name in ("ab", "Abc", "a--b", "-ab", "ab-", "a_b", "s" * 64))


def test_queue_connection_settings(storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # `connection` names a setting, or the part after AzureWebJobs (as the host looks it up)
    assert queue_service("AzureWebJobsStorage").account_name == queue_service("Storage").account_name
    monkeypatch.setenv("OtherStorage__queueServiceUri", "https://other.queue.core.windows.net")
    assert queue_service("OtherStorage").account_name == "other"  # an identity-based connection
    with pytest.raises(ConfigurationError, match="Missing"):
        queue_service("Missing")


def test_long_running_message_stays_invisible_while_it_runs(
    storage_env: dict[str, str], queue_name: str
) -> None:
    # GIVEN a processing visibility of 2 s (renewed every second) and a step taking 3.5 s
    app, received = queue_app(sleep=3.5)
    queue = _queue(storage_env, queue_name)
    with running_host(app, host_json=FAST_QUEUES, processing_visibility=timedelta(seconds=2)):
        queue.send_message(b64("slow"))
        wait_for(lambda: _count(queue) == 0, timeout=10)
    # THEN it ran once: renewals kept it from being delivered again meanwhile
    assert [m.dequeue_count for m in received] == [1]


def test_a_setting_that_does_not_resolve_disables_the_function_only(
    storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a queue trigger on %DEVHOST_TEST_QUEUE%, unset, beside an HTTP function
    monkeypatch.delenv("DEVHOST_TEST_QUEUE", raising=False)
    app, _ = queue_app()

    @app.route(route="ping", auth_level=func.AuthLevel.ANONYMOUS)
    def ping(req: func.HttpRequest) -> str:
        return "pong"

    # WHEN hosted THEN the host disables that function ("failed indexing") and serves the rest
    with running_host(app, host_json=FAST_QUEUES) as started:
        assert list(started.disabled) == ["work"]
        assert "DEVHOST_TEST_QUEUE" in started.disabled["work"]
        assert httpx.get(f"{started.base_url}/api/ping", timeout=5).text == "pong"


def test_stop_leaves_no_threads(storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVHOST_TEST_QUEUE", unique_prefix())
    app, _ = queue_app()
    before = set(threading.enumerate())
    with running_host(app, host_json=FAST_QUEUES) as started:
        httpx.get(f"{started.base_url}/api/anything", timeout=5)
    wait_for(lambda: set(threading.enumerate()) <= before, timeout=5)


# -- timers -----------------------------------------------------------------------------------------
def timer_app() -> tuple[func.FunctionApp, list[TimerRequest], list[TimerRequest]]:
    app = func.FunctionApp()
    fired: list[TimerRequest] = []
    started_fired: list[TimerRequest] = []

    @app.timer_trigger(schedule="*/1 * * * * *", arg_name="timer")
    def every_second(timer: TimerRequest) -> None:
        fired.append(timer)

    @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
    def yearly(timer: TimerRequest) -> None:
        started_fired.append(timer)

    return app, fired, started_fired


def test_timer_fires_on_schedule_and_on_startup(storage_env: dict[str, str]) -> None:
    app, fired, started_fired = timer_app()
    with running_host(app, host_json={}):
        wait_for(lambda: len(fired) >= 2, timeout=5)
        wait_for(lambda: started_fired, timeout=2)
    assert fired[0].past_due is False
    assert fired[0].schedule_status["Next"]


def test_a_timer_never_overlaps_itself(storage_env: dict[str, str]) -> None:
    # GIVEN a timer every second whose run takes 2.5 s
    app = func.FunctionApp()
    runs: list[tuple[float, float]] = []

    @app.timer_trigger(schedule="*/1 * * * * *", arg_name="timer")
    def slow(timer: TimerRequest) -> None:
        started = time.monotonic()
        time.sleep(2.5)
        runs.append((started, time.monotonic()))

    with running_host(app, host_json={}):
        wait_for(lambda: len(runs) >= 2, timeout=10)
    # THEN the next run starts only after the previous one ended (the occurrences it covered are skipped)
    assert runs[1][0] >= runs[0][1]


def test_a_schedule_the_host_cannot_read_disables_the_timer(
    storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVHOST_SCHEDULE", "every night")
    app = func.FunctionApp()

    @app.timer_trigger(schedule="%DEVHOST_SCHEDULE%", arg_name="timer")
    def nightly(timer: TimerRequest) -> None: ...

    with running_host(app, host_json={}) as started:
        assert list(started.disabled) == ["nightly"]
