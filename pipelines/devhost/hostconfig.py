"""The parts of `host.json` the development host honours, with the Functions defaults,
and `%AppSetting%` binding expressions.

Keys are looked up case-insensitively, as the Functions host binds its options.
Defaults and limits are those of the Storage Queues extension v5 (`QueuesOptions`,
azure-sdk-for-net `sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Queues`;
https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#hostjson-settings):
batchSize 16 (1..32), newBatchThreshold `batchSize / 2 * processors` (1 processor on
Consumption plans), maxPollingInterval 1 minute (at least 100 ms), visibilityTimeout 0,
maxDequeueCount 5 (at least 1), messageEncoding base64.
"""

from __future__ import annotations

import os
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

# The Functions host refuses request bodies over 100 MB unless told otherwise
# (azure-functions-host `ScriptConstants.DefaultMaxRequestBodySize`, given to Kestrel in Program.cs).
_DEFAULT_MAX_BODY = 104_857_600
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


def resolve_binding_expression(text: str, *, what: str) -> str:
    """`%Name%` → the app setting `Name`, as the host resolves binding expressions."""

    def setting(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            raise ConfigurationError(f"{what}: app setting {match.group(1)!r} is not set")
        return value

    return re.sub(r"%([^%]+)%", setting, text)


def _lookup(section: Mapping[str, Any] | None, key: str) -> Any:
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
        batch_size = int(_lookup(section, "batchSize") or cls.batch_size)
        if not 1 <= batch_size <= 32:
            raise ConfigurationError("host.json extensions.queues.batchSize must be 1..32")
        processors = os.cpu_count() or 1
        threshold = _lookup(section, "newBatchThreshold")
        polling = _lookup(section, "maxPollingInterval")
        visibility = _lookup(section, "visibilityTimeout")
        dequeue = _lookup(section, "maxDequeueCount")
        encoding = str(_lookup(section, "messageEncoding") or cls.message_encoding).lower()
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


@dataclass(frozen=True)
class HostOptions:
    route_prefix: str = "api"
    queues: QueueOptions = QueueOptions()
    max_request_bytes: int = _DEFAULT_MAX_BODY

    @classmethod
    def from_host_json(cls, host_json: Mapping[str, Any] | None) -> HostOptions:
        extensions = _lookup(host_json, "extensions") or {}
        http = _lookup(extensions, "http") or {}
        prefix = _lookup(http, "routePrefix")
        # The host's own override of the body limit (an app setting, not host.json), read with
        # long.TryParse by `HttpRequestBodySizeMiddleware`: anything else leaves the default.
        limit = (os.environ.get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT") or "").strip()
        return cls(
            route_prefix=("api" if prefix is None else str(prefix)).strip("/"),
            queues=QueueOptions.from_section(_lookup(extensions, "queues")),
            max_request_bytes=int(limit) if limit.isdigit() else _DEFAULT_MAX_BODY,
        )
