"""Run a step script in a child process: timeout, cancel, logs streamed as they come.

The script runs in a process of its own, forked by this worker's warm launcher
(`pipelines/worker/launcher.py`), or, for a step with `fresh_interpreter=True`,
started as a fresh interpreter (`python -m pipelines.runtime.launch`). Either
way the child runs in its own process group (a session of its own), so
stopping it stops whatever it started too: SIGTERM to the group, then SIGKILL
after a grace period. stdout and stderr are pipes read by two threads and
handed to their log sinks as they are read, so a caller polling the log sees it
grow while the step runs.

A step's child can be forked ahead, on hold (`hold_step`), and let go by
`run_step` once the step is the worker's own; dropped (`HeldChild.release`),
it is killed having run nothing.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Protocol

from pipelines.worker import launcher

log = logging.getLogger("pipelines.worker")

STDERR_TAIL_BYTES = 2048
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


def _pump(
    stream: object, sink: Sink, tail: bytearray | None, errors: list[BaseException],
    on_end: Callable[[], None] | None = None,
) -> None:
    """Copy a pipe into its sink as it is read; the sink gathers what comes into few
    storage writes (`pipelines/worker/logflush.py`). `on_end()` is called when the pipe
    ends (the child is exiting)."""
    read = stream.read1  # type: ignore[attr-defined]
    while chunk := read(65536):
        if tail is not None:
            tail += chunk
            del tail[:-STDERR_TAIL_BYTES]
        try:
            sink.append(chunk)
        except BaseException as exc:  # noqa: BLE001 - keep draining the pipe; report later
            errors.append(exc)
    if on_end is not None:
        on_end()


class _Child(Protocol):
    """A step's process as the runner sees it, whoever its parent is."""

    pid: int

    def wait(self, timeout: float | None) -> int | None:
        """Its exit code, or None while it runs after `timeout` seconds (None: wait on)."""
        ...


