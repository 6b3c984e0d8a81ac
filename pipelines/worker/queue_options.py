"""How a queue is polled, as the Functions Storage Queues extension v5 does it: the options of
host.json's `extensions.queues` and the back-off between empty polls.

Shared by the Function app's local host (`pipelines.devhost`) and the standalone worker
(`pipelines.worker.standalone`), so both poll alike. Keys are looked up case-insensitively,
as the Functions host binds its options. Defaults and limits are those of the extension
(`QueuesOptions`, azure-sdk-for-net `sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Queues`;
https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#hostjson-settings):
batchSize 16 (1..32), newBatchThreshold `batchSize / 2 * processors` (1 processor on
Consumption plans), maxPollingInterval 1 minute (at least 100 ms), visibilityTimeout 0,
maxDequeueCount 5 (at least 1), messageEncoding base64.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pipelines.errors import ConfigurationError

# .NET TimeSpan text: [d.]hh:mm:ss[.fffffff]
_TIMESPAN = re.compile(
    r"^(?:(?P<d>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{1,2}):(?P<s>\d{1,2})(?:\.(?P<f>\d{1,7}))?$"
)

# QueuePollingIntervals.Minimum: the first poll after messages were found, and the least maxPollingInterval.
MIN_POLLING_INTERVAL = timedelta(milliseconds=100)


def parse_timespan(text: str, *, name: str = "value") -> timedelta:
    """A .NET TimeSpan string (`00:00:05`, `1.02:00:00`, `00:00:00.500`) as a timedelta."""
    match = _TIMESPAN.match(str(text).strip()) if isinstance(text, str) else None
    if not match:
        raise ConfigurationError(f"{name}: {text!r} is not a TimeSpan such as '00:00:05'")
    fraction = match.group("f") or "0"
    return timedelta(
        days=int(match.group("d") or 0),
        hours=int(match.group("h")),
        minutes=int(match.group("m")),
        seconds=int(match.group("s")),
        microseconds=int(fraction.ljust(7, "0")[:7]) / 10,
    )


def lookup(section: Mapping[str, Any] | None, key: str) -> Any:
    if not section:
        return None
    for name, value in section.items():
        if name.lower() == key.lower():
            return value
    return None


@dataclass(frozen=True)
class QueueOptions:
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: timedelta = timedelta(minutes=1)
    visibility_timeout: timedelta = timedelta(0)
    max_dequeue_count: int = 5
    message_encoding: str = "base64"

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None) -> QueueOptions:
        batch_size = int(lookup(section, "batchSize") or cls.batch_size)
        if not 1 <= batch_size <= 32:
            raise ConfigurationError("host.json extensions.queues.batchSize must be 1..32")
        processors = os.cpu_count() or 1
        threshold = lookup(section, "newBatchThreshold")
        polling = lookup(section, "maxPollingInterval")
        visibility = lookup(section, "visibilityTimeout")
        dequeue = lookup(section, "maxDequeueCount")
        encoding = str(lookup(section, "messageEncoding") or cls.message_encoding).lower()
        if encoding not in ("base64", "none"):
            raise ConfigurationError("host.json extensions.queues.messageEncoding must be base64 or none")
        options = cls(
            batch_size=batch_size,
            new_batch_threshold=int(threshold) if threshold is not None else batch_size // 2 * processors,
            max_polling_interval=(
                parse_timespan(polling, name="host.json extensions.queues.maxPollingInterval")
                if polling is not None
                else cls.max_polling_interval
            ),
            visibility_timeout=(
                parse_timespan(visibility, name="host.json extensions.queues.visibilityTimeout")
                if visibility is not None
                else cls.visibility_timeout
            ),
            max_dequeue_count=int(dequeue) if dequeue is not None else cls.max_dequeue_count,
            message_encoding=encoding,
        )
        if options.max_dequeue_count < 1:
            raise ConfigurationError("host.json extensions.queues.maxDequeueCount must be at least 1")
        if options.new_batch_threshold < 0:
            raise ConfigurationError("host.json extensions.queues.newBatchThreshold must not be negative")
        if options.max_polling_interval < MIN_POLLING_INTERVAL:
            raise ConfigurationError(
                "host.json extensions.queues.maxPollingInterval must be at least 00:00:00.1"
            )
        return options


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
