"""One queue, consumed the way the Functions Storage Queues extension v5 consumes it, for the
standalone worker (`pipelines.worker.standalone`), which runs outside the Functions host.

The semantics are those `pipelines/devhost/queues.py` documents for the local host (from the
extension's `QueueListener` and `QueueProcessor`), bounded by the worker's concurrency:

- a batch of at most `batchSize` messages, and never more than `concurrency` running at once,
  is fetched with a 10-minute visibility timeout, renewed half-way while a message is
  processed; the next batch as soon as no more than `newBatchThreshold` (and fewer than
  `concurrency`) are still running;
- an empty queue, a failed poll or a missing queue is polled less and less often: the
  randomised exponential back-off from 100 ms to `maxPollingInterval` (`PollingBackoff`);
- success deletes the message; failure makes it visible again after `visibilityTimeout`,
  and a message dequeued `maxDequeueCount` times is copied to `<queue>-poison` and deleted
  (without running when it was dequeued more often than that: its worker died). A body that
  is not base64 (`messageEncoding: base64`) goes to the poison queue at once;
- a queue without a poison queue (the poison queue itself) leaves a failed message invisible.

Stopping is the standalone worker's own: `stop_fetching` stops polling at once (a batch
fetched meanwhile is made visible again), and `abandon` gives up the messages still being
processed: each is made visible again after a delay, as the message of a worker that died
would be after its visibility timeout, and its completion no longer deletes or fails it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from azure.core.exceptions import AzureError, ResourceNotFoundError

from pipelines.worker.queue_options import PollingBackoff, QueueOptions

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient
    from azure.storage.queue import QueueMessage as StorageQueueMessage

log = logging.getLogger("pipelines.worker")

# The extension's own visibility timeout while a message is being processed.
PROCESSING_VISIBILITY = timedelta(minutes=10)
STOP_CHECK_SECONDS = 0.1

# What processes one message: its decoded body and how many times it was dequeued. Raising fails it.
Process = Callable[[bytes, int], object]


@dataclass
class _Lease:
    """A message being processed; its pop receipt changes each time visibility is renewed."""

    message_id: str
    pop_receipt: str
    renew_at: float
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)  # held while the receipt is used


class QueueListener:
    """Polls one queue; each message it takes is processed on a thread of its own."""

    def __init__(
        self,
        queue: QueueClient,
        poison: QueueClient | None,
        options: QueueOptions,
        process: Process,
        *,
        concurrency: int,
        processing_visibility: timedelta = PROCESSING_VISIBILITY,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.queue = queue
        self.poison = poison
        self.options = options
        self.concurrency = concurrency
        self.name = queue.queue_name
        self.taken = 0  # messages taken off the queue since start
        self.last_poll: float | None = None  # time.monotonic() of the last poll that storage answered
        self.last_busy = time.monotonic()  # when a message was last taken or finished
        self.max_messages: int | None = None  # take no more than this many, then stop fetching
        self._process = process
        self._visibility = max(1, int(processing_visibility.total_seconds()))
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Condition()
        self._fetching = threading.Event()
        self._fetching.set()
        self._closed = threading.Event()  # nothing left to renew: the poll thread ends
        self._abandon_after: int | None = None  # seconds; set by `abandon`
        self._thread = threading.Thread(target=self._poll, name=f"poll-{self.name}", daemon=True)

    # -- control ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._leases)

    def stop_fetching(self) -> None:
        """Take no more messages; those being processed go on (and their visibility is renewed)."""
        self._fetching.clear()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no message is being processed; False if some still are after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._leases and time.monotonic() < deadline:
                self._lock.wait(min(STOP_CHECK_SECONDS, max(0.0, deadline - time.monotonic())))
            return not self._leases

    def abandon(self, visible_after: int) -> None:
        """From now on a message whose processing ends is made visible again after `visible_after`
        seconds, whatever the outcome: neither deleted nor counted as a failure."""
        self._abandon_after = max(0, visible_after)

    def release_unfinished(self) -> int:
        """Give up the messages still being processed (after `abandon`): each becomes visible
        after the abandon delay; returns how many."""
        with self._lock:
            leases = list(self._leases.values())
        for lease in leases:
            self._give_up(lease)
        return len(leases)

    def close(self, timeout: float = 5.0) -> None:
        self._fetching.clear()
        self._closed.set()
        self._thread.join(timeout)

    # -- polling ---------------------------------------------------------------------------------
    def _poll(self) -> None:
        backoff = PollingBackoff(self.options.max_polling_interval.total_seconds())
        found_since_delay = False
        while not self._closed.is_set():
            self._renew_due_leases()
            if not self._fetching.is_set():
                self._closed.wait(STOP_CHECK_SECONDS)
                continue
            room = self._room()
            if room <= 0:  # WaitForNewBatchThreshold, and the worker's concurrency
                self._closed.wait(STOP_CHECK_SECONDS)
                continue
            batch: list[StorageQueueMessage] = []
            try:
                batch = self._receive(room)
                self.last_poll = time.monotonic()
                if batch and not self._fetching.is_set():
                    self._give_back(batch)
                    continue
                for message in batch:
                    self._dispatch(message)
            except ResourceNotFoundError:
                self.last_poll = time.monotonic()  # storage answered: the queue is not there (yet)
            except AzureError as exc:
                log.warning("queue %s: polling failed (%s); backing off", self.name, type(exc).__name__)
            except Exception:  # a poller that dies silently would look like an empty queue
                log.exception("queue %s: polling failed; backing off", self.name)
            if batch:
                found_since_delay = True
                continue
            self._wait(backoff.next_delay(found_since_delay))
            found_since_delay = False

    def _room(self) -> int:
        """How many messages the next batch may take: none while more than newBatchThreshold run."""
        with self._lock:
            running = len(self._leases)
        if running > min(self.options.new_batch_threshold, self.concurrency - 1):
            return 0
        room = min(self.options.batch_size, self.concurrency - running)
        return room if self.max_messages is None else min(room, self.max_messages - self.taken)

    def _wait(self, seconds: float) -> None:
        """Sleep between polls, waking to renew leases that come due and to see a stop."""
        deadline = time.monotonic() + seconds
        while self._fetching.is_set() and not self._closed.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._closed.wait(min(remaining, STOP_CHECK_SECONDS))
            self._renew_due_leases()

    def _receive(self, count: int) -> list[StorageQueueMessage]:
        # One service call: `by_page` stops the pager from fetching a second page.
        pages = self.queue.receive_messages(messages_per_page=count, visibility_timeout=self._visibility).by_page()
        try:
            return list(next(pages))
        except StopIteration:
            return []

    def _give_back(self, batch: list[StorageQueueMessage]) -> None:
        for message in batch:
            with contextlib.suppress(AzureError):  # they reappear when their visibility ends anyway
                self.queue.update_message(message.id, message.pop_receipt, visibility_timeout=0)

    def _dispatch(self, message: StorageQueueMessage) -> None:
        count = message.dequeue_count or 1
        if count > self.options.max_dequeue_count:
            # Delivered more often than allowed (a worker died mid-run): poison without running.
            self._to_poison(message.id, message.pop_receipt, message.content, count)
            return
        body = self._decode(message.content)
        if body is None:
            log.error("queue %s: message %s is not valid base64 (messageEncoding is base64)", self.name, message.id)
            self._to_poison(message.id, message.pop_receipt, message.content, count)
            return
        lease = _Lease(message.id, message.pop_receipt or "", time.monotonic() + self._visibility / 2)
        with self._lock:
            self._leases[message.id] = lease
        self.taken += 1
        self.last_busy = time.monotonic()
        if self.max_messages is not None and self.taken >= self.max_messages:
            self._fetching.clear()
        thread = threading.Thread(
            target=self._run, args=(lease, body, message.content, count), name=f"message-{message.id[:8]}", daemon=True
        )
        thread.start()

    def _decode(self, content: str | None) -> bytes | None:
        text = content or ""
        if self.options.message_encoding != "base64":
            return text.encode("utf-8")
        try:
            return base64.b64decode(re.sub(r"\s+", "", text), validate=True)  # .NET ignores whitespace too
        except (binascii.Error, ValueError):
            return None

    # -- completion --------------------------------------------------------------------------------
    def _run(self, lease: _Lease, body: bytes, content: str | None, count: int) -> None:
        succeeded = False
        try:
            try:
                self._process(body, count)
                succeeded = True
            except Exception:
                log.exception("queue %s: message %s failed (delivery %d)", self.name, lease.message_id, count)
            if self._abandon_after is not None:
                self._give_up(lease)
                return
            with lease.lock:
                if lease.done:
                    return
                lease.done = True  # no more renewals; the receipt below is final
                receipt = lease.pop_receipt
            try:
                if succeeded:
                    self.queue.delete_message(lease.message_id, receipt)
                elif self.poison is None:
                    pass  # no poison queue: left invisible, so it is not retried in a fast loop
                elif count >= self.options.max_dequeue_count:
                    self._to_poison(lease.message_id, receipt, content, count)
                else:
                    visibility = int(self.options.visibility_timeout.total_seconds())
                    self.queue.update_message(lease.message_id, receipt, visibility_timeout=visibility)
            except AzureError as exc:  # it reappears when its visibility ends: at least once
                log.warning("queue %s: could not complete message %s: %s", self.name, lease.message_id, exc)
        finally:
            with self._lock:
                self._leases.pop(lease.message_id, None)
                self.last_busy = time.monotonic()
                self._lock.notify_all()

    def _give_up(self, lease: _Lease) -> None:
        after = self._abandon_after or 0
        with lease.lock:
            if lease.done:
                return
            lease.done = True
            try:
                self.queue.update_message(lease.message_id, lease.pop_receipt, visibility_timeout=after)
                log.warning("queue %s: message %s given up; visible again in %ds", self.name, lease.message_id, after)
            except AzureError as exc:
                log.warning("queue %s: could not give up message %s: %s", self.name, lease.message_id, exc)

    def _to_poison(self, message_id: str, pop_receipt: str | None, content: str | None, count: int) -> None:
        if self.poison is None:
            log.error("queue %s: message %s cannot be processed and this queue has no poison queue: it stays, "
                      "invisible for %ds at a time", self.name, message_id, self._visibility)
            return
        log.warning("queue %s: message %s moved to %s after %d deliveries", self.name, message_id,
                    self.poison.queue_name, count)
        with contextlib.suppress(AzureError):  # it exists (or the send below says why not)
            self.poison.create_queue()
        self.poison.send_message(content or "")
        with contextlib.suppress(ResourceNotFoundError):  # already gone: another delivery completed it
            self.queue.delete_message(message_id, pop_receipt)

    def _renew_due_leases(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [lease for lease in self._leases.values() if lease.renew_at <= now and not lease.done]
        for lease in due:
            with lease.lock:
                if lease.done:
                    continue
                try:
                    receipt = self.queue.update_message(
                        lease.message_id, lease.pop_receipt, visibility_timeout=self._visibility
                    )
                    lease.pop_receipt = receipt.pop_receipt or lease.pop_receipt
                except AzureError as exc:
                    log.warning("queue %s: could not renew message %s: %s", self.name, lease.message_id, exc)
                lease.renew_at = time.monotonic() + self._visibility / 2
