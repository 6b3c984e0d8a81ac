"""The watch kept on a running step: its lease renewed, a cancel request looked for.

One thread per invocation (`Watcher`) follows each step the invocation runs in turn
(`Watch`, entered while the step runs) and sleeps between them: every second it
asks the run for a cancel request, and every third of the lease it renews the
step's lease. If the lease is ever lost (this worker was presumed dead and the
step handed to another), or the run is canceled, the watch says why the step must
stop (`Watch.should_stop`), and the handler stops its process.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from pipelines.runs import engine
from pipelines.runs.model import StepMessage
from pipelines.runs.repository import RunRepository
from pipelines.vocabulary import now

log = logging.getLogger("pipelines.worker")

CANCEL_POLL_SECONDS = 1.0
# How long a step's end waits for a cancel poll or a lease renewal under way for it (`Watcher.follow`).
FOLLOW_WAIT_SECONDS = 10.0
# Set once, by a standalone worker past its shutdown grace (pipelines/worker/standalone.py).
_abandoning = threading.Event()


def renewal_interval(lease: int) -> float:
    """How often a running step's lease is renewed: every third of it (at least every second)."""
    return max(lease / 3, 1.0)


def abandon_running_steps() -> None:
    """Stop every step this process runs, as a lost lease does: the script is stopped, no outcome
    is recorded, and another worker takes the step over (a new attempt) once its lease expires.
    For a worker process that is shutting down; it cannot be undone."""
    _abandoning.set()


class Watch:
    """One running step as the watcher sees it: until when its lease holds, as this worker last
    committed it (`lease_left`), and why it must stop, once there is a reason (`should_stop`).
    Entered while the step runs (`Watcher.watch`)."""

    def __init__(self, watcher: Watcher, message: StepMessage, token: str, lease_until: datetime | None) -> None:
        self.watcher = watcher
        self.message = message
        self.token = token
        self.lease_until = lease_until
        self.reason: str | None = None
        started = time.monotonic()
        self.next_poll = started + CANCEL_POLL_SECONDS
        self.renewed = started

    def __enter__(self) -> Watch:
        self.watcher.follow(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.watcher.follow(None)

    def lease_left(self) -> float:
        """Seconds until the lease this worker last committed runs out (0: unknown or over).
        Until then no other worker can take the step over: a take-over needs it expired."""
        if self.lease_until is None or self.reason is not None:
            return 0.0
        return max(0.0, (self.lease_until - now()).total_seconds())

    def should_stop(self) -> str | None:
        # A worker that is shutting down gives its steps up as if it had lost their leases
        # (`abandon_running_steps`): stopped, nothing recorded, taken over once the lease expires.
        return "lease lost" if _abandoning.is_set() else self.reason


class Watcher:
    """While a step of the invocation runs, renews its lease every third of it and polls the
    run for a cancel request every second (`Watch`). One thread for the whole invocation,
    started with its first step and idle between steps; `close()` at the invocation's end."""

    def __init__(self, repository: RunRepository) -> None:
        self.repository = repository
        self._current: Watch | None = None
        self._busy = threading.Lock()  # held while the thread acts for a step
        self._wake = threading.Event()  # the step followed changed, or the invocation ends
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, message: StepMessage, token: str, lease_until: datetime | None = None) -> Watch:
        """The watch of a claimed step, to enter while it runs."""
        return Watch(self, message, token, lease_until)

    def follow(self, watch: Watch | None) -> None:
        """Follow `watch` from now on (None: no step). A poll or renewal under way for the step
        followed until now ends first, so nothing is written for that step once this returns."""
        # Bounded, as a storage call may hang on its timeouts: past that, the call under way
        # may still answer for the step followed until now (its reason then changes nothing).
        held = self._busy.acquire(timeout=FOLLOW_WAIT_SECONDS)
        try:
            self._current = watch
        finally:
            if held:
                self._busy.release()
        if self._thread is None:
            if watch is None:
                return
            self._thread = threading.Thread(target=self._loop, name="lease-watcher", daemon=True)
            self._thread.start()
        self._wake.set()

    def close(self) -> None:
        """The invocation's end: the thread ends as soon as it wakes. It is not waited for; it
        follows no step by then (each step's end waited for what was under way for it)."""
        self._done.set()
        self._wake.set()

    def _loop(self) -> None:
        while not self._done.is_set():
            watch = self._current
            pause = None if watch is None or watch.reason else max(0.0, watch.next_poll - time.monotonic())
            if self._wake.wait(pause):
                self._wake.clear()
                continue
            with self._busy:
                watch = self._current
                if watch is None or watch.reason or time.monotonic() < watch.next_poll:
                    continue
                watch.next_poll = time.monotonic() + CANCEL_POLL_SECONDS
                try:
                    self._check(watch)
                except Exception:  # noqa: BLE001 - storage hiccup: try again next tick
                    log.warning("lease renewal of %s failed; retrying", watch.message.node_id, exc_info=True)

    def _check(self, watch: Watch) -> None:
        """Look for a cancel request; renew the lease when it is due."""
        m, lease = watch.message, self.repository.lease_seconds
        if self.repository.get_run(m.workspace, m.run_id).cancel_requested:
            watch.reason = "canceled"
            return
        if time.monotonic() - watch.renewed >= renewal_interval(lease):
            (ours, canceled), state = self.repository.mutate(
                m.workspace, m.run_id, lambda s: _heartbeat(s, m.node_id, watch.token, lease))
            watch.renewed = time.monotonic()
            if not ours:
                watch.reason = "lease lost"
                return
            watch.lease_until = state.steps[m.node_id].lease_until
            if canceled:
                watch.reason = "canceled"


def _heartbeat(
    state: engine.RunState, node_id: str, token: str, lease: int
) -> tuple[tuple[bool, bool], engine.Transition]:
    ours, canceled, transition = engine.heartbeat(state, node_id, token, now(), lease)
    return (ours, canceled), transition
