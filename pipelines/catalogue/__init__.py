"""The catalogue: published pipelines and the endpoints in front of them."""

from __future__ import annotations

from pipelines.catalogue.endpoints import Endpoint, Endpoints, Version
from pipelines.catalogue.published import PublishedPipeline, PublishedPipelines, StoredSnapshot

__all__ = ["Endpoint", "Endpoints", "PublishedPipeline", "PublishedPipelines", "StoredSnapshot", "Version"]
