"""The sinks of run events: the local queue, an Event Grid topic, a webhook of the run's endpoint,
the Azure DevOps job waiting for the run.

Each takes a run's pending events, in order, as (short id, CloudEvent JSON) pairs, and
says which it delivered: a sink stops at its first failure, so events reach it in the
order they happened, and what it did deliver is recorded even then. No error text holds
a secret: not the signing secret, not a webhook URL's query (which may carry a token).

How long a call may wait is the caller's (`Patience`): the notify queue's deliverer gives
a sink a moment, the sinks queue's the full time (`pipelines.events.delivery`). The local
queue is the app's own storage and waits as every storage call does.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as WaitedTooLong
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pipelines.api.events_contract import CONTENT_TYPE
from pipelines.catalogue.webhooks import url_allowed
from pipelines.errors import PipelinesError
from pipelines.events.signing import signed_headers
from pipelines.lazy import first_use
from pipelines.runs.notify import SinkRef
from pipelines.store import StorageAccount, messages
from pipelines.store.eventgrid import EventGridTopic
from pipelines.version import __version__

if TYPE_CHECKING:
    import requests

log = logging.getLogger("pipelines.events")

Pending = Sequence[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Patience:
    """How long one call to a sink may wait to connect and for each part of its answer, how
    often a client that tries again on its own (Event Grid's) may, and how long the call may
    take in all, whatever the other side does (an answer sent a byte at a time, a name slow
    to resolve): past `whole`, a webhook's or a plan's call is cut (`_post`)."""

    connect: float
    read: float
    retries: int
    whole: float

    def within(self, seconds: float) -> Patience:
        """This patience, cut to `seconds` in all."""
        return Patience(min(self.connect, seconds), min(self.read, seconds), self.retries, min(self.whole, seconds))


# The sinks queue's: a sink that answers at all answers in this.
FULL = Patience(connect=3.05, read=10.0, retries=2, whole=15.0)
# Calls past their time are left to end on their own (their sockets shut) on these threads.
_calls = ThreadPoolExecutor(max_workers=32, thread_name_prefix="sink-call")


@dataclass
class Outcome:
    delivered: list[str] = field(default_factory=list)  # short ids
    error: str | None = None
    # A call waited its patience out: the sink may have taken the event (it goes again).
    timed_out: bool = False
    # False: the time budget ran out before the last event (none failed); the rest goes next time.
    complete: bool = True


class Sink(Protocol):
    ref: SinkRef

    def deliver(self, events: Pending, deadline: float, patience: Patience) -> Outcome: ...


class QueueSink:
    """A queue of the app's account (the local sink): one message per event, the event's JSON."""

    def __init__(self, ref: SinkRef, account: StorageAccount, queue_name: str) -> None:
        self.ref = ref
        self.queue = account.queue(queue_name)

    def deliver(self, events: Pending, deadline: float, patience: Patience) -> Outcome:
        outcome = Outcome()
        for short, event in events:
            if time.monotonic() > deadline:
                outcome.complete = False
                break
            try:
                messages.send(self.queue, event)
            except PipelinesError as error:
                outcome.error = f"the queue did not take the event: {error.message}"
                break
            outcome.delivered.append(short)
        return outcome


class EventGridSink:
    """An Event Grid custom topic or namespace topic: the events in one call, all or none."""

    def __init__(self, ref: SinkRef, topic: EventGridTopic) -> None:
        self.ref = ref
        self.topic = topic

    def deliver(self, events: Pending, deadline: float, patience: Patience) -> Outcome:
        with first_use():
            from pipelines.store.eventgrid import PublishError

        try:
            self.topic.publish([event for _, event in events], connect=patience.connect, read=patience.read,
                               retries=patience.retries)
        except PipelinesError as error:
            return Outcome(error=error.message, timed_out=isinstance(error, PublishError) and error.timed_out)
        return Outcome([short for short, _ in events])


class WebhookSink:
    """An HTTPS URL: each event POSTed as `application/cloudevents+json`, signed (`signing.py`)."""

    def __init__(self, ref: SinkRef, allow_local_http: bool) -> None:
        assert ref.webhook is not None
        self.ref = ref
        self.hook = ref.webhook
        self.allow_local_http = allow_local_http

    def deliver(self, events: Pending, deadline: float, patience: Patience) -> Outcome:
        with first_use():
            import requests

            from pipelines.events import addresses

        # Read at every delivery: a rotated secret (or a Key Vault reference resolved anew) applies at once.
        secret = os.environ.get(self.hook.secret_setting)
        if not secret:
            return Outcome(error=f"the app setting {self.hook.secret_setting} (the signing secret) is not set")
        if not url_allowed(self.hook.url, allow_local_http=self.allow_local_http):
            return Outcome(error="the webhook's URL is not allowed here (https only)")
        outcome = Outcome()
        with addresses.session(loopback=self.allow_local_http) as session:
            session.headers["User-Agent"] = f"pipelines-events/{__version__}"
            for short, event in events:
                if time.monotonic() > deadline:
                    outcome.complete = False
                    break
                body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
                headers = {"Content-Type": CONTENT_TYPE, **signed_headers(secret, str(event["id"]), body)}
                try:
                    answer = _post(session, patience, self.hook.url, data=body, headers=headers)
                except requests.RequestException as error:
                    refused = _refusal(error)
                    outcome.error = f"{self.ref.label}: {refused}" if refused else (
                        f"{self.ref.label} did not answer ({type(error).__name__})")
                    outcome.timed_out = refused is None and _timed_out(error)
                    break
                if not 200 <= answer.status_code < 300:
                    outcome.error = f"{self.ref.label} answered HTTP {answer.status_code}"
                    break
                outcome.delivered.append(short)
        return outcome


class DevOpsSink:
    """The Azure DevOps job that submitted the run (`pipelines.runs.devops`): at the run's end, one
    `TaskCompleted` job event posted to its plan with the job's token; the other events are not
    its business and count as delivered without a call."""

    RESULTS = {"Pipelines.RunFinished": "succeeded", "Pipelines.RunFailed": "failed",
               "Pipelines.RunCanceled": "canceled"}

    def __init__(self, ref: SinkRef, account: StorageAccount, allow_local_http: bool) -> None:
        assert ref.devops is not None
        self.ref = ref
        self.job = ref.devops
        self.account = account
        self.allow_local_http = allow_local_http

    def deliver(self, events: Pending, deadline: float, patience: Patience) -> Outcome:
        outcome = Outcome()
        for short, event in events:
            result = self.RESULTS.get(str(event.get("type")))
            if result is not None:
                error, outcome.timed_out = self._complete(result, patience)
                if error is not None:
                    outcome.error = f"{self.ref.label}: {error}"
                    break
            outcome.delivered.append(short)
        return outcome

    def _complete(self, result: str, patience: Patience) -> tuple[str | None, bool]:
        """Tell the job the run ended: why not, when it could not be told, and whether the plan
        did not answer in time."""
        with first_use():
            import requests

            from pipelines.events import addresses
            from pipelines.runs.devops import DevOpsTokens

        run = self.ref.run
        token = DevOpsTokens(self.account).read(*run) if run is not None else None
        if not token:
            return "the job's token was not kept (the submit did not finish writing it)", False
        body = {"name": "TaskCompleted", "taskId": self.job.task_instance_id, "jobId": self.job.job_id,
                "result": result}
        basic = base64.b64encode(f":{token}".encode()).decode()
        with addresses.session(loopback=self.allow_local_http) as session:
            session.headers["User-Agent"] = f"pipelines-events/{__version__}"
            try:
                answer = _post(session, patience, self.job.events_url, json=body,
                               headers={"Authorization": f"Basic {basic}"})
            except requests.RequestException as error:
                refused = _refusal(error)
                return refused or f"the plan did not answer ({type(error).__name__})", (
                    refused is None and _timed_out(error))
        if not 200 <= answer.status_code < 300:
            return f"the plan answered HTTP {answer.status_code}", False
        return None, False


def _post(session: requests.Session, patience: Patience, url: str, **kwargs: Any) -> requests.Response:
    """`session.post(url)`, without redirects, waiting `patience` for each part and at most
    `patience.whole` in all: past that, the session's connections are cut, so the call's
    thread ends too, and `requests.Timeout` is raised (the sink may have taken the event)."""
    with first_use():
        import requests

        from pipelines.events import addresses

    call = _calls.submit(session.post, url, timeout=(patience.connect, patience.read), allow_redirects=False,
                         **kwargs)
    try:
        return call.result(timeout=patience.whole)
    except WaitedTooLong:
        if not call.cancel():  # under way: cut it; one not begun never begins
            addresses.abort(session)
        raise requests.Timeout(f"no whole answer within {patience.whole:g} s") from None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and what requests and urllib3 wrap in it: arguments, `reason`, causes, contexts."""
    waiting: list[BaseException] = [error]
    seen: set[int] = set()
    while waiting:
        item = waiting.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        inner = [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
        waiting += [e for e in inner if isinstance(e, BaseException)]


def _timed_out(error: BaseException) -> bool:
    """Whether a call waited its patience out. requests raises `Timeout` when the answer's status
    line and headers are late, but a `ConnectionError` wrapping urllib3's `ReadTimeoutError` when
    its body is: both are a sink that did not answer in time, not one that refused. (Not any of
    urllib3's `TimeoutError`s: its `NewConnectionError`, a refused connection, is one.)"""
    with first_use():
        import requests
        from urllib3.exceptions import ReadTimeoutError

    return any(isinstance(item, requests.Timeout | ReadTimeoutError) for item in _causes(error))


def _refusal(error: BaseException) -> str | None:
    """The reason a webhook's address was refused, if that is what `error` comes from."""
    with first_use():
        from pipelines.events.addresses import AddressRefused

    return next((str(item) for item in _causes(error) if isinstance(item, AddressRefused)), None)


def open_sink(ref: SinkRef, account: StorageAccount) -> Sink:
    settings = account.settings
    if ref.kind == "queue":
        assert settings.events_queue is not None
        return QueueSink(ref, account, settings.events_queue)
    if ref.kind == "eventgrid":
        assert settings.events_topic_endpoint is not None
        return EventGridSink(ref, _topic(account))
    if ref.kind == "devops":
        return DevOpsSink(ref, account, settings.webhooks_allow_local_http)
    return WebhookSink(ref, settings.webhooks_allow_local_http)


_topics: dict[tuple[str, str | None], EventGridTopic] = {}


def _topic(account: StorageAccount) -> EventGridTopic:
    """One client per topic and process: it keeps its token and its connections."""
    settings = account.settings
    assert settings.events_topic_endpoint is not None
    where = (settings.events_topic_endpoint, settings.events_namespace_topic)
    if where not in _topics:
        _topics[where] = EventGridTopic(where[0], where[1], account.app_identity())
    return _topics[where]
