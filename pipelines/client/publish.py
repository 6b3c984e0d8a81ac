"""Publishing from the author's machine: upload code snapshots, then the definition."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipelines.authoring import Pipeline
from pipelines.authoring.definition import definition_json
from pipelines.client.entities import PipelineEndpoint, PublishedPipeline
from pipelines.client.workspace import ServiceError, Workspace
from pipelines.errors import PipelinesError


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
        "Definition": definition_json(definition),
        "Properties": dict(properties or {}),
    }
    if continue_on_step_failure is not None:
        body["ContinueRunOnStepFailure"] = continue_on_step_failure
    entity = workspace.request("POST", "/Pipelines/Publish", json_body=body).json()
    return PublishedPipeline(workspace, entity)


class PipelineFolderError(PipelinesError):
    """A folder that cannot be published: no pipeline.py, no build(), or build() failed."""


def load_pipeline(folder: str | Path) -> Pipeline:
    """Import `pipeline.py` from a folder and call its `build()`.

    Both run with the folder as the current directory and first on `sys.path`, as if
    `python pipeline.py` were run there: `source_directory="."` is the folder, and the
    file may import its neighbours. Errors name the file and say what is missing.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise PipelineFolderError(f"{folder}: no such folder", target=str(folder))
    path = root / "pipeline.py"
    if not path.is_file():
        raise PipelineFolderError(
            f"{folder}: no pipeline.py (a pipeline folder holds a pipeline.py whose build() returns a Pipeline)",
            target=str(path),
        )
    spec = importlib.util.spec_from_file_location(f"_pipeline_{hashlib.sha256(bytes(path)).hexdigest()[:16]}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with contextlib.chdir(root), _first_on_path(str(root)):
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except PipelinesError:
            raise
        except Exception as exc:
            raise PipelineFolderError(f"{path}: importing it raised {_describe(exc)}", target=str(path)) from exc
        build = getattr(module, "build", None)
        if not callable(build):
            raise PipelineFolderError(f"{path} has no build() function: define build() -> Pipeline",
                                      target=str(path))
        try:
            built = build()
        except PipelinesError:
            raise  # PipelineValidationError and friends say it well already
        except Exception as exc:
            raise PipelineFolderError(f"{path}: build() raised {_describe(exc)}", target=str(path)) from exc
    if not isinstance(built, Pipeline):
        raise PipelineFolderError(
            f"{path}: build() returned {type(built).__name__}, not a pipelines.authoring.Pipeline", target=str(path)
        )
    return built


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def _first_on_path(folder: str) -> Iterator[None]:
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)


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
