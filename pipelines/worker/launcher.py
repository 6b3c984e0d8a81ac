"""The worker's side of the warm step launcher (`pipelines/runtime/launch.py --serve`).

One launcher process per worker process, started the first time a step needs
it, in a session of its own, with the environment of that first step (the
worker has already stripped the app's secrets from it). Every launch sends the
launcher one message on a SOCK_SEQPACKET pair, carrying a fresh stream socket
for the step (its *channel*) and the write ends of the step's stdout and
stderr pipes; the request (argv, cwd, env) follows on the channel, and the
launcher answers the child's pid there, then its exit code once it has
reaped it. Worker threads launch side by side: each has its own channel, and
the one shared socket carries single messages under a lock.

A step may be launched on hold (`launch(..., hold=True)`): its child is forked
and waits, running nothing, until `WarmChild.go`; dropped instead
(`WarmChild.close`), it is killed. The worker forks a step's child this way
while the transaction that claims the step is in flight, and lets it go once
the step is its own: the fork is then off the hand-off.

What a step's exit code comes from: the launcher, which is the child's
parent and the only process that can wait for it. The worker signals the
child's process group itself (timeout, cancel), as it does for a child of its
own.

A launcher that has died is started again at the next launch. A launch whose
launcher dies before answering the pid is sent again to a new launcher (the
child, if one was forked, exits without running the script: it waits for a
go-ahead the dead launcher never gave). A launcher that dies while a script
runs takes that script's process group with it; the worker reports the step as
stopped by the launcher's death (`LauncherLost`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("pipelines.worker.launcher")

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
LAUNCH_ATTEMPTS = 3
REPLY_TIMEOUT_SECONDS = 30.0
# Variables the interpreter reads when it starts: a step whose environment differs from
# the launcher's in one of them gets a fresh interpreter, which reads them itself.
# (PYTHONPATH is not among them: the forked child builds sys.path from the step's own.)
STARTUP_VARIABLES = (
    "PYTHONHOME", "PYTHONHASHSEED", "PYTHONOPTIMIZE", "PYTHONDEBUG", "PYTHONVERBOSE", "PYTHONUNBUFFERED",
    "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONWARNINGS", "PYTHONNOUSERSITE", "PYTHONUSERBASE",
    "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTHONSAFEPATH", "PYTHONDEVMODE", "PYTHONFAULTHANDLER",
    "PYTHONTRACEMALLOC", "PYTHONMALLOC", "PYTHONINTMAXSTRDIGITS", "PYTHONPLATLIBDIR", "PYTHONCOERCECLOCALE",
    "PYTHONPROFILEIMPORTTIME", "PYTHONEXECUTABLE", "PYTHONCASEOK", "LANG", "LC_ALL", "LC_CTYPE",
)


class LauncherUnavailable(Exception):
    """No launcher could start the step (it was not started: nothing of it ran)."""


class LauncherLost(Exception):
    """The launcher died while the step's script ran; the script died with it."""


def startup_key(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, env[name]) for name in STARTUP_VARIABLES if name in env)


class WarmChild:
    """A step's process forked by the launcher: its pid, and its exit code once reaped."""

    def __init__(self, pid: int, channel: socket.socket, launcher_pid: int, pending: bytes = b"") -> None:
        self.pid = pid
        self.launcher_pid = launcher_pid
        self.returncode: int | None = None
        self._channel: socket.socket | None = channel
        self._buffer = pending  # what came after the pid's line (a quick script's exit, already)

    def wait(self, timeout: float | None) -> int | None:
        """The exit code, or None if it still runs after `timeout` seconds (None: wait on).
        Raises LauncherLost if the launcher died before reporting it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._read_buffered()
        while self.returncode is None:
            channel = self._channel
            if channel is None:
                raise LauncherLost(f"the step launcher (pid {self.launcher_pid}) died while the script ran")
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not _readable(channel.fileno(), remaining):
                return None
            try:
                chunk = channel.recv(4096)
            except OSError:
                chunk = b""
            if not chunk:
                self.close()
                continue
            self._buffer += chunk
            self._read_buffered()
        return self.returncode

    def go(self) -> bool:
        """Let a child launched on hold run its script. False when the launcher can no longer
        be told (it closed the channel: the child ran nothing, and is gone or going)."""
        channel = self._channel
        if channel is None:
            return False
        try:
            channel.sendall(b"g", socket.MSG_NOSIGNAL)
        except OSError:
            return False
        return True

    def _read_buffered(self) -> None:
        while self.returncode is None and b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            message = json.loads(line)
            if "exit" in message:
                self.returncode = int(message["exit"])
                self.close()

    def close(self) -> None:
        """Drop the channel; the launcher kills the child's group if it still runs."""
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()


class _Running:
    """One launcher process and the worker's end of its socket."""

    def __init__(self, env: Mapping[str, str]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own module, no shell
                [sys.executable, "-m", "pipelines.runtime.launch", "--serve", str(theirs.fileno())],
                cwd=PACKAGE_ROOT,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                # Its own errors go where the worker's go. A descriptor 2 that would not reach it (one
                # Python opened, close-on-exec) would leave its interpreter without a stderr, and its
                # first descriptor numbered 2: each child's stderr, dup'ed there, closed with it.
                stderr=None if _inherited(2) else subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.control = ours
        self.key = startup_key(env)
        self.lock = threading.Lock()  # one message at a time on the shared socket

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, channel: socket.socket, stdout: int, stderr: int) -> None:
        with self.lock:
            socket.send_fds(self.control, [b"L"], [channel.fileno(), stdout, stderr], socket.MSG_NOSIGNAL)

    def stop(self, grace: float = 2.0) -> None:
        """Close its socket (it kills its running steps and exits); kill it if it lingers."""
        self.control.close()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)


