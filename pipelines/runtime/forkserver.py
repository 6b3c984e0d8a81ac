"""The warm step launcher: one process per worker that forks a child per step.

`python -m pipelines.runtime.launch --serve FD` is the warm launcher
(`pipelines/worker/launcher.py` starts one per worker process and talks to it):
a single-threaded process with `pipelines.runtime` and much of the standard
library imported, that forks one child per step. FD is its end of a
SOCK_SEQPACKET socket pair; each message on it is one step to launch, carrying
three descriptors (SCM_RIGHTS): a stream socket of that step's own (the
*channel*) and the write ends of the step's stdout and stderr pipes. On the
channel the worker sends the request (a 4-byte length, then JSON: argv, cwd,
env, and `hold`) and the launcher answers JSON lines: `{"pid": N}` once the
child is forked, `{"exit": CODE}` when the launcher has reaped it (a negative
code: the signal that killed it, as `subprocess` reports), or `{"error": TEXT}`
if no child was started. A request with `"hold": true` forks a child that waits,
running nothing, until the worker writes `g` on the channel (the worker forks a
step's child while the transaction that claims the step is in flight, and lets
it go once the step is its own); closing the channel instead kills it. The child
then behaves as the fresh launcher's process does:

- a session and process group of its own (setsid), stdin /dev/null, stdout and
  stderr the step's pipes, no other descriptor of the launcher;
- argv, working directory and environment from the request (the environment
  replaced whole: the worker has stripped the app's secrets from it, and the
  launcher itself was started with such an environment), `sys.path[0]` the
  script's folder, the request's PYTHONPATH after it;
- it tells the launcher once its session exists (so the worker never signals
  a group that is not there yet), and runs the script only after the launcher
  has told the worker its pid and said go (at once, or on hold once the worker
  says so): a launcher that dies in between leaves a child that exits without
  running anything, so the worker can launch the step again;
- its script is read and compiled before the go (`launch.prepare`; on hold, while
  the claim is in flight), and runs as `python SCRIPT` runs it, as `__main__`
  (`launch.Script.run`); the child ends as the interpreter ends `python SCRIPT`:
  `sys.exit(n)` gives n, `sys.exit("text")` prints the text on stderr and gives 1,
  an uncaught exception prints its traceback and gives 1; non-daemon threads are
  joined and atexit runs;
- a thread watches its parent, the launcher: if the launcher dies the child
  kills its own process group.

The launcher watches the worker in turn: when its parent changes or its
socket to the worker closes, it kills the process group of every child still
running and exits. When a step's channel closes before its child was reaped
(the worker gave up on it), that child's group is killed. So a dead worker
leaves no step behind, whichever of the two processes died first.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import selectors
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any

from pipelines.runtime.launch import Script, prepare, watch_parent

PARENT_POLL_SECONDS = 0.5  # how often the launcher looks at its parent
REQUEST_TIMEOUT_SECONDS = 30.0
HANDSHAKE_TIMEOUT_SECONDS = 30.0
MAX_REQUEST_BYTES = 64 * 1024 * 1024
# What a child that never got its `go` exits with (it ran nothing).
NOT_STARTED_EXIT = 125

# Imported once in the warm launcher, so a step's script finds them loaded. Only the
# standard library (and pipelines.runtime): nothing that starts a thread or opens a file.
# What step scripts commonly import: each module held here makes a child's exit a little
# slower (the interpreter tears it down), and saves its import to every script that uses it.
WARM_IMPORTS = (
    "argparse", "base64", "collections", "contextlib", "copy", "csv", "dataclasses", "datetime", "functools",
    "glob", "hashlib", "io", "itertools", "json", "logging", "math", "pathlib", "pickle", "random", "re",
    "shutil", "subprocess", "tempfile", "textwrap", "time", "traceback", "typing", "urllib.parse", "uuid",
    "pipelines.runtime",
)


@dataclass
class _Request:
    argv: list[str]
    cwd: str
    env: dict[str, str]
    hold: bool = False  # the child waits for the worker's go (`g` on the channel)

    @classmethod
    def from_json(cls, value: Any) -> _Request:
        if not isinstance(value, dict):
            raise ValueError("the request is not an object")
        argv, cwd, env = value.get("argv"), value.get("cwd"), value.get("env")
        if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
            raise ValueError("argv must be a non-empty list of strings")
        if not isinstance(cwd, str):
            raise ValueError("cwd must be a string")
        if not (isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
            raise ValueError("env must map strings to strings")
        hold = value.get("hold", False)
        if not isinstance(hold, bool):
            raise ValueError("hold must be true or false")
        return cls(argv, cwd, env, hold)


def _read_exactly(channel: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = channel.recv(min(size - len(data), 1 << 20))
        if not chunk:
            raise EOFError("the worker closed the channel before the request was complete")
        data += chunk
    return bytes(data)


def _read_request(channel: socket.socket) -> _Request:
    size = int.from_bytes(_read_exactly(channel, 4), "big")
    if size > MAX_REQUEST_BYTES:
        raise ValueError(f"a request of {size} bytes is too large")
    return _Request.from_json(json.loads(_read_exactly(channel, size)))


def _send_line(channel: socket.socket, message: dict[str, Any]) -> None:
    channel.sendall(json.dumps(message).encode() + b"\n", socket.MSG_NOSIGNAL)


def _python_path(value: str | None) -> list[str]:
    return [os.path.abspath(p) for p in (value or "").split(os.pathsep) if p]


class _Launcher:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.parent = os.getppid()
        self.pid = os.getpid()
        # sys.path without its first entry and the launcher's own PYTHONPATH: what an
        # interpreter puts after PYTHONPATH (the standard library, site-packages).
        own = set(_python_path(os.environ.get("PYTHONPATH")))
        self.base_path = [p for p in sys.path[1:] if p not in own]
        self.children: dict[int, socket.socket | None] = {}  # pid -> channel (None: nobody listens)
        self.held: dict[int, socket.socket] = {}  # pid -> its handshake, for a child on hold
        self.selector = selectors.DefaultSelector()
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)

    def serve(self) -> Script | None:
        """Launch steps until the worker is gone (None); in a forked child, its script, read."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl+C is the worker's to handle
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self.wake_write)
        self.selector.register(self.control, selectors.EVENT_READ, "control")
        self.selector.register(self.wake_read, selectors.EVENT_READ, "wake")
        while True:
            events = self.selector.select(PARENT_POLL_SECONDS)
            if os.getppid() != self.parent:
                self._stop()
                return None
            for key, _ in events:
                if key.data == "control":
                    try:
                        message, fds, _, _ = socket.recv_fds(self.control, 16, 3, socket.MSG_CMSG_CLOEXEC)
                    except OSError:
                        message, fds = b"", []
                    if not message and not fds:
                        self._stop()  # the worker closed its end: it is gone
                        return None
                    script = self._launch(fds)
                    if script is not None:
                        return script  # this is the child now
                elif key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self.wake_read, 512):
                            pass
                else:
                    self._from_worker(key.data, key.fileobj)  # type: ignore[arg-type]
            self._reap()

    def _launch(self, fds: list[int]) -> Script | None:
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            return None
        channel = socket.socket(fileno=fds[0])
        stdout, stderr = fds[1], fds[2]
        handshake: list[socket.socket] = []
        try:
            channel.settimeout(REQUEST_TIMEOUT_SECONDS)
            request = _read_request(channel)
            handshake += socket.socketpair()
            pid = os.fork()
        except Exception as exc:  # noqa: BLE001 - say why to the worker, keep serving the others
            self._refuse(channel, f"{type(exc).__name__}: {exc}")
            for fd in (stdout, stderr):
                os.close(fd)
            for end in handshake:
                end.close()
            return None
        ours, theirs = handshake
        if pid == 0:
            return self._become_child(request, channel, stdout, stderr, ours, theirs)
        os.close(stdout)
        os.close(stderr)
        theirs.close()
        # The child has its own session once it says so: only then may the worker signal its
        # group (the pid is the group's id). It runs the script only once told to.
        try:
            ours.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
            ready = ours.recv(1)
        except OSError:
            ready = b""
        if ready != b"r":
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            ours.close()
            self.children[pid] = None
            self._refuse(channel, "the child did not start")
            return None
        try:
            _send_line(channel, {"pid": pid})
        except OSError:
            # Nobody will hear of this child: it must not run. Without its go-ahead it exits.
            ours.close()
            channel.close()
            self.children[pid] = None
            return None
        if request.hold:
            self.held[pid] = ours  # it goes when the worker says so (`_from_worker`)
        else:
            _go(ours)
        channel.setblocking(False)
        self.children[pid] = channel
        self.selector.register(channel, selectors.EVENT_READ, pid)
        return None

    @staticmethod
    def _refuse(channel: socket.socket, why: str) -> None:
        with contextlib.suppress(OSError):
            _send_line(channel, {"error": why})
        channel.close()

    def _become_child(
        self,
        request: _Request,
        channel: socket.socket,
        stdout: int,
        stderr: int,
        ours: socket.socket,
        theirs: socket.socket,
    ) -> Script:
        """In the forked child: a session of its own, the step's descriptors and none of the
        launcher's, the request's argv, folder and environment, and its script read and
        compiled (`launch.prepare`); returned once the launcher says go."""
        os.setsid()
        # Its session exists: the worker may signal its group from now on. Said at once, so the
        # launcher answers the worker while this child makes itself ready.
        try:
            theirs.sendall(b"r")
        except OSError:
            os._exit(NOT_STARTED_EXIT)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        os.close(stdout)
        os.close(stderr)
        # Close what the launcher holds through its objects first (so nothing closes those
        # numbers again later, when the script may own them), then any other descriptor.
        ours.close()
        self.selector.close()
        self.control.close()
        channel.close()
        for other in self.children.values():
            if other is not None:
                other.close()
        self.children.clear()
        for handshake in self.held.values():
            handshake.close()
        self.held.clear()
        os.close(self.wake_read)
        os.close(self.wake_write)
        # Made ready while the launcher answers (or, on hold, while the worker's claim is in
        # flight); nothing of it is seen outside this process until the script runs.
        _close_from(3, keep=theirs.fileno())
        try:
            os.chdir(request.cwd)
        except OSError as exc:
            os.write(2, f"cannot enter the step's folder {request.cwd!r}: {exc}\n".encode())
            os._exit(1)
        os.environ.clear()
        os.environ.update(request.env)
        sys.argv = list(request.argv)
        sys.path[:] = ["", *dict.fromkeys(_python_path(request.env.get("PYTHONPATH"))), *self.base_path]
        threading.Thread(target=watch_parent, args=(self.pid,), daemon=True).start()
        script = prepare(request.argv[0])
        try:
            go = theirs.recv(1)
        except OSError:
            go = b""
        theirs.close()
        if go != b"g":
            os._exit(NOT_STARTED_EXIT)
        return script

    def _from_worker(self, pid: int, channel: socket.socket) -> None:
        """The worker's end of a step's channel is readable: `g`, the go of a child on hold;
        or it closed it, so the step goes (a child on hold with it, having run nothing)."""
        try:
            said = channel.recv(64)
        except BlockingIOError:
            return
        except OSError:
            said = b""
        if said:
            if said.startswith(b"g") and pid in self.held:
                _go(self.held.pop(pid))
            return  # nothing else is expected from the worker; ignore it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        self.selector.unregister(channel)
        channel.close()
        self.children[pid] = None
        self._drop_hold(pid)

    def _drop_hold(self, pid: int) -> None:
        handshake = self.held.pop(pid, None)
        if handshake is not None:
            handshake.close()  # a child still waiting reads the end: it exits, having run nothing

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._drop_hold(pid)
            channel = self.children.pop(pid, None)
            if channel is not None:
                self.selector.unregister(channel)
                with contextlib.suppress(OSError):
                    _send_line(channel, {"exit": os.waitstatus_to_exitcode(status)})
                channel.close()

    def _stop(self) -> None:
        """The worker is gone: every step still running goes with it."""
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def _go(handshake: socket.socket) -> None:
    """Tell a forked child to run its script (a child that never reads it ran nothing)."""
    with contextlib.suppress(OSError):
        handshake.sendall(b"g")
    handshake.close()


def _close_from(lowest: int, keep: int) -> None:
    """Close every descriptor from `lowest` up but `keep` (as subprocess's close_fds does)."""
    try:
        open_now = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        os.closerange(lowest, keep)
        os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
        return
    for descriptor in open_now:
        if descriptor >= lowest and descriptor != keep:
            with contextlib.suppress(OSError):
                os.close(descriptor)


def _warm_up() -> None:
    import importlib

    for name in WARM_IMPORTS:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def serve(descriptor: int) -> Script:
    """The warm launcher's life: returns only in a forked child, with its script read and
    compiled, ready to run (`launch.run_forked`); the launcher itself exits when its worker
    is gone."""
    _warm_up()
    # What the launcher holds is shared with every child: a child's collections never walk it
    # (nor write to its pages, which would copy them).
    gc.collect()
    gc.freeze()
    control = socket.socket(fileno=descriptor)
    script = _Launcher(control).serve()
    if script is None:
        raise SystemExit(0)
    return script
