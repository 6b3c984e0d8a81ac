"""Step logs written behind the step, so its turnover never waits on a log write.

Every append of a step's logs (the job log's lines, and stdout and stderr as
the pumps read them) is handed to the invocation's log thread and the caller
goes on at once. Each log blob's bytes reach storage in the order they were
made, in as few requests as the reader's patience allows:

- what comes for a blob waits up to LINGER_SECONDS (or until LINGER_BYTES
  wait) and goes up as one append, so a streaming step's log grows at most
  about once a second, with everything it printed meanwhile;
- a blob its writer has finished (`BehindSink.close`: the step's process has
  ended, its job log has its last line) goes at once, and one finished before
  anything of it was written is one request: the whole blob, put as it is. A
  step shorter than the linger leaves two requests behind it (its job log and
  its stdout), where appending as it went took five.

A log blob read before its first write is missing, which reads as an empty log.

`drain()` waits for everything appended so far, lingering or not. The worker
drains before it records a step whose run then has nothing for this worker to
take (so the logs of a run's last step are complete when the run shows as
ended), and before the invocation returns (a Function's instance may be frozen
or recycled after that). A chained successor may start while its parent's logs
are still being written: that is the one ordering given up, and it costs the
reader a few milliseconds at most. A host killed outright loses what lingered,
at most LINGER_SECONDS of output; the step runs again as a new attempt.

Log writes also yield to the turnover itself: from a script's exit until its
successor's process has started (`hold`, `release`), writes wait, for at most
HOLD_SECONDS, so the commit, the upload and the launch do not share the worker's
interpreter and storage with them. `drain()` ends a hold.

A log small enough for the step's row is taken from here instead, before anything of it
was written (`take`): the commit that records the attempt carries it. Handed back
(`give_back`) when that commit does not record it, it is written as any other.

A failed write is not retried here (the log blob's writer already retries
through the storage client's policy); it is counted, logged with the blob's
name on the worker's log, and the rest of the log goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from pipelines.runs.logs import LogWriter

log = logging.getLogger("pipelines.worker")

DRAIN_SECONDS = 60.0
# The longest a hold keeps log writes waiting (a turnover takes tens of milliseconds).
HOLD_SECONDS = 1.0
# How long, and how many bytes, a blob's output waits to go up with what follows it.
LINGER_SECONDS = 1.0
LINGER_BYTES = 1024 * 1024


@dataclass
class _Blob:
    writer: LogWriter
    waiting: list[bytes] = field(default_factory=list)
    size: int = 0
    since: float = 0.0  # when the oldest waiting chunk came (monotonic)
    first: int = 0  # its number
    unwritten: deque[int] = field(default_factory=deque)  # numbers waiting or being written
    finished: bool = False  # nothing more will come
    started: bool = False  # something of it reached (or was sent to) storage
    busy: bool = False


class LogFlusher:
    """One invocation's log writes, on one thread, each blob's in order."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._blobs: dict[LogWriter, _Blob] = {}
        self._numbered = 0
        self._drain_to = 0  # every chunk numbered up to this goes now, lingering or not
        self._held_until = 0.0
        self._thread: threading.Thread | None = None
        self._closing = False
        self.failures = 0

    def hold(self, seconds: float = HOLD_SECONDS) -> None:
        """Keep log writes waiting, for at most `seconds` (until `release` or `drain`)."""
        with self._changed:
            self._held_until = time.monotonic() + seconds

    def release(self) -> None:
        with self._changed:
            self._held_until = 0.0
            self._changed.notify_all()

    def sink(self, writer: LogWriter) -> BehindSink:
        return BehindSink(self, writer)

    def submit(self, writer: LogWriter, data: bytes) -> None:
        if not data:
            return
        with self._changed:
            blob = self._blobs.setdefault(writer, _Blob(writer))
            self._numbered += 1
            first = not blob.waiting
            if first:
                blob.since, blob.first = time.monotonic(), self._numbered
            blob.waiting.append(data)
            blob.size += len(data)
            blob.unwritten.append(self._numbered)
            self._start()
            if first or blob.size >= LINGER_BYTES:
                self._changed.notify_all()  # the log thread sets its next wake-up by it

    def take(self, writer: LogWriter) -> bytes | None:
        """The whole of a finished log of which nothing was written yet (nor is being), taken
        out of the flusher: the caller keeps it elsewhere. None when something of it went to
        storage already, or more may come: it stays here and is written as usual."""
        with self._changed:
            blob = self._blobs.get(writer)
            if blob is None or not blob.finished or blob.started or blob.busy:
                return None
            del self._blobs[writer]
            self._changed.notify_all()  # a drain waiting for its chunks need not wait any more
            return b"".join(blob.waiting)

    def give_back(self, writer: LogWriter, data: bytes) -> None:
        """A log taken (`take`) and not kept after all: written as a whole log."""
        self.submit(writer, data)
        self.finish(writer)

    def finish(self, writer: LogWriter) -> None:
        """Nothing more comes for this blob: what waits for it goes now."""
        with self._changed:
            blob = self._blobs.get(writer)
            if blob is None:
                return
            blob.finished = True
            if not blob.unwritten:
                del self._blobs[writer]
            self._changed.notify_all()

    def _start(self) -> None:
        if self._thread is None:
            self._closing = False
            self._thread = threading.Thread(target=self._run, name="step-logs", daemon=True)
            self._thread.start()

    def _due(self, now: float) -> tuple[_Blob | None, float | None]:
        """The blob to write now (the one waiting longest), else when to look again."""
        if now < self._held_until:
            return None, self._held_until
        due: _Blob | None = None
        wake: float | None = None
        for blob in self._blobs.values():
            if blob.busy or not blob.waiting:
                continue
            ready_at = blob.since + LINGER_SECONDS
            if blob.finished or blob.size >= LINGER_BYTES or blob.first <= self._drain_to or now >= ready_at:
                if due is None or blob.first < due.first:
                    due = blob
            elif wake is None or ready_at < wake:
                wake = ready_at
        return due, wake

    def _run(self) -> None:
        while True:
            with self._changed:
                while True:
                    now = time.monotonic()
                    blob, wake = self._due(now)
                    if blob is not None:
                        break
                    if self._closing and not any(b.waiting for b in self._blobs.values()):
                        self._thread = None
                        return
                    self._changed.wait(None if wake is None else wake - now)
                chunks, whole = blob.waiting, blob.finished and not blob.started
                blob.waiting, blob.size, blob.busy, blob.started = [], 0, True, True
            self._write(blob.writer, b"".join(chunks), whole)
            with self._changed:
                for _ in chunks:
                    blob.unwritten.popleft()
                blob.busy = False
                if blob.finished and not blob.unwritten:
                    self._blobs.pop(blob.writer, None)
                self._changed.notify_all()

    def _write(self, writer: LogWriter, data: bytes, whole: bool) -> None:
        try:
            if whole:
                writer.put(data)
            else:
                writer.append(data)
        except Exception:  # noqa: BLE001 - a log write must not fail the step; it is reported here
            self.failures += 1
            log.warning("could not write %d bytes to the step log %s", len(data), writer.name, exc_info=True)

    def _written_up_to(self, number: int) -> bool:
        return all(not blob.unwritten or blob.unwritten[0] > number for blob in self._blobs.values())

    def drain(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait for every append made so far; False if some were still going after `timeout`."""
        with self._changed:
            number = self._drain_to = self._numbered
            self._held_until = 0.0
            self._changed.notify_all()
            done = self._changed.wait_for(lambda: self._written_up_to(number), timeout)
            if not done:
                waiting = sum(1 for blob in self._blobs.values() for n in blob.unwritten if n <= number)
                log.warning("%d step log writes were still going after %.0fs", waiting, timeout)
        return done

    def close(self, timeout: float = DRAIN_SECONDS) -> None:
        """Drain; the log thread ends once nothing waits."""
        self.drain(timeout)
        with self._changed:
            self._closing = True
            self._changed.notify_all()


class BehindSink:
    """A log sink whose `append` hands the bytes to the flusher and returns."""

    def __init__(self, flusher: LogFlusher, writer: LogWriter) -> None:
        self.flusher = flusher
        self.writer = writer
        self.closed = False
        self.written = False  # something was appended

    def append(self, data: bytes) -> None:
        if self.closed:
            raise RuntimeError(f"the step log {self.writer.name} was closed")
        self.written = self.written or bool(data)
        self.flusher.submit(self.writer, data)

    def close(self) -> None:
        """Nothing more is written to this log."""
        if not self.closed:
            self.closed = True
            self.flusher.finish(self.writer)
