"""The worker's one thread pool: every sync invocation (HTTP, queues, timers) shares it, sized
as the Python worker sizes it; async functions run on the worker's event loop instead.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import azure.functions as func
import httpx
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueClient

from pipelines.devhost.worker import LOOP_THREAD_NAME, POOL_THREAD_PREFIX, sync_thread_count
from tests.conftest import unique_prefix
from tests.hosting import FAST_QUEUES, b64, running_host, wait_for


def test_pool_size_is_the_setting_or_the_worker_default() -> None:
    # PYTHON_THREADPOOL_THREAD_COUNT when it is an integer of at least 1 ...
    assert sync_thread_count({"PYTHON_THREADPOOL_THREAD_COUNT": "24"}, cpu_count=1) == 24
    assert sync_thread_count({"PYTHON_THREADPOOL_THREAD_COUNT": " 3 "}, cpu_count=1) == 3
    assert sync_thread_count({"PYTHON_THREADPOOL_THREAD_COUNT": "100"}, cpu_count=1) == 100  # no cap
    # ... otherwise ThreadPoolExecutor's default, min(32, cpus + 4), as the worker passes None
    for ignored in ({}, {"PYTHON_THREADPOOL_THREAD_COUNT": "0"}, {"PYTHON_THREADPOOL_THREAD_COUNT": "lots"},
                    {"PYTHON_THREADPOOL_THREAD_COUNT": ""}):
        assert sync_thread_count(ignored, cpu_count=1) == 5
        assert sync_thread_count(ignored, cpu_count=2) == 6
        assert sync_thread_count(ignored, cpu_count=64) == 32


def _queue(storage_env: dict[str, str], name: str) -> QueueClient:
    client = QueueClient.from_connection_string(storage_env["AzureWebJobsStorage"], name)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    return client


def mixed_app(
    hold: threading.Event, entered: threading.Event
) -> tuple[func.FunctionApp, dict[str, list[str]]]:
    """HTTP (sync and async), queue and timer functions that report the thread they ran on."""
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    threads: dict[str, list[str]] = {"queue": [], "timer": []}

    @app.route(route="thread")
    def thread(req: func.HttpRequest) -> str:
        return threading.current_thread().name

    @app.route(route="hold")
    def hold_thread(req: func.HttpRequest) -> str:
        entered.set()
        hold.wait(20)
        return "released"

    @app.route(route="async")
    async def async_thread(req: func.HttpRequest) -> str:
        return threading.current_thread().name

    @app.queue_trigger(arg_name="msg", queue_name="%DEVHOST_TEST_QUEUE%", connection="AzureWebJobsStorage")
    def work(msg: func.QueueMessage) -> None:
        threads["queue"].append(threading.current_thread().name)

    @app.timer_trigger(schedule="*/1 * * * * *", arg_name="timer")
    def tick(timer: TimerRequest) -> None:
        threads["timer"].append(threading.current_thread().name)

    return app, threads


@pytest.fixture
def queue_name(storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"{unique_prefix()}-work"
    monkeypatch.setenv("DEVHOST_TEST_QUEUE", name)
    return name


def test_http_queue_and_timer_functions_share_one_pool(
    storage_env: dict[str, str], queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_THREADPOOL_THREAD_COUNT", "3")
    app, threads = mixed_app(threading.Event(), threading.Event())
    queue = _queue(storage_env, queue_name)
    with running_host(app, host_json=FAST_QUEUES) as started:
        assert started.worker is not None and started.worker.max_workers == 3
        queue.send_message(b64("which thread?"))
        http_thread = httpx.get(f"{started.base_url}/api/thread", timeout=10).text
        wait_for(lambda: threads["queue"] and threads["timer"], timeout=5)
        # THEN each ran on a thread of the worker's one pool
        for name in [http_thread, *threads["queue"], *threads["timer"]]:
            assert name.startswith(POOL_THREAD_PREFIX), name
        # and an async function on the worker's event loop
        assert httpx.get(f"{started.base_url}/api/async", timeout=10).text == LOOP_THREAD_NAME


def test_a_fetched_message_waits_for_a_free_thread(
    storage_env: dict[str, str], queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a pool of one thread, held by an HTTP request
    monkeypatch.setenv("PYTHON_THREADPOOL_THREAD_COUNT", "1")
    hold, entered = threading.Event(), threading.Event()
    app, threads = mixed_app(hold, entered)
    queue = _queue(storage_env, queue_name)
    answers: list[Any] = []
    with running_host(app, host_json=FAST_QUEUES) as started:
        holder = threading.Thread(
            target=lambda: answers.append(httpx.get(f"{started.base_url}/api/hold", timeout=30).text)
        )
        holder.start()
        assert entered.wait(10)
        # WHEN a message arrives
        queue.send_message(b64("waits"))
        # THEN the host fetches it (it turns invisible) but it does not run: no thread is free
        wait_for(lambda: not list(queue.peek_messages()), timeout=5)
        time.sleep(1)
        assert threads["queue"] == []
        # an async function still answers: it runs on the event loop, not the pool
        assert httpx.get(f"{started.base_url}/api/async", timeout=5).text == LOOP_THREAD_NAME
        # and once the thread is free, the message runs and is deleted
        hold.set()
        holder.join(10)
        wait_for(lambda: threads["queue"], timeout=5)
        wait_for(lambda: int(queue.get_queue_properties().approximate_message_count or 0) == 0)
    assert answers == ["released"]
