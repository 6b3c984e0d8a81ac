"""Storage away: every route family answers 503 with Retry-After within 10 s, and a step
message goes back to the queue rather than failing its step.

Two ways storage goes away, on an Azurite of this module's own:
- stopped: nothing listens, connections are refused at once;
- paused (SIGSTOP): connections are accepted by the kernel and never answered,
  which the SDKs' default timeouts would wait on for minutes.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.devhost import azurite as azurite_mod
from pipelines.errors import StorageUnavailableError
from pipelines.settings import reset_settings
from pipelines.store.account import reset_account
from tests import pipelines_for_tests as make
from tests.conftest import unique_prefix
from tests.service import Service, token

LIMIT_SECONDS = 10
RUN = "00000000-0000-4000-8000-000000000001"
# One route of every family, as a client calls it: (method, family, path, body).
ROUTES = [
    ("GET", "ws", "/Pipelines", None),
    ("POST", "ws", "/PipelineRuns/PipelineSubmit/p1", {}),
    ("GET", "ws", f"/PipelineRuns/{RUN}", None),
    ("POST", "ws", f"/PipelineRuns/{RUN}/Graph/AllNodes/Status", None),
    ("GET", "ws", f"/PipelineRuns/{RUN}/Steps/n1/Outputs/o/files/a.csv", None),
    ("GET", "ws", "/PipelineEndpoints", None),
    ("GET", "ws", "/Datastores", None),
    ("GET", "ws", "/Datasets", None),
    ("GET", "ws", "/EventTriggers", None),
    ("GET", "ws", "/Schedules", None),
    ("GET", "hs", f"/runs/{RUN}/details", None),
    ("POST", "hs", "/experiments/e/runs:query", {"filter": "Status eq 'Running'"}),
    ("GET", "hs", "/experiments", None),
]


@pytest.fixture
def own_azurite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[azurite_mod.Azurite]:
    emulator = azurite_mod.start(log_path=str(tmp_path / "azurite.log"))
    prefix = unique_prefix()
    monkeypatch.setenv("AzureWebJobsStorage", emulator.connection_string)
    monkeypatch.setenv("PIPELINES_NAME_PREFIX", prefix)
    monkeypatch.setenv("PIPELINES_STEPS_QUEUE", f"{prefix}-steps")
    monkeypatch.setenv("PIPELINES_WORK_DIR", str(tmp_path / "work"))
    reset_settings()
    reset_account()
    try:
        yield emulator
    finally:
        if emulator.process is not None and emulator.process.poll() is None:
            os.killpg(emulator.process.pid, signal.SIGCONT)
        emulator.stop()
        reset_settings()
        reset_account()


@pytest.fixture
def service(own_azurite: azurite_mod.Azurite) -> Iterator[Service]:
    from tests.hosting import running_host

    with running_host(dev_issuer=True) as host:
        service = Service(host.base_url)
        # storage answered once: the app's tables and containers exist
        assert service.get("/Pipelines").status_code == 200
        yield service


def call_all(service: Service) -> list[tuple[str, int, float, httpx.Response]]:
    def call(route: tuple[str, str, str, Any]) -> tuple[str, int, float, httpx.Response]:
        method, family, path, body = route
        url = (service.ws if family == "ws" else service.hs) + path
        started = time.monotonic()
        response = httpx.request(method, url, json=body, headers=service.headers(), timeout=60)
        return f"{method} {path}", response.status_code, time.monotonic() - started, response

    # All at once: the host's one pool (PYTHON_THREADPOOL_THREAD_COUNT, 24 as deployed)
    # holds them and the timers that storage holds up too.
    with ThreadPoolExecutor(len(ROUTES)) as pool:
        return list(pool.map(call, ROUTES))


def assert_unavailable(results: list[tuple[str, int, float, httpx.Response]]) -> None:
    for name, status, seconds, response in results:
        assert status == 503, (name, status, response.text)
        assert seconds < LIMIT_SECONDS, (name, seconds)
        assert response.headers.get("Retry-After"), name
        body = response.json()
        assert body["Error"]["Code"] == "ServiceUnavailable" and body["Correlation"]["RequestId"], name


def test_every_route_family_answers_503_when_storage_is_stopped(
    service: Service, own_azurite: azurite_mod.Azurite
) -> None:
    # GIVEN storage that stopped: connections are refused
    own_azurite.stop()
    # WHEN a route of every family is called THEN each answers 503, Retry-After, in time
    assert_unavailable(call_all(service))


def test_every_route_family_answers_503_within_10_s_when_storage_is_silent(
    service: Service, own_azurite: azurite_mod.Azurite
) -> None:
    # GIVEN storage that accepts connections and never answers (its process paused)
    assert own_azurite.process is not None
    os.killpg(own_azurite.process.pid, signal.SIGSTOP)
    try:
        # WHEN a route of every family is called
        results = call_all(service)
    finally:
        os.killpg(own_azurite.process.pid, signal.SIGCONT)
    # THEN each gave up in time, and said so the contract's way
    assert_unavailable(results)
    # AND once storage answers again, so does the app
    assert service.get("/Pipelines").status_code == 200


def queued_here(tmp_path: Path) -> tuple[str, str]:
    """A one-step run submitted to a host in this process without the worker (nothing takes its
    step): the run's id and its step's."""
    from pipelines.client import Workspace, publish
    from tests.hosting import http_only_app, running_host

    with running_host(http_only_app(), dev_issuer=True) as host:
        workspace = Workspace(base_url=host.base_url, resource_group="rg", name="ws1", token_provider=lambda: token())
        run = publish(workspace, make.single(tmp_path / "code", "print('ran')"), "p", None, "1").submit("x", {})
        [node_id] = run.get_step_statuses()
    return run.id, node_id


def test_a_step_message_goes_back_to_the_queue_when_storage_is_away(
    own_azurite: azurite_mod.Azurite, tmp_path: Path
) -> None:
    from pipelines.runs.model import StepMessage, TaskStatus
    from pipelines.runs.repository import RunRepository
    from pipelines.store import get_worker_account
    from pipelines.worker.handler import handle_step_message

    # GIVEN a run whose step is queued (a host without the worker: nothing takes it)
    run_id, node_id = queued_here(tmp_path)
    account = get_worker_account()
    message = StepMessage("ws1", run_id, node_id, 1).to_payload()
    # (the message is taken by another process than the one that created the run: this one
    # lets go of the state it kept for a first claim here, which test_lost_first_claim covers)
    assert RunRepository(account).just_created("ws1", run_id) is not None
    # WHEN the worker gets its message while storage is stopped
    assert own_azurite.process is not None
    os.killpg(own_azurite.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError):
            handle_step_message(account, message)
        waited = time.monotonic() - started
    finally:
        os.killpg(own_azurite.process.pid, signal.SIGCONT)
    # THEN it raised soon (the host makes the message visible again) and recorded nothing
    assert waited < 30
    assert RunRepository(account).load("ws1", run_id).steps[node_id].status is TaskStatus.QUEUED
    # AND the same message, delivered again once storage answers, runs the step
    assert handle_step_message(account, message) == f"step {node_id} finished"


def test_lost_first_claim_made_in_the_creating_process_is_found_again(
    own_azurite: azurite_mod.Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pipelines.runs.model import StepMessage, TaskStatus
    from pipelines.runs.repository import RunRepository
    from pipelines.store import get_worker_account
    from pipelines.worker.handler import handle_step_message

    # GIVEN a run created by this process, its step queued (a host without the worker)
    run_id, node_id = queued_here(tmp_path)
    account = get_worker_account()
    lost: list[BaseException] = []
    mutate = RunRepository.mutate

    def watched(self: RunRepository, *args: Any, **kwargs: Any) -> Any:
        try:
            return mutate(self, *args, **kwargs)
        except StorageUnavailableError as error:
            lost.append(error)
            raise

    monkeypatch.setattr(RunRepository, "mutate", watched)
    # WHEN its first claim, made from the state as created (no read: its commit is the first
    # request), goes to a paused storage, which applies it once resumed, after the worker
    # stopped waiting for the answer
    assert own_azurite.process is not None
    os.killpg(own_azurite.process.pid, signal.SIGSTOP)
    with ThreadPoolExecutor(1) as pool:
        try:
            handled = pool.submit(handle_step_message, account, StepMessage("ws1", run_id, node_id, 1).to_payload())
            deadline = time.monotonic() + 60
            while not lost:
                assert time.monotonic() < deadline, "the claim's commit never gave up"
                time.sleep(0.1)
        finally:
            os.killpg(own_azurite.process.pid, signal.SIGCONT)
        said = handled.result(timeout=120)
    # THEN the same invocation read the run again, found its own claim, and ran the step: one
    # attempt, finished, not a claim left to expire and an attempt recorded as lost
    assert said == f"step {node_id} finished"
    assert "storage failed under a run's first claim; reading the run again" in caplog.text
    step = RunRepository(account).load("ws1", run_id).steps[node_id]
    assert step.status is TaskStatus.FINISHED
    assert [(a.number, a.outcome) for a in step.attempts] == [(1, "Finished")]
