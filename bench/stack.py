"""What the bench runs on: Azurite, storage settings, and the host in a child process.

The host runs in a process of its own (`python -m bench.hostproc`), as the
Functions host does: the bench's client threads then never compete with the
server for one GIL, which would inflate every latency at 16 clients.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pipelines.devhost.azurite import ROOT
from pipelines.settings import reset_settings
from pipelines.store.account import reset_account


def project_host_json() -> dict[str, Any]:
    return json.loads((ROOT / "host.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def with_polling_interval(host_json: dict[str, Any], seconds: float) -> dict[str, Any]:
    """A copy of host.json with `extensions.queues.maxPollingInterval` set (TimeSpan text)."""
    copy: dict[str, Any] = json.loads(json.dumps(host_json))
    whole, fraction = divmod(round(seconds * 1000), 1000)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    copy["extensions"]["queues"]["maxPollingInterval"] = f"{hours:02d}:{minutes:02d}:{secs:02d}.{fraction:03d}"
    return copy


def polling_seconds(host_json: dict[str, Any]) -> float:
    """`extensions.queues.maxPollingInterval` of a host.json, in seconds (the host's parser)."""
    from pipelines.devhost.hostconfig import HostOptions

    return HostOptions.from_host_json(host_json).queues.max_polling_interval.total_seconds()


def storage_env(connection_string: str, work_dir: Path) -> dict[str, str]:
    """Settings of one isolated app: its own name prefix, queue and worker disk."""
    prefix = "b" + secrets.token_hex(5)
    return {
        "AzureWebJobsStorage": connection_string,
        "PIPELINES_NAME_PREFIX": prefix,
        "PIPELINES_STEPS_QUEUE": f"{prefix}-steps",
        "PIPELINES_WORK_DIR": str(work_dir / prefix),
        # The worker's one thread pool as the app is deployed (infra/main.bicep, local.settings).
        "PYTHON_THREADPOOL_THREAD_COUNT": "24",
    }


def use_in_this_process(env: Mapping[str, str]) -> None:
    """Point this process's `pipelines.settings` and storage account at `env`."""
    os.environ.update(env)
    reset_settings()
    reset_account()


@dataclass
class HostConfig:
    env: dict[str, str]
    host_json: dict[str, Any]
    worker: bool  # False: HTTP functions only, nothing consumes the steps queue
    log_path: Path
    probe_path: Path | None = None  # where the worker's timings are written on stop
    tcp_nodelay: bool = False  # preview: TCP_NODELAY on the host's connections (bench.previews)
    chain_steps: bool = False  # preview: a worker runs a step's successor itself (bench.previews)

    def to_json(self) -> str:
        return json.dumps(
            {
                "host_json": self.host_json,
                "worker": self.worker,
                "probe_path": str(self.probe_path) if self.probe_path else None,
                "tcp_nodelay": self.tcp_nodelay,
                "chain_steps": self.chain_steps,
            }
        )


class HostProcess:
    """`python -m bench.hostproc` on a free port; `base_url` once started."""

    def __init__(self, config: HostConfig) -> None:
        self.config = config
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self._process is not None, "the host is not started"
        return self._process.pid

    def start(self, timeout: float = 60.0) -> str:
        log = open(self.config.log_path, "a", encoding="utf-8")  # noqa: SIM115 - the child owns it
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.hostproc", self.config.to_json()],
            cwd=ROOT,
            env={**os.environ, **self.config.env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        assert self._process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the host exited with {self._process.returncode}; see {self.config.log_path}")
            ready, _, _ = select.select([self._process.stdout], [], [], 0.2)
            if ready:
                line = self._process.stdout.readline().strip()
                if line.startswith("ready "):
                    self.base_url = line.removeprefix("ready ")
                    return self.base_url
        self.stop()
        raise RuntimeError(f"the host did not start within {timeout:.0f}s; see {self.config.log_path}")

    def stop(self, timeout: float = 30.0) -> None:
        """Close its stdin (it stops its host and writes its probes), then wait; kill if stuck."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        assert process.stdin is not None
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
