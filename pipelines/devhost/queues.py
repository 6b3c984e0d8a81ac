"""Queue triggers, driven with the semantics of the Functions Storage Queues extension v5.

From `QueueListener`, `QueueProcessor` and `QueueListenerFactory` (azure-sdk-for-net,
`sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Queues`), see also
https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#concurrency:

- A batch of up to `batchSize` messages is fetched with a 10-minute visibility
  timeout, renewed half-way for as long as the invocation lasts. The next batch
  is fetched as soon as no more than `newBatchThreshold` are still being
  processed, so up to batchSize + newBatchThreshold run at once per function.
  "Being processed" includes waiting for a thread of the worker's one pool
  (`pipelines.devhost.worker`): a fetched message may wait there, invisible.
- An empty queue (or a failed poll, or a queue that does not exist: the trigger
  never creates it) is polled less and less often: a randomised exponential
  back-off from 100 ms up to `maxPollingInterval` (`RandomizedExponentialBackoffStrategy`),
  back to 100 ms once messages were found.
- Success deletes the message. Failure makes it visible again after
  `visibilityTimeout`; once it has been dequeued `maxDequeueCount` times it is
  copied, as is, to `<queue>-poison` and deleted. A message dequeued more often
  than that (a host died while running it) goes there without running. A body
  that is not valid base64 (with `messageEncoding: base64`) goes there at once
  (the extension's `MessageDecodingFailed` handler).
- A queue whose name ends in `-poison`, or whose poison name would be too long,
  has no poison queue: a failed message is left invisible (no release, so it
  comes back after the 10 minutes), and one over `maxDequeueCount`, or not
  base64, is left there without running, for ever.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as FunctionQueueMessage
from azure.storage.queue import LinearRetry, QueueClient, QueueServiceClient
from azure.storage.queue import QueueMessage as StorageQueueMessage

from pipelines.devhost.functions import FunctionEntry
from pipelines.devhost.hostconfig import QueueOptions, resolve_binding_expression
from pipelines.devhost.polling import PollingBackoff as PollingBackoff
from pipelines.devhost.polling import SharedQueueWatcher as SharedQueueWatcher
from pipelines.devhost.worker import Worker
from pipelines.errors import ConfigurationError
from pipelines.store.account import _expand_development_storage
from pipelines.store.transport import transport_options

log = logging.getLogger("pipelines.devhost")

# The extension's own visibility timeout while a message is being processed.
PROCESSING_VISIBILITY = timedelta(minutes=10)
_DEFAULT_CONNECTION = "AzureWebJobsStorage"
_POISON_SUFFIX = "-poison"
STOP_CHECK_SECONDS = 0.1
# Azure queue names: 3-63 characters, lower-case letters, digits and single hyphens inside.
_QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$")


# -- configuration -----------------------------------------------------------------------------
def valid_queue_name(name: str) -> bool:
    return 3 <= len(name) <= 63 and bool(_QUEUE_NAME.match(name))


def poison_queue_name(name: str) -> str | None:
    """`QueueListenerFactory.CreatePoisonQueueReference`: none for a poison queue, or a name too long."""
    if name.endswith(_POISON_SUFFIX) or not valid_queue_name(name + _POISON_SUFFIX):
        return None
    return name + _POISON_SUFFIX


# The real host polls and writes queues in .NET, out of the Python worker's log: the clients
# imitating it log their requests here, quiet, not to the SDK's logger that the app's own
# storage calls use (`pipelines.store.account.quiet_request_logs`).
HOST_REQUEST_LOGGER = logging.getLogger("pipelines.devhost.host_requests")
HOST_REQUEST_LOGGER.setLevel(logging.WARNING)


def queue_service(connection: str | None) -> QueueServiceClient:
    """The queue service of a binding's `connection`, found the way the host finds it.

    The setting `<connection>` (or `AzureWebJobs<connection>`) holds a connection
    string; otherwise `<connection>__queueServiceUri` / `__accountName` name an
    identity-based connection.
    """
    name = connection or _DEFAULT_CONNECTION
    # Few, quick retries: a poll that fails is retried by the poller anyway, and a
    # stopping host must not wait out the SDK's default 15 s back-off.
    retry = LinearRetry(backoff=1, random_jitter_range=0, retry_total=2)
    candidates = [name] if name.startswith("AzureWebJobs") else [name, f"AzureWebJobs{name}"]
    for key in candidates:
        value = os.environ.get(key)
        if value:
            return QueueServiceClient.from_connection_string(
                _expand_development_storage(value), retry_policy=retry, logger=HOST_REQUEST_LOGGER,
                **transport_options(),
            )
    for key in candidates:
        account = os.environ.get(f"{key}__accountName")
        uri = os.environ.get(f"{key}__queueServiceUri") or (
            f"https://{account}.queue.core.windows.net" if account else None
        )
        if uri:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential(managed_identity_client_id=os.environ.get(f"{key}__clientId"))
            return QueueServiceClient(
                account_url=uri, credential=credential, retry_policy=retry, logger=HOST_REQUEST_LOGGER,
                **transport_options(),
            )
    raise ConfigurationError(f"queue connection {name!r}: set {name} to a connection string")


# -- one message in flight ---------------------------------------------------------------------
@dataclass
class _Lease:
    """A message being processed; its pop receipt changes each time visibility is renewed."""

    message_id: str
    pop_receipt: str
    renew_at: float
    done: bool = False
    # Held while the receipt is used, so completion never races a renewal.
    lock: threading.Lock = field(default_factory=threading.Lock)


class QueuePoller:
    """Polls one queue for one function; its messages run on the worker's shared pool."""

    def __init__(
        self,
        entry: FunctionEntry,
        options: QueueOptions,
        stopping: threading.Event,
        worker: Worker,
        *,
        processing_visibility: timedelta = PROCESSING_VISIBILITY,
        watcher: SharedQueueWatcher | None = None,
    ) -> None:
        self.entry = entry
        self.options = options
        what = f"queue trigger {entry.name!r}"
        # Queue names are lowercase; the host lower-cases the resolved name.
        self.queue_name = resolve_binding_expression(str(entry.setting("queueName")), what=what).lower()
        if not valid_queue_name(self.queue_name):
            raise ConfigurationError(f"{what}: {self.queue_name!r} is not a valid queue name")
        self.poison_name = poison_queue_name(self.queue_name)
        self.connection = entry.setting("connection") or _DEFAULT_CONNECTION
        self.connection = resolve_binding_expression(str(self.connection), what=what)
        service = queue_service(self.connection)
        self.queue = service.get_queue_client(self.queue_name)
        self.poison: QueueClient | None = (
            service.get_queue_client(self.poison_name) if self.poison_name else None
        )
        self._stopping = stopping
        self._worker = worker
        self._visibility = max(1, int(processing_visibility.total_seconds()))
        # The host's side of each invocation: these threads wait for the worker, they
        # do not run the function (the worker's pool does).
        self._invocations = ThreadPoolExecutor(
            options.batch_size + options.new_batch_threshold, thread_name_prefix=f"devhost-queue-{entry.name}"
        )
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Condition()
        self._thread = threading.Thread(target=self._poll, name=f"devhost-poll-{entry.name}", daemon=True)
        # Set by `notify`; cleared as each poll begins (`QueueListener._stopWaitingTaskSource`).
        self._notified = threading.Event()
        self._watcher = watcher
        if watcher is not None:
            watcher.register(self.queue_name, self)

    def notify(self) -> None:
        """`QueueListener.Notify`: stop waiting out the back-off; poll now."""
        self._notified.set()

    def describe(self) -> str:
        return f"{self.entry.name}: queue '{self.queue_name}' (connection {self.connection})"

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Wait for polling and running invocations to end; False if some are still running."""
        deadline = time.monotonic() + timeout
        if self._thread.ident is not None:  # started
            self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            while self._leases and time.monotonic() < deadline:
                self._lock.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            drained = not self._leases
        self._invocations.shutdown(wait=drained, cancel_futures=True)
        return drained and not self._thread.is_alive()

    # -- polling -----------------------------------------------------------------------------
    def _poll(self) -> None:
        backoff = PollingBackoff(self.options.max_polling_interval.total_seconds())
        found_since_delay = False
        while not self._stopping.is_set():
            self._notified.clear()
            self._renew_due_leases()
            with self._lock:
                busy = len(self._leases) > self.options.new_batch_threshold
            if busy:  # WaitForNewBatchThreshold
                self._stopping.wait(min(0.1, self._visibility / 2))
                continue
            try:
                batch = self._receive()
                if batch and self._stopping.is_set():
                    self._give_back(batch)
                    return
                for message in batch:
                    self._dispatch(message)
            except ResourceNotFoundError:
                batch = []  # the trigger does not create its queue: wait for it
            except AzureError as exc:
                log.warning("queue %s: polling failed (%s); backing off", self.queue_name, type(exc).__name__)
                batch = []
            except Exception:
                # A poller that dies silently would look like an empty queue: log and go on.
                log.exception("queue %s: polling failed; backing off", self.queue_name)
                batch = []
            if batch:
                found_since_delay = True
                continue  # the next batch as soon as the threshold allows
            self._wait(backoff.next_delay(found_since_delay))
            found_since_delay = False

    def _wait(self, seconds: float) -> None:
        """Sleep between polls, waking to renew leases that come due meanwhile, and at once
        when notified of a new message (the back-off delay is cut short, not reset)."""
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set() and not self._notified.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with self._lock:
                next_renewal = min((lease.renew_at for lease in self._leases.values()), default=deadline)
            # Stop is seen within STOP_CHECK_SECONDS; a notification at once.
            self._notified.wait(max(0.0, min(remaining, next_renewal - time.monotonic(), STOP_CHECK_SECONDS)))
            self._renew_due_leases()

    def _receive(self) -> list[StorageQueueMessage]:
        # One service call: `by_page` stops the pager from fetching a second page.
        pages = self.queue.receive_messages(
            messages_per_page=self.options.batch_size, visibility_timeout=self._visibility
        ).by_page()
        try:
            return list(next(pages))
        except StopIteration:
            return []

    def _give_back(self, batch: list[StorageQueueMessage]) -> None:
        """Make messages fetched while stopping visible now, not in 10 minutes."""
        for message in batch:
            with contextlib.suppress(AzureError):  # they reappear when their visibility ends
                self.queue.update_message(message.id, message.pop_receipt, visibility_timeout=0)

    def _dispatch(self, message: StorageQueueMessage) -> None:
        count = message.dequeue_count or 1
        if count > self.options.max_dequeue_count:
            # Delivered more often than allowed (a host died mid-run): poison without running.
            self._to_poison(message.id, message.pop_receipt, message.content, count)
            return
        body = self._decode(message.content)
        if body is None:
            log.error(
                "queue %s: message %s is not valid base64 (messageEncoding is base64)",
                self.queue_name,
                message.id,
            )
            self._to_poison(message.id, message.pop_receipt, message.content, count)
            return
        lease = _Lease(message.id, message.pop_receipt or "", time.monotonic() + self._visibility / 2)
        with self._lock:
            self._leases[message.id] = lease
        trigger = FunctionQueueMessage(
            id=message.id,
            body=body,
            dequeue_count=count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        try:
            self._invocations.submit(self._run, lease, trigger, message.content, count)
        except RuntimeError:  # shutting down: leave the message to reappear
            self._release(lease)

    def _decode(self, content: str | None) -> bytes | None:
        text = content or ""
        if self.options.message_encoding != "base64":
            return text.encode("utf-8")
        try:
            # .NET's Convert.FromBase64String ignores whitespace; so do we.
            return base64.b64decode(re.sub(r"\s+", "", text), validate=True)
        except (binascii.Error, ValueError):
            return None

    # -- completion ----------------------------------------------------------------------------
    def _run(self, lease: _Lease, trigger: FunctionQueueMessage, content: str | None, count: int) -> None:
        try:
            outcome = self._worker.invoke(self.entry, trigger)
            with lease.lock:
                lease.done = True  # no more renewals; the receipt below is final
                receipt = lease.pop_receipt
            try:
                if outcome.cancelled:  # the worker stopped before running it
                    self.queue.update_message(lease.message_id, receipt, visibility_timeout=0)
                elif outcome.succeeded:
                    self.queue.delete_message(lease.message_id, receipt)
                elif self.poison is None:
                    pass  # no poison queue: left invisible, so it is not retried in a fast loop
                elif count >= self.options.max_dequeue_count:
                    self._to_poison(lease.message_id, receipt, content, count)
                else:
                    self.queue.update_message(
                        lease.message_id,
                        receipt,
                        visibility_timeout=int(self.options.visibility_timeout.total_seconds()),
                    )
            except AzureError as exc:
                # The message reappears when its visibility ends: at least once, as in Azure.
                log.warning(
                    "queue %s: could not complete message %s: %s", self.queue_name, lease.message_id, exc
                )
        finally:
            self._release(lease)

    def _release(self, lease: _Lease) -> None:
        with self._lock:
            self._leases.pop(lease.message_id, None)
            self._lock.notify_all()

    def _to_poison(self, message_id: str, pop_receipt: str | None, content: str | None, count: int) -> None:
        if self.poison is None:
            log.error(
                "queue %s: message %s cannot be processed and this queue has no poison queue: "
                "it stays, invisible for %ds at a time, and never runs",
                self.queue_name,
                message_id,
                self._visibility,
            )
            return
        log.warning(
            "queue %s: message %s moved to %s after %d deliveries",
            self.queue_name,
            message_id,
            self.poison_name,
            count,
        )
        with contextlib.suppress(AzureError):  # it exists (or the send below says why not)
            self.poison.create_queue()
        self.poison.send_message(content or "")
        if self._watcher is not None and self.poison_name:  # QueueProcessor.MessageAddedToPoisonQueueAsync
            self._watcher.notify(self.poison_name)
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
                    log.warning(
                        "queue %s: could not renew message %s: %s", self.queue_name, lease.message_id, exc
                    )
                lease.renew_at = time.monotonic() + self._visibility / 2
