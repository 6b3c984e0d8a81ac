"""SDK v1's `Experiment`: the runs submitted under one name, and submitting more.

    experiment = Experiment(workspace, "forecast")
    for run in experiment.get_runs():                     # pipeline runs, newest first
        print(run.id, run.get_status())
    experiment.submit(published_pipeline, pipeline_parameters={"n": 3})
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pipelines.authoring import Pipeline
from pipelines.client.entities import PipelineEndpoint, PublishedPipeline
from pipelines.client.history import HistoryRun, paginated
from pipelines.client.workspace import Workspace
from pipelines.errors import PipelinesError


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Experiment:
    """An experiment: the name runs are submitted under (`ExperimentName`)."""

    workspace: Workspace
    name: str
    _dto: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def id(self) -> str:
        return str(self._get()["experimentId"])

    def _get(self) -> dict[str, Any]:
        if not self._dto:
            url = f"{self.workspace.history_url}/experiments/{quote(self.name)}"
            self._dto = self.workspace.request("GET", url).json()
        return self._dto

    @classmethod
    def list(cls, workspace: Workspace, view_type: str = "ActiveOnly") -> list[Experiment]:
        """The experiments of the workspace: the active ones, or `view_type` "ArchivedOnly" or "All"."""
        items = paginated(workspace, "GET", f"{workspace.history_url}/experiments", params={"viewType": view_type})
        return [cls(workspace, item["name"], item) for item in items]

    # -- what SDK v1 changed on an experiment: archive, reactivate, tags -----------------------------
    @property
    def archived_time(self) -> str | None:
        return self._get().get("archivedTime")

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._get().get("tags") or {})

    def archive(self) -> None:
        """Listed as archived only (`Experiment.list(ws, view_type="ArchivedOnly")`); it takes runs as before."""
        self._patch({"archive": True})

    def reactivate(self) -> None:
        self._patch({"archive": False})

    def tag(self, key: str, value: str | None = None) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, str | None]) -> None:
        self._patch({"tags": dict(tags)})

    def remove_tags(self, tags: Iterable[str]) -> None:
        self.workspace.request("POST", self._by_id() + "/tags:delete", json_body={"tags": list(tags)})
        self._dto = {}

    def _patch(self, body: dict[str, Any]) -> None:
        self._dto = self.workspace.request("PATCH", self._by_id(), json_body=body).json()

    def _by_id(self) -> str:
        return f"{self.workspace.history_url}/experimentids/{quote(self.id)}"

    def submit(self, config: Any, tags: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
        """SDK v1's `experiment.submit(published_pipeline_or_endpoint, pipeline_parameters=...)`.

        A `PublishedPipeline` or a `PipelineEndpoint` starts a run in this experiment. A
        `Pipeline` that is not published is refused: runs here are of published pipelines.
        """
        if isinstance(config, Pipeline):
            raise PipelinesError(
                "experiment.submit(pipeline): only published pipelines run here; publish it first"
                " (pipeline.publish(name=...)) and submit that", target="config")
        if not isinstance(config, (PublishedPipeline, PipelineEndpoint)):
            raise PipelinesError(f"experiment.submit() takes a PublishedPipeline or a PipelineEndpoint, not"
                                 f" {type(config).__name__}", target="config")
        options: dict[str, Any] = {
            key: kwargs[key] for key in ("parent_run_id", "continue_on_step_failure") if key in kwargs
        }
        if tags:
            options["tags"] = dict(tags)
        return config.submit(self.name, kwargs.get("pipeline_parameters"), **options)

    def get_runs(self, type: str | None = None, tags: Mapping[str, str] | None = None,
                 status: str | None = None, include_children: bool = False,
                 filter: str | None = None) -> Iterator[HistoryRun]:
        """The experiment's runs, newest first: pipeline runs, and with `include_children`
        their step runs too; `type`, `tags` and `status` narrow them as in SDK v1."""
        terms: list[str] = []
        if type:
            terms.append(f"(RunType eq {type})")
        for key, value in (tags or {}).items():
            terms.append(f"(Tags/{key} eq {_quoted(value)})")
        if status:
            terms.append(f"(Status eq {status})")
        if not include_children:
            terms.append("(ParentRunId eq null)")
        if filter:
            terms.append(f"({filter})")
        body = {"filter": " and ".join(terms) or None, "orderby": "StartTimeUtc desc", "top": 500}
        url = f"{self.workspace.history_url}/experiments/{quote(self.name)}/runs:query"
        for dto in paginated(self.workspace, "POST", url, body={k: v for k, v in body.items() if v is not None}):
            yield HistoryRun.of(self.workspace, dto)