class WarmLauncher:
    """Launch step scripts through this process's launcher; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: _Running | None = None
        self.starts = 0  # launchers started (1 unless one died)

    @property
    def pid(self) -> int | None:
        """The running launcher's pid, if one runs."""
        running = self._running
        return running.process.pid if running is not None and running.alive else None

    def accepts(self, env: Mapping[str, str]) -> bool:
        """Whether a step with this environment can be forked from the launcher (the one
        running, or the one its first step would start)."""
        running = self._running
        return running is None or not running.alive or running.key == startup_key(env)

    def launch(
        self, argv: Sequence[str], *, cwd: str, env: Mapping[str, str], stdout: int, stderr: int, hold: bool = False,
    ) -> WarmChild:
        """Fork a child running `argv` (the script first). `stdout` and `stderr` are
        descriptors the child writes to (the caller keeps and closes its own). `hold`: the
        child waits for `WarmChild.go` before it runs anything."""
        request = json.dumps({"argv": list(argv), "cwd": cwd, "env": dict(env), "hold": hold}).encode()
        problems: list[str] = []
        for _ in range(LAUNCH_ATTEMPTS):
            try:
                running = self._current(env)
            except OSError as exc:  # the launcher itself could not be started
                problems.append(f"starting the launcher: {type(exc).__name__}: {exc}")
                continue
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                try:
                    running.send(theirs, stdout, stderr)
                finally:
                    theirs.close()
                ours.settimeout(REPLY_TIMEOUT_SECONDS)
                ours.sendall(len(request).to_bytes(4, "big") + request, socket.MSG_NOSIGNAL)
                reply, rest = _read_line(ours)
                message: dict[str, Any] = json.loads(reply)
            except (OSError, EOFError, ValueError) as exc:
                ours.close()
                problems.append(f"{type(exc).__name__}: {exc}")
                self._discard(running, hung=isinstance(exc, TimeoutError))
                continue
            if "pid" in message:
                ours.settimeout(None)
                return WarmChild(int(message["pid"]), ours, running.process.pid, rest)
            ours.close()
            problems.append(str(message.get("error", message)))
        raise LauncherUnavailable("the step launcher could not start the step: " + "; ".join(problems))

    def stop(self) -> None:
        with self._lock:
            running, self._running = self._running, None
        if running is not None:
            running.stop()

    def _current(self, env: Mapping[str, str]) -> _Running:
        with self._lock:
            running = self._running
            if running is None or not running.alive:
                if running is not None:
                    log.warning("the step launcher (pid %s) exited with %s; starting another",
                                running.process.pid, running.process.returncode)
                    running.stop()
                # The launcher's own environment is the step's, minus what names this step.
                running = self._running = _Running({k: v for k, v in env.items() if k != "PIPELINES_STEP_CONTEXT"})
                self.starts += 1
            return running

    def _discard(self, running: _Running, *, hung: bool) -> None:
        """A launch failed on `running`. A launcher that closed the channel without an answer
        is dying: once it has exited, the next launch starts another. One that did not answer
        at all is killed (its running steps die with it)."""
        with self._lock:
            if self._running is not running:
                return  # another thread has replaced it already
            if not hung and not _exits_soon(running):
                return  # alive: this launch alone failed
            if hung:
                log.warning("the step launcher (pid %s) did not answer; killing it", running.process.pid)
            self._running = None
        running.stop(grace=0 if hung else 2.0)


def _exits_soon(running: _Running, seconds: float = 1.0) -> bool:
    """A launcher that closed a channel without answering is dying: wait a moment for it."""
    try:
        running.process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def _inherited(descriptor: int) -> bool:
    """Whether a child started now gets this open descriptor."""
    try:
        return os.get_inheritable(descriptor)
    except OSError:
        return False


def _readable(descriptor: int, timeout: float | None) -> bool:
    """Wait until `descriptor` is readable (or closed); False after `timeout` seconds."""
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    return bool(poller.poll(None if timeout is None else math.ceil(timeout * 1000)))


def _read_line(channel: socket.socket) -> tuple[bytes, bytes]:
    """The first line from `channel`, and what was read after it."""
    data = b""
    while b"\n" not in data:
        chunk = channel.recv(4096)
        if not chunk:
            raise EOFError("the step launcher closed the channel without an answer")
        data += chunk
    line, rest = data.split(b"\n", 1)
    return line, rest


_shared: WarmLauncher | None = None
_shared_lock = threading.Lock()


def shared() -> WarmLauncher:
    """This process's launcher (one per worker process)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _keep_standard_descriptors_open()
            _shared = WarmLauncher()
        return _shared


def _keep_standard_descriptors_open() -> None:
    """Open /dev/null on each of descriptors 0, 1 and 2 that this process has closed, as a
    daemon does. Otherwise the next pipe or socket made here takes that number: a step's pipe
    numbered 2 would be the launcher's stderr (it inherits 2), and a launcher started without a
    stderr makes its own first descriptor 2, which each child's stderr is dup'ed onto and then
    closed with it; either way a step's stderr ends at once or lands in its stdout."""
    for descriptor in (0, 1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one, or one below
            if opened != descriptor:
                os.dup2(opened, descriptor)
                os.close(opened)
            os.set_inheritable(descriptor, True)  # as a standard stream is


def _forget_after_fork() -> None:
    # A forked copy of the worker does not own the launcher (its descriptors are the parent's).
    global _shared, _shared_lock
    _shared = None
    _shared_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