class _FreshChild:
    """A child of the worker (a fresh interpreter), waited on through a pidfd when there is one,
    so its exit is seen at once (Popen.wait with a timeout polls, up to 50 ms late)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.pid = process.pid
        self._pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self._pidfd = os.pidfd_open(process.pid)

    def wait(self, timeout: float | None) -> int | None:
        if timeout is None:
            return self.process.wait()
        if self._pidfd is None:
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        if self.process.returncode is None:
            poller = select.poll()
            poller.register(self._pidfd, select.POLLIN)
            poller.poll(math.ceil(timeout * 1000))
        return self.process.poll()

    def close(self) -> None:
        pidfd, self._pidfd = self._pidfd, None
        if pidfd is not None:
            os.close(pidfd)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(child: _Child, grace: float = KILL_GRACE_SECONDS) -> None:
    """Stop the child's whole process group: SIGTERM to every member, then SIGKILL to
    whatever of it is left after `grace`, the leader or not (a child that ignores SIGTERM,
    a background process a finished step left behind). Nothing when the group is gone."""
    child.wait(0)  # an ended leader is reaped first: only live members keep the group
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except ProcessLookupError:
        return  # the script and everything it started have ended
    deadline = time.monotonic() + grace
    child.wait(grace)
    while _group_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait(None)


class HeldChild:
    """A step's child forked from the warm launcher on hold (`hold_step`), with the read ends
    of its output pipes: it runs nothing until `run_step` lets it go."""

    def __init__(self, child: launcher.WarmChild, out: int, err: int) -> None:
        self._held: tuple[launcher.WarmChild, int, int] | None = (child, out, err)

    @property
    def pid(self) -> int | None:
        return self._held[0].pid if self._held is not None else None

    def start(self) -> tuple[launcher.WarmChild, int, int] | None:
        """Let it go: the child and its output's read ends, now the caller's; None when the
        launcher could not be told (nothing ran; the child is released)."""
        held = self._held
        if held is None or not held[0].go():
            self.release()
            return None
        self._held = None
        return held

    def release(self) -> None:
        """Drop it unstarted: the launcher kills it (it ran nothing). Idempotent."""
        held, self._held = self._held, None
        if held is not None:
            child, out, err = held
            child.close()
            os.close(out)
            os.close(err)


def hold_step(
    script: str, arguments: Sequence[str], *, cwd: str, env: dict[str, str], fresh_interpreter: bool = False,
) -> HeldChild | None:
    """Fork the child that `run_step` would start for this script, on hold. None where
    `run_step` would not fork one (a fresh interpreter, an environment the launcher cannot
    take) or the launcher cannot be reached: the step is then launched when it runs."""
    forked = _fork(script, arguments, cwd=cwd, env=env, fresh_interpreter=fresh_interpreter, hold=True)
    return HeldChild(*forked) if forked is not None else None


def _fork(
    script: str, arguments: Sequence[str], *, cwd: str, env: dict[str, str], fresh_interpreter: bool, hold: bool,
) -> tuple[launcher.WarmChild, int, int] | None:
    """A child forked from this worker's warm launcher, with the read ends of its stdout and
    stderr pipes; None when the step asks for a fresh interpreter, the launcher cannot take its
    environment, or cannot be reached."""
    warm = launcher.shared()
    if fresh_interpreter or not warm.accepts(env):
        return None
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        child = warm.launch([script, *arguments], cwd=cwd, env=env, stdout=out_write, stderr=err_write, hold=hold)
    except launcher.LauncherUnavailable:
        then = "it is launched when it runs" if hold else "running it in a fresh interpreter"
        log.exception("the warm launcher could not start %s; %s", script, then)
        os.close(out_read)
        os.close(err_read)
        return None
    finally:
        # The child has its own copies (the launcher passed them on): the pipes end when
        # the child and whatever it started have closed theirs.
        os.close(out_write)
        os.close(err_write)
    return child, out_read, err_read


def run_step(
    script: str,
    arguments: Sequence[str],
    *,
    cwd: str,
    env: dict[str, str],
    timeout: float,
    stdout: Sink,
    stderr: Sink,
    should_stop: Callable[[], str | None],
    fresh_interpreter: bool = False,
    poll_seconds: float = 0.2,
    on_start: Callable[[], None] | None = None,
    on_end: Callable[[], None] | None = None,
    held: HeldChild | None = None,
) -> ProcessResult:
    """Run a step's script as `__main__` with `arguments`, forked from this worker's warm
    launcher, or in a fresh interpreter (`python -m pipelines.runtime.launch`) when the step
    asks for one or the launcher cannot take it (see `pipelines/worker/launcher.py`).
    `on_start()` is called once the child runs and its output is being read, `on_end()` when
    its output ends (it is exiting), after the last of it was handed to the sinks.
    `held`: this very script's child, forked on hold (`hold_step`): let go rather than forked
    now (and forked now if the launcher cannot be told)."""
    started = time.monotonic()
    forked = held.start() if held is not None else None
    if forked is None:
        forked = _fork(script, arguments, cwd=cwd, env=env, fresh_interpreter=fresh_interpreter, hold=False)
    if forked is not None:
        child, out, err = forked
        return _supervise(child, open(out, "rb"), open(err, "rb"), started,  # noqa: SIM115
                          timeout=timeout, stdout=stdout, stderr=stderr, should_stop=should_stop,
                          poll_seconds=poll_seconds, on_start=on_start, on_end=on_end)
    argv = [sys.executable, "-m", "pipelines.runtime.launch", script, *arguments]
    return run_process(argv, cwd=cwd, env=env, timeout=timeout, stdout=stdout, stderr=stderr,
                       should_stop=should_stop, poll_seconds=poll_seconds, on_start=on_start, on_end=on_end)


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
    on_start: Callable[[], None] | None = None,
    on_end: Callable[[], None] | None = None,
) -> ProcessResult:
    """Run `argv` as a child of this process; `should_stop()` is polled and a reason it returns
    stops the child."""
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
    assert process.stdout is not None and process.stderr is not None
    child = _FreshChild(process)
    try:
        return _supervise(child, process.stdout, process.stderr, started, timeout=timeout, stdout=stdout,
                          stderr=stderr, should_stop=should_stop, poll_seconds=poll_seconds, on_start=on_start,
                          on_end=on_end)
    finally:
        child.close()


def _supervise(
    child: _Child,
    out: IO[bytes],
    err: IO[bytes],
    started: float,
    *,
    timeout: float,
    stdout: Sink,
    stderr: Sink,
    should_stop: Callable[[], str | None],
    poll_seconds: float,
    on_start: Callable[[], None] | None = None,
    on_end: Callable[[], None] | None = None,
) -> ProcessResult:
    """Pump the child's output into its sinks while it runs; stop it on timeout or when
    `should_stop()` gives a reason."""
    tail = bytearray()
    errors: list[BaseException] = []
    pumps = [
        threading.Thread(target=_pump, args=(out, stdout, None, errors, on_end), daemon=True),
        threading.Thread(target=_pump, args=(err, stderr, tail, errors, on_end), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    timed_out = False
    stopped: str | None = None
    lost: str | None = None
    exit_code: int | None = None
    try:
        if on_start is not None:
            on_start()
        while exit_code is None:
            if time.monotonic() - started > timeout:
                timed_out = True
                stop_group(child)
                break
            reason = should_stop()
            if reason:
                stopped = reason
                stop_group(child)
                break
            exit_code = child.wait(poll_seconds)
    except launcher.LauncherLost as exc:
        lost = str(exc)
    finally:
        if lost is None:
            try:
                stop_group(child)  # a no-op when it ended by itself; never leave an orphan
                exit_code = child.wait(None)
            except launcher.LauncherLost as exc:
                lost = str(exc)
        if lost is not None:
            # Its parent died and took it along; make sure nothing of its group is left.
            exit_code = None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
        for pump in pumps:
            pump.join(timeout=30)
        for stream, pump in zip((out, err), pumps, strict=True):
            if not pump.is_alive():
                stream.close()
    if lost is not None:
        note = f"\n[{lost}; the script was stopped with it]\n".encode()
        tail += note
        with contextlib.suppress(Exception):
            stderr.append(note)
    return ProcessResult(
        exit_code=exit_code,
        timed_out=timed_out,
        stopped=stopped,
        stderr_tail=tail.decode("utf-8", errors="replace"),
        seconds=time.monotonic() - started,
    )
