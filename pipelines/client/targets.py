"""Compute targets (issue 16): where published steps run, named as SDK v1 names its compute.

`ws.compute_targets` is SDK v1's dict of name to target; `ComputeTarget(ws, name)` reads one
(404: `ServiceError`), `ComputeTarget.create_or_update(ws, name, ...)` writes one (role
Pipelines.Admin), `target.delete()` deletes it (409 while enabled pipelines use it). A step names
its target with `PythonScriptStep(compute_target="name")` or an object with a `.name`, as this is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.client.workspace import Workspace


class ComputeTarget:
    """A compute target of the service, as the `ComputeTargets` routes answer it."""

    def __init__(self, workspace: Workspace, name: str, _entity: Mapping[str, Any] | None = None) -> None:
        self.workspace = workspace
        self._entity = dict(_entity) if _entity is not None else workspace.get_json(f"/ComputeTargets/{name}")

    @property
    def name(self) -> str:
        return str(self._entity["Name"])

    @property
    def queue(self) -> str:
        return str(self._entity["Queue"])

    @property
    def description(self) -> str | None:
        return self._entity.get("Description")

    @property
    def image(self) -> str:
        return str(self._entity.get("Image") or "")

    @property
    def packages(self) -> list[str]:
        return list(self._entity.get("Packages") or [])

    @property
    def runs_on(self) -> str | None:
        return self._entity.get("RunsOn")

    @property
    def built_in(self) -> bool:
        return bool(self._entity.get("BuiltIn"))

    def serialize(self) -> dict[str, Any]:
        """The target as the service answered it (PascalCase keys)."""
        return dict(self._entity)

    @classmethod
    def list(cls, workspace: Workspace) -> list[ComputeTarget]:
        return [cls(workspace, entity["Name"], entity) for entity in workspace.get_json("/ComputeTargets")]

    @classmethod
    def create_or_update(
        cls,
        workspace: Workspace,
        name: str,
        *,
        description: str | None = None,
        queue: str | None = None,
        image: str = "",
        packages: Sequence[str] = (),
        max_concurrent_steps: int | None = None,
        max_step_timeout_seconds: int | None = None,
        runs_on: str | None = None,
    ) -> ComputeTarget:
        """Create or replace the target `name`; `runs_on="app"` makes it an alias of the app."""
        body: dict[str, Any] = {"Description": description}
        if runs_on is not None:
            body["RunsOn"] = runs_on
        else:
            body.update({"Image": image, "Packages": list(packages)})
            optional = {"Queue": queue, "MaxConcurrentSteps": max_concurrent_steps,
                        "MaxStepTimeoutSeconds": max_step_timeout_seconds}
            body.update({key: value for key, value in optional.items() if value is not None})
        entity = workspace.request("PUT", f"/ComputeTargets/{name}", json_body=body).json()
        return cls(workspace, name, entity)

    def delete(self) -> None:
        self.workspace.request("DELETE", f"/ComputeTargets/{self.name}")

    def __repr__(self) -> str:
        return f"ComputeTarget(name={self.name!r}, queue={self.queue!r})"
