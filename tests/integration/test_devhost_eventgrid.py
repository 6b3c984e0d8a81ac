"""The development host's Event Grid webhook, answered as the host and the Event Grid extension do."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import httpx

from tests.hosting import running_host


# -- Event Grid -------------------------------------------------------------------------------------
def event_grid_app() -> tuple[func.FunctionApp, list[Any]]:
    app = func.FunctionApp()
    received: list[Any] = []

    @app.event_grid_trigger(arg_name="event")
    def on_event(event: func.EventGridEvent) -> None:
        if event.subject == "fail":
            raise RuntimeError("cannot handle it")
        received.append(event)

    return app, received


def test_event_grid_webhook_validates_and_delivers(storage_env: dict[str, str]) -> None:
    app, received = event_grid_app()
    with running_host(app, host_json={}) as started, httpx.Client(base_url=started.base_url) as http:
        url = "/runtime/webhooks/EventGrid?functionName=on_event"
        # WHEN Event Grid validates the subscription
        answer = http.post(
            url,
            headers={"aeg-event-type": "SubscriptionValidation"},
            json=[
                {
                    "id": "v",
                    "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                    "data": {"validationCode": "CODE-1"},
                }
            ],
        )
        # THEN the code is echoed, and the function is not called
        assert answer.status_code == 200
        assert answer.json() == {"validationResponse": "CODE-1"}
        assert received == []
        # WHEN it delivers an Event Grid event and a CloudEvent
        answer = http.post(
            url,
            headers={"aeg-event-type": "Notification"},
            json=[
                {
                    "id": "e1",
                    "topic": "/t",
                    "subject": "blob/a",
                    "eventType": "Blob.Created",
                    "eventTime": "2024-05-01T10:00:00.1234567Z",
                    "data": {"size": 3},
                    "dataVersion": "1",
                },
                {
                    "specversion": "1.0",
                    "id": "c1",
                    "source": "/src",
                    "subject": "s",
                    "type": "Custom.Done",
                    "time": "2024-05-01T10:00:01Z",
                    "data": {"ok": True},
                },
            ],
        )
        # THEN the function ran once per event, each as the worker's converter builds it:
        # the Event Grid schema as an EventGridEvent, the CloudEvent as a CloudEvent
        assert answer.status_code == 202
        by_id = {event.id: event for event in received}
        grid, cloud = by_id["e1"], by_id["c1"]
        assert isinstance(grid, func.EventGridEvent) and isinstance(cloud, func.CloudEvent)
        assert (grid.topic, grid.subject, grid.event_type, grid.get_json()) == (
            "/t", "blob/a", "Blob.Created", {"size": 3},
        )
        assert grid.event_time == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
        assert grid.data_version == "1"
        assert (cloud.source, cloud.type, cloud.get_json()) == ("/src", "Custom.Done", {"ok": True})


def test_event_grid_webhook_answers_as_the_extension_does(storage_env: dict[str, str]) -> None:
    app, received = event_grid_app()
    with running_host(app, host_json={}) as started, httpx.Client(base_url=started.base_url) as http:
        notification = {"aeg-event-type": "Notification"}
        # the function name must be exact: the extension's lookup is case-sensitive
        for name in ("nope", "ON_EVENT", ""):
            unknown = http.post(
                f"/runtime/webhooks/eventgrid?functionName={name}", json=[], headers=notification
            )
            assert (unknown.status_code, unknown.text) == (404, f"cannot find function: '{name}'")
        url = "/runtime/webhooks/EventGrid?functionName=on_event"
        # any failure fails the delivery, so Event Grid retries it whole
        failed = http.post(url, headers=notification, json=[
            {"id": "x", "subject": "fail", "eventType": "t", "data": {}},
            {"id": "y", "subject": "fine", "eventType": "t", "data": {}},
        ])
        assert failed.status_code == 500
        assert failed.text == "Exception while executing function: Functions.on_event"
        assert [event.id for event in received] == ["y"]
        # one object is one event
        assert http.post(url, headers=notification, json={"id": "z", "eventType": "t"}).status_code == 202
        # no aeg-event-type, or an unknown one: 400; Unsubscribe: 202
        assert http.post(url, json=[]).status_code == 400
        assert http.post(url, headers={"aeg-event-type": "Other"}, json=[]).status_code == 400
        assert http.post(url, headers={"aeg-event-type": "Unsubscribe"}, json=[]).status_code == 202
        # the CloudEvents handshake
        handshake = http.options(url, headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
        assert handshake.status_code == 200
        assert handshake.headers["webhook-allowed-origin"] == "eventgrid.azure.net"
        # a body that is not JSON makes the extension throw: 500
        assert http.post(url, headers=notification, content=b"{nope").status_code == 500
        # and the webhook does not take PATCH: the request goes on to the functions, none answers
        assert http.patch(url, json=[]).status_code == 404
