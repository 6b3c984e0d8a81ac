"""What a caller changes of a pipeline endpoint, as typed values, and the rules of its version list.

`EndpointChange` is an update (`Endpoints.update`): each field holds the new
value or `KEEP`, since an absent field is not a null one (a null `Description`
clears it). The wire body becomes one in `pipelines.api.endpoint_requests`.

Versions are whole numbers as text ("0", "1", ...), each one a published
pipeline for good: a changed list (`VersionChange`s, as `Endpoints.update`
takes them) keeps every existing version with its pipeline (a version is
retired by disabling its pipeline, not by leaving it out, so a number that
callers pin never comes back naming another pipeline), numbers a new version
the highest number plus one (a version it names must be that number, written
as such: SDK v1's `PipelineEndpoint.add` sends the number it computed so), and
holds each pipeline once. A pipeline new to the endpoint must exist (404).

Targets name the list's entries as the wire does (`PipelineVersionList[i]`):
the caller's list, in its order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from pipelines.catalogue.webhooks import Webhook
from pipelines.errors import BadRequestError
from pipelines.text import whole_number
from pipelines.vocabulary import EntityStatus

VERSIONS_RULE = "PipelineVersionList must be a non-empty list"


@dataclass(frozen=True)
class Version:
    version: str
    pipeline_id: str


@dataclass(frozen=True)
class VersionChange:
    """One entry of a new version list: `version` None is the next number."""

    version: str | None
    pipeline_id: str


class Keep(Enum):
    """The value of an `EndpointChange` field the change leaves as it is."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


@dataclass(frozen=True)
class EndpointChange:
    """What an update changes of an endpoint; a field that is `KEEP` keeps its value.

    `etag` is the one the caller read (the write is refused when the endpoint
    changed since); None: last writer wins. `id`, when given, must be the
    endpoint's. `description` None clears it. `default_version` must be a
    version of the resulting list.
    """

    etag: str | None = None
    id: str | None = None
    name: str | Keep = KEEP
    description: str | None | Keep = KEEP
    properties: Mapping[str, str] | Keep = KEEP
    tags: Mapping[str, str] | Keep = KEEP
    status: EntityStatus | Keep = KEEP
    versions: tuple[VersionChange, ...] | Keep = KEEP
    default_version: str | Keep = KEEP
    webhooks: tuple[Webhook, ...] | Keep = KEEP


def next_version(versions: Sequence[Version]) -> str:
    numbers = [n for n in (whole_number(v.version) for v in versions) if n is not None]
    return str(max(numbers) + 1 if numbers else 0)


def merge_versions(
    current: list[Version], given: Sequence[VersionChange], check_pipeline: Callable[[str], object]
) -> list[Version]:
    """The endpoint's new version list; `check_pipeline(id)` raises for a pipeline that does not exist."""
    if not given:
        raise BadRequestError(VERSIONS_RULE, target="PipelineVersionList")
    existing = {v.version: v for v in current}
    merged: list[Version] = []
    seen_pipelines: set[str] = set()
    for index, item in enumerate(given):
        target = f"PipelineVersionList[{index}]"
        pipeline_id = item.pipeline_id
        following = next_version(current + merged)
        version = following if item.version is None else item.version
        if version not in existing:
            if version != following:
                number = whole_number(version)
                written = "" if number is None or str(number) == version else f" (written {str(number)!r})"
                raise BadRequestError(
                    f"version {version!r} is not the next version of this endpoint{written}: a new version is"
                    f" the highest number plus one, {following!r}; leave Version out to be given it",
                    target=target,
                )
        elif existing[version].pipeline_id != pipeline_id:
            raise BadRequestError(
                f"version {version!r} already points to pipeline {existing[version].pipeline_id!r};"
                " a new pipeline is a new version",
                target=target,
            )
        if any(v.version == version for v in merged):
            raise BadRequestError(f"version {version!r} appears twice", target=target)
        if pipeline_id in seen_pipelines:
            raise BadRequestError(f"pipeline {pipeline_id!r} appears twice", target=target)
        if version not in existing:
            check_pipeline(pipeline_id)  # 404 when unknown
        seen_pipelines.add(pipeline_id)
        merged.append(Version(version, pipeline_id))
    kept = {v.version for v in merged}
    for left_out in current:
        if left_out.version not in kept:
            raise BadRequestError(
                f"version {left_out.version!r} (pipeline {left_out.pipeline_id!r}) is missing: an endpoint keeps"
                " every version for good, so that a version callers pin never names another pipeline;"
                " to retire it, disable its pipeline (PUT .../Pipelines/{id}/status \"Disabled\")",
                target="PipelineVersionList",
            )
    return merged
