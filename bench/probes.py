"""Timings inside the host process: where a step's time and a hand-off's time go.

Installed by `bench.hostproc` before the host starts. Each probe wraps one
function of the worker path and records how long each call took; calls made
by HTTP threads (submits, status polls) are left out, so the figures are the
worker's alone. Two derived figures need two points in time:

- queue wait: from `messages.send` of a step message to the poller dispatching
  it (both in this process, so one monotonic clock), split by who sent it: the
  submit route (first steps) or the worker (a successor: the hand-off);
- polls: how many receive calls found the queue empty.

Each timed call on a worker thread is also kept as a span (label, thread, start
and end on the wall clock), so a hand-off can be laid out between the step
scripts' own `time.time()` stamps (`bench.timeline`).

Nothing here changes behaviour: every wrapper calls the original and returns
its result. The overhead is two `perf_counter` calls per wrapped call.
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.breakdown import CHILD

# HTTP functions share the host's one thread pool with queues and timers: what runs
# inside an HTTP invocation is marked on its thread while it runs.
_http = threading.local()
_SENT_MAX = 100_000
_SPANS_MAX = 200_000


class Recorder:
    def __init__(self) -> None:
        self.durations: dict[str, list[float]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)
        self._sent: dict[str, tuple[float, str]] = {}
        self.spans: list[tuple[str, str, float, float]] = []  # label, thread, wall start, wall end
        self._lock = threading.Lock()

    def add(self, label: str, seconds: float) -> None:
        with self._lock:
            self.durations[label].append(seconds)

    def span(self, label: str, start: float, end: float) -> None:
        with self._lock:
            if len(self.spans) < _SPANS_MAX:
                self.spans.append((label, threading.current_thread().name, start, end))

    def count(self, label: str) -> None:
        with self._lock:
            self.counts[label] += 1

    def sent(self, content: str, origin: str) -> None:
        with self._lock:
            if len(self._sent) < _SENT_MAX:
                self._sent[content] = (time.monotonic(), origin)

    def dispatched(self, content: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            found = self._sent.pop(content or "", None)
        if found is not None:
            at, origin = found
            self.add(f"queue wait ({origin})", now - at)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"durations": dict(self.durations), "counts": dict(self.counts), "spans": list(self.spans)}


RECORDER = Recorder()


def _on_http_thread() -> bool:
    return bool(getattr(_http, "active", False))


def _mark_http_invocations() -> None:
    from pipelines.api import http

    original = http.handle

    def handle(*args: Any, **kwargs: Any) -> Any:
        _http.active = True
        try:
            return original(*args, **kwargs)
        finally:
            _http.active = False

    http.handle = handle


def _timed(owner: Any, name: str, label: str) -> None:
    original: Callable[..., Any] | None = getattr(owner, name, None)
    if original is None:  # the code moved on: say so in the report rather than fail the host
        RECORDER.count(f"probe not installed: {label}")
        return

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _on_http_thread():
            return original(*args, **kwargs)
        started, wall = time.perf_counter(), time.time()
        try:
            return original(*args, **kwargs)
        finally:
            RECORDER.add(label, time.perf_counter() - started)
            RECORDER.span(label, wall, time.time())

    setattr(owner, name, wrapper)


def install() -> None:
    """Wrap the worker path; call once, before the host starts."""
    from pipelines.catalogue.published import PublishedPipelines
    from pipelines.devhost.queues import QueuePoller
    from pipelines.runs.logs import LogWriter
    from pipelines.runs.repository import RunRepository
    from pipelines.runs.reuse import ReuseIndex
    from pipelines.store import messages
    from pipelines.store.tables import Table
    from pipelines.worker import executor, handler, launcher, watch
    from pipelines.worker.logflush import LogFlusher
    from pipelines.worker.snapshots import SnapshotCache

    _mark_http_invocations()
    _timed(handler, "handle_step_message", "step message, whole handler")
    _timed(RunRepository, "mutate", "run change: claim, exit note or commit")
    _timed(LogFlusher, "drain", "log flush, waited for")
    _timed(ReuseIndex, "claim", "reuse index: look up and hold the step's key")
    _timed(RunRepository, "load", "run partition load (query)")
    _timed(Table, "transact", "table transaction")
    _timed(PublishedPipelines, "get", "pipeline row read")
    _timed(watch.Watch, "__enter__", "lease watcher start")
    _timed(watch.Watch, "__exit__", "lease watcher stop")
    _timed(executor.Executor, "execute", "execute (stage, run, upload)")
    _timed(SnapshotCache, "path", "snapshot cache lookup")
    _timed(shutil, "copytree", "snapshot copy (copytree)")
    _timed(executor.Executor, "_stage_inputs", "stage inputs (list+download)")
    _timed(executor, "run_step", CHILD)
    _timed(launcher.WarmLauncher, "launch", "warm launch (request to pid answered)")
    _timed(executor.Executor, "_upload_outputs", "upload outputs (list+upload)")
    _timed(LogWriter, "append", "log append, behind the step (create+append blob)")
    _timed(LogWriter, "put", "log put whole, behind the step (one request)")

    original_send = messages.send

    def send(queue: Any, payload: Any, *, delay_seconds: int | None = None) -> None:
        origin = "submit to first claim" if _on_http_thread() else "hand-off"
        RECORDER.sent(messages.encode(payload), origin)
        started = time.perf_counter()
        try:
            original_send(queue, payload, delay_seconds=delay_seconds)
        finally:
            if not _on_http_thread():
                RECORDER.add("queue send", time.perf_counter() - started)

    messages.send = send

    original_receive = QueuePoller._receive

    def receive(self: QueuePoller) -> list[Any]:
        started = time.perf_counter()
        batch = original_receive(self)
        if self.entry.name == "run_step":
            RECORDER.add("queue receive call", time.perf_counter() - started)
            RECORDER.count("steps queue polls, empty" if not batch else "steps queue polls, with messages")
        return batch

    QueuePoller._receive = receive  # type: ignore[method-assign]

    original_dispatch = QueuePoller._dispatch

    def dispatch(self: QueuePoller, message: Any) -> None:
        RECORDER.dispatched(message.content)
        original_dispatch(self, message)

    QueuePoller._dispatch = dispatch  # type: ignore[method-assign]


def write(path: Path) -> None:
    path.write_text(json.dumps(RECORDER.to_json()), encoding="utf-8")
