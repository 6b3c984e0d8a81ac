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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.errors import BadRequestError
from pipelines.runs.template import RunTemplate
from pipelines.vocabulary import EntityStatus

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
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
    created: datetime | None = None
    modified: datetime | None = None
    etag: str | None = None

    def matches(self, event: Event) -> bool:
        if self.status is not EntityStatus.ACTIVE:
            return False
        if self.event_types and event.event_type.lower() not in {t.lower() for t in self.event_types}:
            return False
        if self.subject_begins_with and not event.subject.startswith(self.subject_begins_with):
            return False
        if self.subject_ends_with and not event.subject.endswith(self.subject_ends_with):
            return False
        return True


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


class TemplateError(ValueError):
    pass


def fill(template: Any, event: Event, scope: tuple[str, str] | None = None) -> Any:
    """The submit body with every placeholder replaced by the event's value."""
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda m: _lookup(m.group(1), event, scope), template)
    if isinstance(template, list):
        return [fill(item, event, scope) for item in template]
    if isinstance(template, Mapping):
        return {key: fill(value, event, scope) for key, value in template.items()}
    return template


def _lookup(name: str, event: Event, scope: tuple[str, str] | None) -> str:
    if name.startswith("data."):
        value: Any = event.data
        for part in name[5:].split("."):
            if not isinstance(value, Mapping) or part not in value:
                raise TemplateError(f"the event has no {name}")
            value = value[part]
        if isinstance(value, (dict, list)):
            raise TemplateError(f"{name} is not a single value")
        return "" if value is None else str(value)
    values = event.values(scope)
    if name not in values:
        raise TemplateError(f"the event has no {name} (not a Blob Storage event?)")
    return values[name]


def check_placeholders(template: Any, *, target: str) -> None:
    """Refuse, at registration, placeholders no event can fill."""
    if isinstance(template, str):
        for name in _PLACEHOLDER.findall(template):
            if name not in _FIXED and not name.startswith("data."):
                raise BadRequestError(f"unknown placeholder {{{name}}}", target=target)
    elif isinstance(template, list):
        for index, item in enumerate(template):
            check_placeholders(item, target=f"{target}[{index}]")
    elif isinstance(template, Mapping):
        for key, value in template.items():
            check_placeholders(value, target=f"{target}.{key}")
