"""The parts of `host.json` the development host honours, with the Functions defaults,
and `%AppSetting%` binding expressions. The queue options (`QueueOptions`, `parse_timespan`)
live in `pipelines.worker.queue_options`, shared with the standalone worker.

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
from typing import Any

from pipelines.errors import ConfigurationError
from pipelines.worker.queue_options import MIN_POLLING_INTERVAL as MIN_POLLING_INTERVAL
from pipelines.worker.queue_options import QueueOptions as QueueOptions
from pipelines.worker.queue_options import lookup as _lookup
from pipelines.worker.queue_options import parse_timespan as parse_timespan

# The Functions host refuses request bodies over 100 MB unless told otherwise
# (azure-functions-host `ScriptConstants.DefaultMaxRequestBodySize`, given to Kestrel in Program.cs).
_DEFAULT_MAX_BODY = 104_857_600


def resolve_binding_expression(text: str, *, what: str) -> str:
    """`%Name%` → the app setting `Name`, as the host resolves binding expressions."""

    def setting(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            raise ConfigurationError(f"{what}: app setting {match.group(1)!r} is not set")
        return value

    return re.sub(r"%([^%]+)%", setting, text)


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
