"""A run to start later: its target and its submit body. What event triggers and
schedules keep, and how they start a run when their moment comes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.auth.permissions import Principal
from pipelines.errors import BadRequestError
from pipelines.runs.model import Run
from pipelines.runs.request import parse_submit
from pipelines.runs.service import RunService, Target, request_fingerprint
from pipelines.store.codec import json_text, parse_json
from pipelines.text import pick

_MAX_TEXT = 1024


def optional_text(body: Mapping[str, Any], name: str) -> str | None:
    value = pick(body, name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise BadRequestError(f"{name} must be a string of {_MAX_TEXT} characters at most", target=name)
    return value


@dataclass
class RunTemplate:
    """One of `pipeline_id`, `endpoint_id`, `endpoint_name` (with an optional version),
    and the submit body of docs/contract.md §2 to send."""

    pipeline_id: str | None = None
    endpoint_id: str | None = None
    endpoint_name: str | None = None
    pipeline_version: str | None = None
    request: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> RunTemplate:
        template = cls(
            pipeline_id=optional_text(body, "PipelineId"),
            endpoint_id=optional_text(body, "PipelineEndpointId"),
            endpoint_name=optional_text(body, "PipelineEndpointName"),
            pipeline_version=optional_text(body, "PipelineVersion"),
        )
        targets = [t for t in (template.pipeline_id, template.endpoint_id, template.endpoint_name) if t]
        if len(targets) != 1:
            raise BadRequestError(
                "give exactly one of PipelineId, PipelineEndpointId, PipelineEndpointName", target="PipelineId"
            )
        if template.pipeline_version and template.pipeline_id:
            raise BadRequestError("PipelineVersion goes with an endpoint", target="PipelineVersion")
        request = pick(body, "Request") or {}
        if not isinstance(request, Mapping):
            raise BadRequestError("Request must be the submit body to send, an object", target="Request")
        parse_submit(request)  # its shape now, not when the moment comes
        template.request = dict(request)
        return template

    def target(self, runs: RunService, workspace: str) -> Target:
        """What the template runs now: 404 unknown, 409 disabled, as a submit would say."""
        if self.pipeline_id:
            return runs.pipeline_target(workspace, self.pipeline_id)
        return runs.endpoint_target(
            workspace, endpoint_id=self.endpoint_id, name=self.endpoint_name, version=self.pipeline_version
        )

    def start(
        self,
        runs: RunService,
        workspace: str,
        body: Mapping[str, Any],
        *,
        principal: Principal,
        run_source: str,
        idempotency_key: str,
        schedule_id: str | None = None,
    ) -> Run:
        """Submit `body` (this template's request, filled in) once per `idempotency_key`."""
        request = parse_submit(body)
        request.run_source = request.run_source or run_source
        request.schedule_id = request.schedule_id or schedule_id
        return runs.submit(
            workspace, self.target(runs, workspace), request, principal=principal,
            idempotency_key=idempotency_key,
            fingerprint=request_fingerprint(run_source, idempotency_key, json_text(body).encode()),
        )

    # -- storage and wire -------------------------------------------------------------------------------
    def entity_fields(self) -> dict[str, Any]:
        return {
            "PipelineId": self.pipeline_id,
            "EndpointId": self.endpoint_id,
            "EndpointName": self.endpoint_name,
            "PipelineVersion": self.pipeline_version,
            "Request": json_text(self.request),
        }

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any]) -> RunTemplate:
        return cls(
            pipeline_id=entity.get("PipelineId"),
            endpoint_id=entity.get("EndpointId"),
            endpoint_name=entity.get("EndpointName"),
            pipeline_version=entity.get("PipelineVersion"),
            request=parse_json(entity.get("Request"), {}),
        )

    def wire(self) -> dict[str, Any]:
        return {
            "PipelineId": self.pipeline_id,
            "PipelineEndpointId": self.endpoint_id,
            "PipelineEndpointName": self.endpoint_name,
            "PipelineVersion": self.pipeline_version,
            "Request": self.request,
        }
