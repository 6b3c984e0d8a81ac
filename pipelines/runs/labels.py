"""What a caller may change on a pipeline run after it started: its tags, its display name and
description, and properties it adds (SDK v1's `run.tag()`, `set_tags()`, `remove_tags()`,
`add_properties()`, `display_name = ...`).

Tags are mutable; properties are a record: a key that is there keeps its value (setting the
same value again is allowed, another is a 409), and the keys the service writes itself
(`azureml.*`, `runSource`, `runType`, `rerunOf`) cannot be added. A tag without a value
(`run.tag("DeploymentCandidate")`) is kept as the empty string. Step runs have none of their
own: their tags and properties are their pipeline run's.

The change is made on the run row alone, conditional on its ETag (`RunRepository.relabel`):
a worker moving the run on meanwhile makes it read the row again, never loses its change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipelines.errors import BadRequestError, ConflictError, ErrorDetail
from pipelines.runs.history import pipeline_record, split_run_id
from pipelines.runs.model import Run
from pipelines.runs.repository import RunRepository
from pipelines.runs.request import refuse
from pipelines.store import StorageAccount
from pipelines.text import MAX_TAGS, MAX_TAGS_STORED, stored_json_length

# Properties the service writes (`pipelines.runs.history.pipeline_record`): not a caller's to add.
RESERVED_PREFIX = "azureml."
RESERVED = ("runSource", "runType", "rerunOf")


@dataclass(frozen=True)
class Labels:
    """A patch: tags to set, properties to add, and the texts to replace (None: unchanged)."""

    tags: Mapping[str, str | None] | None = None
    properties: Mapping[str, str | None] | None = None
    display_name: str | None = None
    description: str | None = None


class RunLabels:
    def __init__(self, account: StorageAccount) -> None:
        self.repository = RunRepository(account)

    def patch(self, workspace: str, run_id: str, labels: Labels) -> Run:
        """Apply `labels` to the pipeline run `run_id`; the run as stored after it."""

        def change(run: Run) -> None:
            shown = pipeline_record(run).properties  # the service's own and the run's
            problems: list[ErrorDetail] = []
            for key, value in (labels.properties or {}).items():
                given = value or ""
                if key in shown and shown[key] != given:
                    raise ConflictError(f"property {key!r} is set ({shown[key]!r}): properties cannot change,"
                                        " tags can", target=f"properties.{key}")
                if key not in shown and (key.startswith(RESERVED_PREFIX) or key in RESERVED):
                    problems.append(ErrorDetail("UserError", f"property {key!r} is the service's to write",
                                                f"properties.{key}"))
            tags = {**run.tags, **{key: value or "" for key, value in (labels.tags or {}).items()}}
            properties = {**run.properties, **{key: value or "" for key, value in (labels.properties or {}).items()}}
            problems += grown_problems("tags", run.tags, tags)
            problems += grown_problems("properties", run.properties, properties)
            if problems:
                raise refuse(problems)
            run.tags, run.properties = tags, properties
            if labels.display_name is not None:
                run.display_name = labels.display_name
            if labels.description is not None:
                run.description = labels.description

        return self.repository.relabel(workspace, _pipeline_run(run_id), change)

    def remove_tags(self, workspace: str, run_id: str, keys: Iterable[str]) -> Run:
        """Remove the tags `keys` (those it does not have are no matter); the run after it."""
        gone = set(keys)

        def change(run: Run) -> None:
            run.tags = {key: value for key, value in run.tags.items() if key not in gone}

        return self.repository.relabel(workspace, _pipeline_run(run_id), change)


def grown_problems(name: str, before: Mapping[str, str], after: Mapping[str, str]) -> list[ErrorDetail]:
    """A map the change makes larger than a run holds (Azure ML's count, one Table property);
    one that was that large already, as a submit may have made it, can still shrink or change."""
    if len(after) > MAX_TAGS and len(after) > len(before):
        return [ErrorDetail("UserError", f"a run holds at most {MAX_TAGS} {name} (Azure ML's limit)", name)]
    stored = stored_json_length(after)
    if stored > MAX_TAGS_STORED and stored > stored_json_length(before):
        return [ErrorDetail("UserError", f"a run's {name} take at most {MAX_TAGS_STORED:,} characters as JSON"
                            " (one Table storage property)", name)]
    return []


def _pipeline_run(run_id: str) -> str:
    pipeline_run_id, node_id = split_run_id(run_id)
    if node_id is not None:
        raise BadRequestError(f"a step run has no tags or properties of its own: change its pipeline run's"
                              f" ({pipeline_run_id})", target="runId")
    return pipeline_run_id
