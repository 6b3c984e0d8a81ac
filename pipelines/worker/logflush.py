"""Step logs written behind the step, so its turnover never waits on a log write.

Every append of a step's logs (the job log's lines, and stdout and stderr as
the pumps read them) goes to one thread of the invocation, in the order it was
made; the caller goes on at once. A step's own logs therefore reach storage in
order, while the script's exit, its output upload and the commit that records
it and claims its successor do not wait for them.

`drain()` waits for everything appended so far. The worker drains before it
records a step whose run then has nothing for this worker to take (so the logs
of a run's last step are complete when the run shows as ended), and before the
invocation returns (a Function's instance may be frozen or recycled after
that). A chained successor may start while its parent's last lines are still
being written: that is the one ordering given up, and it costs the reader a
few milliseconds at most.

Log writes also yield to the turnover itself: from a script's exit until its
successor's process has started (`hold`, `release`), appends wait, for at most
HOLD_SECONDS, so the commit, the upload and the launch do not share the worker's
interpreter and storage with them. `drain()` ends a hold.

A failed append is not retried here (the log blob's writer already retries
through the storage client's policy); it is counted, logged with the blob's
name on the worker's log, and the rest of the log goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait

from pipelines.runs.logs import LogWriter

log = logging.getLogger("pipelines.worker")

DRAIN_SECONDS = 60.0
# The longest a hold keeps log writes waiting (a turnover takes tens of milliseconds).
HOLD_SECONDS = 1.0


class LogFlusher:
    """One invocation's log writes, on one thread, in order."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []
        self._lock = threading.Lock()
        self.failures = 0
        self._open = threading.Event()
        self._open.set()
        self._held_until = 0.0

    def hold(self, seconds: float = HOLD_SECONDS) -> None:
        """Keep log writes waiting, for at most `seconds` (until `release` or `drain`)."""
        self._held_until = time.monotonic() + seconds
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def sink(self, writer: LogWriter) -> BehindSink:
        return BehindSink(self, writer)

    def submit(self, writer: LogWriter, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="step-logs")
            future = self._pool.submit(self._append, writer, data)
            self._pending.append(future)

    def _append(self, writer: LogWriter, data: bytes) -> None:
        held = self._held_until - time.monotonic()
        if held > 0:
            self._open.wait(held)
        try:
            writer.append(data)
        except Exception:  # noqa: BLE001 - a log write must not fail the step; it is reported here
            self.failures += 1
            log.warning("could not append %d bytes to the step log %s", len(data), writer.name, exc_info=True)

    def drain(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait for every append made so far; False if some were still going after `timeout`."""
        self.release()
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return True
        _, not_done = wait(pending, timeout=timeout)
        if not_done:
            log.warning("%d step log writes were still going after %.0fs", len(not_done), timeout)
            with self._lock:
                self._pending[:0] = list(not_done)
        return not not_done

    def close(self, timeout: float = DRAIN_SECONDS) -> None:
        self.drain(timeout)
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)


class BehindSink:
    """A log sink whose `append` hands the bytes to the flusher and returns."""

    def __init__(self, flusher: LogFlusher, writer: LogWriter) -> None:
        self.flusher = flusher
        self.writer = writer

    def append(self, data: bytes) -> None:
        self.flusher.submit(self.writer, data)
