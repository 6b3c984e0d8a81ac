"""Publishing from the author's machine: upload code snapshots, then the definition."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from pipelines.authoring import Pipeline
from pipelines.client.entities import PipelineEndpoint, PublishedPipeline
from pipelines.client.workspace import ServiceError, Workspace


def publish(
    workspace: Workspace,
    pipeline: Pipeline,
    name: str,
    description: str | None = None,
    version: str | None = None,
    continue_on_step_failure: bool | None = None,
    properties: dict[str, str] | None = None,
) -> PublishedPipeline:
    """Upload each distinct code snapshot once (content-addressed), then publish."""
    definition, snapshots = pipeline.bundle()  # one build: hashes match the files sent
    for digest, data in snapshots.items():
        workspace.request("PUT", f"/Snapshots/{digest}", data=data, headers={"Content-Type": "application/zip"})
    body: dict[str, Any] = {
        "Name": name,
        "Description": description,
        "Version": version,
        "Definition": definition.model_dump(mode="json"),
        "Properties": dict(properties or {}),
    }
    if continue_on_step_failure is not None:
        body["ContinueRunOnStepFailure"] = continue_on_step_failure
    entity = workspace.request("POST", "/Pipelines/Publish", json_body=body).json()
    return PublishedPipeline(workspace, entity)


def load_pipeline(folder: str | Path) -> Pipeline:
    """Import `pipeline.py` from a folder and call its `build()`."""
    path = Path(folder).resolve() / "pipeline.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: a pipeline folder holds a pipeline.py with build()")
    spec = importlib.util.spec_from_file_location(f"_pipeline_{abs(hash(str(path)))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    built = module.build()
    if not isinstance(built, Pipeline):
        raise TypeError(f"{path}: build() must return a pipelines.authoring.Pipeline")
    return built


def publish_folder(
    workspace: Workspace,
    folder: str | Path,
    *,
    name: str,
    version: str | None = None,
    description: str | None = None,
    endpoint: str | None = None,
) -> tuple[PublishedPipeline, PipelineEndpoint | None]:
    """Publish a pipeline folder and, with `endpoint`, put it behind that endpoint as its default."""
    pipeline = load_pipeline(folder)
    published = publish(workspace, pipeline, name, description, version)
    if endpoint is None:
        return published, None
    try:
        front = PipelineEndpoint.get(workspace, name=endpoint)
    except ServiceError as error:
        if error.status != 404:
            raise
        return published, PipelineEndpoint.publish(workspace, endpoint, description, published)
    front.add_default(published)
    return published, front
