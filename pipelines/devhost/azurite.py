"""Start the Azurite storage emulator from `node_modules`, and stop it.

Used by the development host and by the test suite. Azurite is started on
127.0.0.1 with `--skipApiVersionCheck` (current SDKs send API versions newer
than Azurite may know) and `--disableTelemetry`; in memory unless a folder is
given (`--inMemoryPersistence` and `--location` cannot be combined).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines.settings import EMULATOR_ACCOUNT, EMULATOR_KEY

ROOT = Path(__file__).resolve().parents[2]


class AzuriteError(RuntimeError):
    pass


@dataclass
class Azurite:
    host: str
    blob_port: int
    queue_port: int
    table_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        base = f"http://{self.host}"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={EMULATOR_ACCOUNT};AccountKey={EMULATOR_KEY};"
            f"BlobEndpoint={base}:{self.blob_port}/{EMULATOR_ACCOUNT};"
            f"QueueEndpoint={base}:{self.queue_port}/{EMULATOR_ACCOUNT};"
            f"TableEndpoint={base}:{self.table_port}/{EMULATOR_ACCOUNT};"
        )

    @property
    def ports(self) -> tuple[int, int, int]:
        return (self.blob_port, self.queue_port, self.table_port)

    def answering(self) -> bool:
        return all(_port_open(self.host, port) for port in self.ports)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Azurite runs in its own process group: stop node and anything it forked.
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def azurite_binary() -> str:
    local = ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if found:
        return found
    raise AzuriteError(
        "Azurite is not installed: run `npm ci` in the project folder (make setup does it)"
    )


def start(
    *,
    host: str = "127.0.0.1",
    ports: tuple[int, int, int] | None = None,
    location: str | None = None,
    timeout: float = 30.0,
    log_path: str | None = None,
) -> Azurite:
    """Start Azurite and wait until its three ports answer.

    Ports left to it are free when chosen, but another process may bind one before Azurite
    does (tests start servers side by side): Azurite then exits at once, and is started
    again on other ports, twice at most."""
    for _ in range(2 if ports is None else 0):
        with contextlib.suppress(AzuriteExited):
            return _start_once(host, ports, location, timeout, log_path)
    return _start_once(host, ports, location, timeout, log_path)


class AzuriteExited(AzuriteError):
    """Azurite ended before it answered (on ports it was given: one was taken)."""


def _start_once(
    host: str, ports: tuple[int, int, int] | None, location: str | None, timeout: float, log_path: str | None
) -> Azurite:
    blob, queue, table = ports or (free_port(host), free_port(host), free_port(host))
    azurite = Azurite(host, blob, queue, table)
    command = [
        azurite_binary(),
        "--blobHost", host, "--blobPort", str(blob),
        "--queueHost", host, "--queuePort", str(queue),
        "--tableHost", host, "--tablePort", str(table),
        "--skipApiVersionCheck", "--disableTelemetry", "--loose",
    ]
    if location:
        Path(location).mkdir(parents=True, exist_ok=True)
        command += ["--location", location]
    else:
        command += ["--inMemoryPersistence"]
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    azurite.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        command,
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if azurite.process.poll() is not None:
            code, where = azurite.process.returncode, log_path or "its output"
            raise AzuriteExited(f"Azurite exited with code {code}; see {where}")
        if azurite.answering():
            return azurite
        time.sleep(0.1)
    azurite.stop()
    raise AzuriteError(f"Azurite did not answer on {host}:{blob},{queue},{table} within {timeout:.0f}s")
