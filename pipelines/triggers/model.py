"""Event triggers: which Event Grid events start which pipeline, with what values.

A trigger belongs to a workspace and names its target (a published pipeline, or
an endpoint by id or name and optionally a version), the events it matches
(event types, subject prefix and suffix) and the submit request to make, whose
string values may hold placeholders filled from the event:

    {id} {eventType} {subject} {topic} {eventTime} {data.<key>} ({data.a.b} nests)
    {blobContainer} {blobPath} {blobName}   (from a Blob Storage subject)
    {datastorePath}   the blob's path as its datastore sees it

Files of `workspaceblobstore` live in a folder per workspace
(`workspaceblobstore/{workspace}/...`): `{datastorePath}` is the path below that
folder, so `"RelativePath": "{datastorePath}"` points a datapath at the blob that
just landed. For a blob elsewhere it is `{blobPath}`.

What a placeholder can fill (checked when the trigger is written): any text, so a
string parameter takes any placeholder anywhere in its value; an int, float or
bool parameter only a value that is one whole `{data.<key>}` placeholder, since
only the event's data holds numbers and booleans (its JSON value is passed as it
is: `{"contentLength": 12}` fills an int; `"12"` would too, as a submit takes it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.errors import BadRequestError, ErrorDetail
from pipelines.runs.request import SubmitRequest, map_texts, texts
from pipelines.runs.template import Author, Firings, RunTemplate
from pipelines.vocabulary import EntityStatus

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\Z")
_PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_.]*)\}")
_BLOB_SUBJECT = re.compile(r"^/blobServices/default/containers/(?P<container>[^/]+)/blobs/(?P<path>.+)$")
_FIXED = {"id", "eventType", "subject", "topic", "eventTime", "blobContainer", "blobPath", "blobName", "datastorePath"}
MAX_EVENT_TYPES = 20


@dataclass
class Trigger:
    workspace: str
    name: str
    description: str | None = None
    template: RunTemplate = field(default_factory=RunTemplate)  # its request holds placeholders
    event_types: list[str] = field(default_factory=list)
    subject_begins_with: str | None = None
    subject_ends_with: str | None = None
    status: EntityStatus = EntityStatus.ACTIVE
    firings: Firings = field(default_factory=Firings)
    created: datetime | None = None
    modified: datetime | None = None
    created_by: Author | None = None  # who wrote it first, and last (None: before authors were kept)
    modified_by: Author | None = None
    etag: str | None = None

    def matches(self, event: Event) -> bool:
        if self.status is not EntityStatus.ACTIVE:
            return False
        if self.event_types and event.event_type.lower() not in {t.lower() for t in self.event_types}:
            return False
        if self.subject_begins_with and not event.subject.startswith(self.subject_begins_with):
            return False
        return not self.subject_ends_with or event.subject.endswith(self.subject_ends_with)


@dataclass(frozen=True)
class Event:
    """An Event Grid event, as the trigger hands it over (either schema)."""

    id: str
    event_type: str
    subject: str
    topic: str | None
    event_time: str | None
    data: Any

    def values(self, scope: tuple[str, str] | None = None) -> dict[str, str]:
        """The event's placeholder values; `scope` is (the workspaceblobstore container, the workspace)."""
        found = {
            "id": self.id, "eventType": self.event_type, "subject": self.subject,
            "topic": self.topic or "", "eventTime": self.event_time or "",
        }
        blob = _BLOB_SUBJECT.match(self.subject)
        if blob:
            path = blob.group("path")
            found.update(blobContainer=blob.group("container"), blobPath=path, blobName=path.rsplit("/", 1)[-1])
            found["datastorePath"] = path
            if scope is not None and blob.group("container") == scope[0] and path.startswith(scope[1] + "/"):
                found["datastorePath"] = path[len(scope[1]) + 1 :]
        return found


class TemplateError(BadRequestError):
    """The event cannot fill a placeholder of the trigger's request."""

    code = "PlaceholderNotFilled"


class Placeholders:
    """The `Blanks` of an event trigger's request: `{name}` placeholders."""

    def holes(self, text: str) -> list[str]:
        return _PLACEHOLDER.findall(text)

    def whole_scalar(self, text: str) -> bool:
        whole = _PLACEHOLDER.fullmatch(text)
        return whole is not None and whole.group(1).startswith("data.")

    def sample(self, text: str) -> str:
        return _PLACEHOLDER.sub("x", text)


PLACEHOLDERS = Placeholders()


def fill(request: SubmitRequest, event: Event, scope: tuple[str, str] | None = None) -> SubmitRequest:
    """The request with every placeholder replaced by the event's value. A parameter
    whose whole value is one `{data.<key>}` gets the event's JSON value (a number stays
    a number); every other placeholder becomes text."""
    values = event.values(scope)

    def text(target: str, template: str) -> str:
        return _PLACEHOLDER.sub(lambda m: _text(_lookup(m.group(1), event, values, target)), template)

    def parameter(target: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        whole = _PLACEHOLDER.fullmatch(value)
        if whole is not None and whole.group(1).startswith("data."):
            found = _lookup(whole.group(1), event, values, target)
            if isinstance(found, (bool, int, float)):
                return found
        return text(target, value)

    return map_texts(request, text, parameter)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _lookup(name: str, event: Event, values: Mapping[str, str], target: str) -> Any:
    where = f"Request.{target}"
    if name.startswith("data."):
        value: Any = event.data
        for part in name[5:].split("."):
            if not isinstance(value, Mapping) or part not in value:
                raise TemplateError(f"the event has no {name} (for {where})", target=where)
            value = value[part]
        if isinstance(value, (dict, list)):
            raise TemplateError(f"{name} is not a single value (for {where})", target=where)
        return value
    if name not in values:
        raise TemplateError(f"the event has no {name} (not a Blob Storage event?) (for {where})",
                            target=where)
    return values[name]


def placeholder_problems(request: SubmitRequest) -> list[ErrorDetail]:
    """Placeholders no event can fill, each named (refused at registration)."""
    return [
        ErrorDetail("UserError", f"unknown placeholder {{{name}}}", f"Request.{target}")
        for target, text in texts(request)
        for name in _PLACEHOLDER.findall(text)
        if name not in _FIXED and not name.startswith("data.")
    ]

