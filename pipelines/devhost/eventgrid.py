"""Event Grid triggers through the host's webhook, `/runtime/webhooks/EventGrid?functionName=NAME`.

As the host answers it: `HostController.ExtensionWebHookHandler` (azure-functions-host
4.x) takes GET, PUT, POST, DELETE and OPTIONS on `runtime/webhooks/{extensionName}`
(the extension name ignoring case) and hands the request to the Event Grid
extension (azure-sdk-for-net `sdk/eventgrid/Microsoft.Azure.WebJobs.Extensions.EventGrid`,
`EventGridExtensionConfigProvider` and `HttpRequestProcessor`):

- `functionName` missing or not a function's exact name (the lookup is
  case-sensitive): 404 `cannot find function: 'NAME'` (text).
- `OPTIONS`: the CloudEvents abuse-protection handshake, 200 with
  `Webhook-Allowed-Origin` (the request's origin when it is an Event Grid cloud,
  else `eventgrid.azure.net`).
- `aeg-event-type: SubscriptionValidation` (any case): 200
  `{"validationResponse": <data.validationCode of the first event>}`; the
  function is not called.
- `aeg-event-type: Notification`: the body is a JSON array of events or one
  object; the function runs once per event, all at once, and the answer is 202,
  or 500 `Exception while executing function: Functions.NAME` (text) if any
  failed, so Event Grid retries the whole delivery.
- `aeg-event-type: Unsubscribe`: 202. Anything else, no header included: 400.

Each event reaches the function through the library's own converter
(`azure.functions.eventgrid.EventGridEventInConverter`), as the worker does:
an Event Grid schema event becomes `func.EventGridEvent`, a CloudEvent
(`specversion`) a `func.CloudEvent`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import azure.functions as func
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum

from pipelines.devhost.functions import FunctionEntry
from pipelines.devhost.worker import Worker

WEBHOOK_PATH = "runtime/webhooks/eventgrid"
# The webhook's verbs ([AcceptVerbs] on ExtensionWebHookHandler): others fall through to the functions.
WEBHOOK_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS"})
_CLOUD_ORIGINS = (
    "eventgrid.azure.net",
    "eventgrid.azure.us",
    "eventgrid.azure.eaglex.ic.gov",
    "eventgrid.azure.microsoft.scloud",
    "eventgrid.azure.cn",
)


class WebhookError(ValueError):
    """A body the extension cannot read: it throws, and the host answers 500."""


def _text(status: int, text: str = "") -> func.HttpResponse:
    return func.HttpResponse(text, status_code=status, mimetype="text/plain", charset="utf-8")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8-sig") or "null")
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookError(f"the Event Grid delivery is not JSON: {exc}") from None


def _validation_code(body: bytes) -> str:
    events = _json(body)
    try:
        if isinstance(events, list):
            code = events[0]["data"]["validationCode"]
        elif isinstance(events, dict):
            data = events["data"]  # CloudEvents: the data may arrive as JSON text
            code = (json.loads(data) if isinstance(data, str) else data)["validationCode"]
        else:
            raise WebhookError("the Event Grid delivery is neither an object nor an array")
    except (LookupError, TypeError, ValueError) as exc:
        raise WebhookError(f"a SubscriptionValidation event carries data.validationCode ({exc!r})") from None
    return str(code)


def parse_events(body: bytes) -> list[Any]:
    value = _json(body)
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    raise WebhookError("the Event Grid delivery is neither an object nor an array")


def to_function_event(event: Any) -> Any:
    """An event as the worker hands it to the function (EventGridEvent or CloudEvent)."""
    return EventGridEventInConverter.decode(Datum(json.dumps(event), "json"), trigger_metadata=None)


async def _invoke(entry: FunctionEntry, event: Any, worker: Worker) -> bool:
    try:
        value = to_function_event(event)
    except Exception:  # noqa: BLE001 - the worker fails the invocation when the binding fails
        return False
    return (await worker.invoke_async(entry, value)).succeeded


async def handle_webhook(
    *,
    method: str,
    headers: Mapping[str, str],
    params: Mapping[str, str],
    body: bytes,
    functions: Mapping[str, FunctionEntry],
    worker: Worker,
) -> func.HttpResponse:
    """Answer one webhook call; `functions` maps each Event Grid function's exact name."""
    # HttpUtility.ParseQueryString: the key ignores case, the function name does not.
    name = next((value for key, value in params.items() if key.lower() == "functionname"), "")
    entry = functions.get(name)
    if entry is None:
        return _text(404, f"cannot find function: '{name}'")
    if method == "OPTIONS":
        origin = headers.get("webhook-request-origin", "")
        allowed = origin if origin in _CLOUD_ORIGINS else _CLOUD_ORIGINS[0]
        return func.HttpResponse(status_code=200, headers={"Webhook-Allowed-Origin": allowed})
    kind = (headers.get("aeg-event-type") or "").lower()
    if kind == "subscriptionvalidation":
        return _text(200, json.dumps({"validationResponse": _validation_code(body)}))
    if kind == "notification":
        events = parse_events(body)
        results = await asyncio.gather(*(_invoke(entry, event, worker) for event in events))
        if not all(results):
            return _text(500, f"Exception while executing function: Functions.{entry.name}")
        return func.HttpResponse(status_code=202)
    if kind == "unsubscribe":
        return func.HttpResponse(status_code=202)
    return func.HttpResponse(status_code=400)
