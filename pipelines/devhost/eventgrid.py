"""Event Grid triggers through the webhook Core Tools exposes.

`POST /runtime/webhooks/EventGrid?functionName=NAME`
(https://learn.microsoft.com/azure/azure-functions/event-grid-how-tos#local-testing-with-viewer-web-app):

- `aeg-event-type: SubscriptionValidation` answers the handshake with
  `{"validationResponse": <data.validationCode>}`;
- `aeg-event-type: Notification` (or no header: CloudEvents deliveries carry
  none) calls the function once per event and answers 202; 500 if any failed,
  so Event Grid retries the batch;
- `OPTIONS` with `WebHook-Request-Origin` is the CloudEvents abuse-protection
  handshake.

Bodies are a JSON array of Event Grid schema events, or CloudEvents 1.0 objects
(an array, or one object in structured mode), mapped onto the same event type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from concurrent.futures import Executor
from datetime import datetime
from typing import Any

import azure.functions as func

from pipelines.api.http import error_response, json_response
from pipelines.devhost.functions import FunctionEntry, invoke_async
from pipelines.errors import BadRequestError, NotFoundError, PipelinesError

WEBHOOK_PATH = "runtime/webhooks/eventgrid"


def parse_events(body: bytes) -> list[dict[str, Any]]:
    try:
        value = json.loads(body.decode("utf-8-sig") or "null")
    except (UnicodeDecodeError, ValueError):
        raise BadRequestError("the Event Grid delivery is not valid JSON") from None
    events = [value] if isinstance(value, dict) else value
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise BadRequestError("an Event Grid delivery is a JSON array of events")
    return events


def _event_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    # Event Grid sends 7 fractional digits (.NET ticks); Python reads at most 6.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def to_function_event(event: Mapping[str, Any]) -> func.EventGridEvent:
    """An Event Grid schema event, or a CloudEvent mapped field by field."""
    if "specversion" in event:
        return func.EventGridEvent(
            id=str(event.get("id", "")),
            data=event.get("data"),  # type: ignore[arg-type]
            topic=str(event.get("source", "")),
            subject=str(event.get("subject", "")),
            event_type=str(event.get("type", "")),
            event_time=_event_time(event.get("time")),
            data_version=str(event.get("dataversion", "")),
        )
    return func.EventGridEvent(
        id=str(event.get("id", "")),
        data=event.get("data"),  # type: ignore[arg-type]
        topic=str(event.get("topic", "")),
        subject=str(event.get("subject", "")),
        event_type=str(event.get("eventType", "")),
        event_time=_event_time(event.get("eventTime")),
        data_version=str(event.get("dataVersion", "")),
    )


def _validation_code(events: list[dict[str, Any]]) -> str:
    data = events[0].get("data") if events else None
    code = data.get("validationCode") if isinstance(data, dict) else None
    if not code:
        raise BadRequestError("a SubscriptionValidation event carries data.validationCode")
    return str(code)


async def handle_webhook(
    *,
    method: str,
    headers: Mapping[str, str],
    params: Mapping[str, str],
    body: bytes,
    functions: Mapping[str, FunctionEntry],
    executor: Executor,
    request_id: str,
) -> func.HttpResponse:
    """Answer one webhook call; `functions` is keyed by lower-cased function name."""
    try:
        name = next((v for k, v in params.items() if k.lower() == "functionname"), None)
        if not name:
            raise BadRequestError("the query parameter functionName is required", target="functionName")
        entry = functions.get(name.lower())
        if entry is None:
            raise NotFoundError(f"no Event Grid function named {name!r}", target="functionName")
        if method == "OPTIONS":
            origin = headers.get("webhook-request-origin")
            if not origin:
                raise BadRequestError(
                    "an OPTIONS call is the CloudEvents handshake: WebHook-Request-Origin is missing"
                )
            return func.HttpResponse(
                status_code=200, headers={"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*"}
            )
        kind = (headers.get("aeg-event-type") or "Notification").lower()
        if kind == "unsubscribe":
            return func.HttpResponse(status_code=202)
        events = parse_events(body)
        if kind == "subscriptionvalidation":
            return json_response({"validationResponse": _validation_code(events)})
        if kind != "notification":
            raise BadRequestError(f"unknown aeg-event-type {headers.get('aeg-event-type')!r}")
        failed = []
        for event in events:
            outcome = await invoke_async(entry, to_function_event(event), executor)
            if not outcome.succeeded:
                failed.append(str(event.get("id", "")))
        if failed:
            return error_response(
                PipelinesError(f"function {entry.name!r} failed for events {', '.join(failed)}"), request_id
            )
        return func.HttpResponse(status_code=202)
    except PipelinesError as error:
        return error_response(error, request_id)
