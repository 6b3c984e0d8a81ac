"""Standalone worker processes for the integration tests (`pipelines worker ...` as real child
processes against the test's Azurite): started, probed, stopped, and killed when a test ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.devhost.azurite import free_port
from tests.service import ROOT

LEASE = "3"  # the steps' lease (s): short, so that a take-over happens within a test


class Worker:
    """`python -m pipelines worker ...` with the test's storage settings; its own work folder."""

    def __init__(self, tmp_path: Path, name: str, *args: str) -> None:
        self.port = free_port()
        env = {**os.environ, "PIPELINES_STEP_LEASE_SECONDS": LEASE, "PIPELINES_WORK_DIR": str(tmp_path / name),
               "PYTHONUNBUFFERED": "1"}
        self.log = tmp_path / f"{name}.log"
        argv = [sys.executable, "-m", "pipelines", "worker", "--health-port", str(self.port),
                "--max-polling-interval", "0.2", *args]
        with open(self.log, "ab") as sink:
            self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self.id = f"{socket.gethostname()}:{self.process.pid}"
        deadline = time.monotonic() + 60
        while self.health()[0] != 200:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "the worker never became healthy: " + self.log.read_text()
            time.sleep(0.2)

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            response = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
        except httpx.HTTPError:
            return 0, {}
        return response.status_code, response.json()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        return self.process.wait(timeout=60)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Workers a test starts (append them): SIGKILLed at its end if still running."""
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.process.poll() is None:
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=30)


def wait_for_file(path: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)
    return path.read_text()


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie (one reaped while its stat is read is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
