"""The request bodies of pipeline endpoints, read into the catalogue's typed values.

Here the JSON is checked for type and its keys looked up (in any case, as the
routes always have); the catalogue (`pipelines.catalogue.endpoints`) keeps the
rules: the name's pattern, the lengths, the version numbering, the ETag, the
default that is never disabled. A body's keys are those of
`pipelines.api.bodies` (`CreateEndpointRequest`, `UpdateEndpointRequest`,
`PipelineVersionRequest`), which document them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.api.wire_keys import WireObject
from pipelines.catalogue import KEEP, EndpointChange, VersionChange, Webhook
from pipelines.catalogue.endpoint_changes import VERSIONS_RULE
from pipelines.catalogue.endpoints import NAME_RULE, text_rule
from pipelines.catalogue.webhooks import COUNT_RULE, SECRET_RULE, URL_RULE
from pipelines.errors import BadRequestError, PreconditionFailedError
from pipelines.vocabulary import EntityStatus

CREATE_KEYS = ("Name", "Description", "PipelineId", "Properties", "tags", "Webhooks")
UPDATE_KEYS = (
    "Id", "Name", "Description", "DefaultVersion", "PipelineVersionList", "EntityStatus", "Etag", "Properties",
    "tags", "Webhooks",
)
# The keys of an item of PipelineVersionList, and of Webhooks, matched as written (not in any case).
VERSION_KEYS = ("Version", "PipelineId")
WEBHOOK_KEYS = ("Url", "SecretSetting")


@dataclass(frozen=True)
class NewEndpoint:
    """A create body: the endpoint's name, and the published pipeline that becomes its version "0"."""

    name: str
    description: str | None
    pipeline_id: str
    properties: dict[str, str]
    tags: dict[str, str]
    webhooks: tuple[Webhook, ...] = ()


def new_endpoint(body: Mapping[str, Any]) -> NewEndpoint:
    """`POST .../PipelineEndpoints/Create`: keys in any case, the first of a key sent twice."""
    values = WireObject(body, CREATE_KEYS)
    name = _name(values.get("Name"))
    pipeline_id = values.get("PipelineId")
    if not isinstance(pipeline_id, str) or not pipeline_id:
        raise BadRequestError("PipelineId is required", target="PipelineId")
    return NewEndpoint(
        name=name,
        description=_optional_text(values.get("Description"), "Description"),
        pipeline_id=pipeline_id,
        properties=_string_map(values.get("Properties"), "Properties"),
        tags=_string_map(values.get("tags"), "tags"),
        webhooks=_webhooks(values.get("Webhooks")),
    )


def endpoint_change(body: Mapping[str, Any], if_match: str | None) -> EndpointChange:
    """`PUT .../PipelineEndpoints/{id}`, the whole entity: keys in any case, the last of a key sent
    twice. A key absent keeps its value; a null `Description`, `Properties` or `tags` clears it, a
    null `EntityStatus` or `DefaultVersion` keeps it. The `Etag` is the body's or If-Match's;
    both, when they differ, are a 412 (one of them is stale)."""
    values = WireObject(body, UPDATE_KEYS, last_wins=True)
    etag = values.get("Etag")
    if etag is not None and not isinstance(etag, str):
        raise BadRequestError("Etag must be a string: the endpoint's Etag as read", target="Etag")
    if etag and if_match and etag != if_match:
        raise PreconditionFailedError(
            "the body's Etag and the If-Match header differ, so one of them is stale: read the endpoint again",
            target="Etag")
    etag = etag or if_match
    given_id = values.get("Id")
    if given_id is not None and not isinstance(given_id, str):
        raise BadRequestError("Id in the body does not match the path", target="Id")
    status = values.get("EntityStatus")
    default = values.get("DefaultVersion")
    return EndpointChange(
        etag=etag or None,
        id=given_id,
        name=_name(values.get("Name")) if "Name" in values else KEEP,
        description=_optional_text(values.get("Description"), "Description") if "Description" in values else KEEP,
        properties=_string_map(values.get("Properties"), "Properties") if "Properties" in values else KEEP,
        tags=_string_map(values.get("tags"), "tags") if "tags" in values else KEEP,
        status=KEEP if status is None else EntityStatus.parse(status),
        versions=_versions(values.get("PipelineVersionList")) if "PipelineVersionList" in values else KEEP,
        default_version=KEEP if default is None else str(default),
        webhooks=_webhooks(values.get("Webhooks")) if "Webhooks" in values else KEEP,
    )


def _versions(given: Any) -> tuple[VersionChange, ...]:
    if not isinstance(given, list) or not given:
        raise BadRequestError(VERSIONS_RULE, target="PipelineVersionList")
    versions: list[VersionChange] = []
    for index, item in enumerate(given):
        if not isinstance(item, Mapping) or not isinstance(item.get("PipelineId"), str):
            raise BadRequestError("each version needs a PipelineId", target=f"PipelineVersionList[{index}]")
        version = item.get("Version")
        versions.append(VersionChange(None if version in (None, "") else str(version), item["PipelineId"]))
    return tuple(versions)


def _webhooks(given: Any) -> tuple[Webhook, ...]:
    """`Webhooks`: a list of {Url, SecretSetting} (null: none); the catalogue checks the rules."""
    if given is None:
        return ()
    if not isinstance(given, list):
        raise BadRequestError(COUNT_RULE, target="Webhooks")
    hooks: list[Webhook] = []
    for index, item in enumerate(given):
        if not isinstance(item, Mapping):
            raise BadRequestError(COUNT_RULE, target=f"Webhooks[{index}]")
        url, setting = item.get("Url"), item.get("SecretSetting")
        if not isinstance(url, str):
            raise BadRequestError(URL_RULE, target=f"Webhooks[{index}].Url")
        if not isinstance(setting, str):
            raise BadRequestError(SECRET_RULE, target=f"Webhooks[{index}].SecretSetting")
        hooks.append(Webhook(url, setting))
    return tuple(hooks)


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise BadRequestError(NAME_RULE, target="Name")
    return value


def _optional_text(value: Any, target: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise BadRequestError(text_rule(target), target=target)
    return value


def _string_map(value: Any, target: str) -> dict[str, str]:
    """Properties and tags: an object; a value that is not a string is kept as its JSON."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise BadRequestError(f"{target} must be an object of strings", target=target)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
