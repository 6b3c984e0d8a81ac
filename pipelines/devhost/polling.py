"""When a queue trigger polls: the back-off between empty polls, and the host's watcher that
cuts it short when a message was added by this host (see `queues.py` for the sources)."""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING

from pipelines.devhost.hostconfig import MIN_POLLING_INTERVAL

if TYPE_CHECKING:
    from pipelines.devhost.queues import QueuePoller


class PollingBackoff:
    """`RandomizedExponentialBackoffStrategy(QueuePollingIntervals.Minimum, maxPollingInterval)`.

    From the minimum, each empty poll adds `minimum * 2^(n-1) * U(0.8, 1.2)` until
    the maximum; finding messages starts again from the minimum.
    """

    RANDOMIZATION = 0.2

    def __init__(self, maximum: float, minimum: float = MIN_POLLING_INTERVAL.total_seconds(),
                 rng: random.Random | None = None) -> None:
        self.minimum = minimum
        self.maximum = max(minimum, maximum)
        self._rng = rng or random.Random()
        self._current = 0.0
        self._exponent = 0

    def next_delay(self, found_messages: bool) -> float:
        if found_messages:
            self._current, self._exponent = self.minimum, 1
        elif self._current != self.maximum:
            interval = self.minimum
            if self._exponent > 0:
                factor = self._rng.uniform(1 - self.RANDOMIZATION, 1 + self.RANDOMIZATION)
                interval += factor * 2 ** (self._exponent - 1) * self.minimum
            if interval < self.maximum:
                self._current = interval
                self._exponent += 1
            else:
                self._current = self.maximum
        return self._current


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
