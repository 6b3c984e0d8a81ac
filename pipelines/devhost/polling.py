"""When a queue trigger polls: the back-off between empty polls, and the host's watcher that
cuts it short when a message was added by this host (see `queues.py` for the sources)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from pipelines.worker.queue_options import PollingBackoff as PollingBackoff

if TYPE_CHECKING:
    from pipelines.devhost.queues import QueuePoller


class SharedQueueWatcher:
    """The host's `SharedQueueWatcher`: a message one of its output bindings added (or one its
    queue processor moved to a poison queue) makes this host's pollers of that queue poll now."""

    def __init__(self) -> None:
        self._pollers: dict[str, list[QueuePoller]] = {}
        self._lock = threading.Lock()

    def register(self, queue_name: str, poller: QueuePoller) -> None:
        with self._lock:
            self._pollers.setdefault(queue_name, []).append(poller)

    def notify(self, queue_name: str) -> None:
        with self._lock:
            pollers = list(self._pollers.get(queue_name, ()))
        for poller in pollers:
            poller.notify()
