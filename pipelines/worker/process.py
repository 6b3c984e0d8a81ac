"""Run a step script in a child process: timeout, cancel, logs streamed as they come.

The child runs in its own process group (start_new_session), so stopping it
stops whatever it started too: SIGTERM to the group, then SIGKILL after a grace
period. stdout and stderr are read by two threads and appended to their log
sinks in chunks, so a caller polling the log sees it grow while the step runs.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

STDERR_TAIL_BYTES = 2048
FLUSH_SECONDS = 0.5
FLUSH_BYTES = 256 * 1024
KILL_GRACE_SECONDS = 3.0


class Sink(Protocol):
    def append(self, data: bytes) -> None: ...


@dataclass
class ProcessResult:
    exit_code: int | None
    timed_out: bool
    stopped: str | None  # why the worker stopped it: "canceled", "lease lost", None
    stderr_tail: str
    seconds: float


def _pump(stream: object, sink: Sink, tail: bytearray | None, errors: list[BaseException]) -> None:
    """Copy a pipe into its sink, batching writes (one storage call per chunk).

    What was read is written within FLUSH_SECONDS even when the script then goes
    quiet: the pipe is waited on with a timeout, so a line printed before a long
    computation shows in the log while the computation runs.
    """
    buffer = bytearray()
    last = time.monotonic()
    read = stream.read1  # type: ignore[attr-defined]
    descriptor = stream.fileno()  # type: ignore[attr-defined]
    while True:
        wait = max(0.0, FLUSH_SECONDS - (time.monotonic() - last)) if buffer else None
        ready, _, _ = select.select([descriptor], [], [], wait)
        chunk = read(65536) if ready else None
        if chunk:
            buffer += chunk
            if tail is not None:
                tail += chunk
                del tail[:-STDERR_TAIL_BYTES]
        now = time.monotonic()
        ended = chunk == b""
        if buffer and (ended or len(buffer) >= FLUSH_BYTES or now - last >= FLUSH_SECONDS):
            try:
                sink.append(bytes(buffer))
            except BaseException as exc:  # noqa: BLE001 - keep draining the pipe; report later
                errors.append(exc)
            buffer.clear()
        if not buffer:
            last = now
        if ended:
            return


def stop_group(process: subprocess.Popen[bytes], grace: float = KILL_GRACE_SECONDS) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_process(
    argv: Sequence[str],
    *,
    cwd: str,
    env: dict[str, str],
    timeout: float,
    stdout: Sink,
    stderr: Sink,
    should_stop: Callable[[], str | None],
    poll_seconds: float = 0.2,
) -> ProcessResult:
    """Run `argv`; `should_stop()` is polled and a reason it returns stops the child."""
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 - argv built by the worker, no shell
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    tail = bytearray()
    errors: list[BaseException] = []
    pumps = [
        threading.Thread(target=_pump, args=(process.stdout, stdout, None, errors), daemon=True),
        threading.Thread(target=_pump, args=(process.stderr, stderr, tail, errors), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    timed_out = False
    stopped: str | None = None
    try:
        while process.poll() is None:
            if time.monotonic() - started > timeout:
                timed_out = True
                stop_group(process)
                break
            reason = should_stop()
            if reason:
                stopped = reason
                stop_group(process)
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=poll_seconds)
    finally:
        stop_group(process)  # a no-op when it ended by itself; never leave an orphan
        for pump in pumps:
            pump.join(timeout=30)
    return ProcessResult(
        exit_code=process.returncode,
        timed_out=timed_out,
        stopped=stopped,
        stderr_tail=tail.decode("utf-8", errors="replace"),
        seconds=time.monotonic() - started,
    )
