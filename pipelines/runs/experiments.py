"""Experiments: the names runs are submitted under (`ExperimentName`), as the
run-history service lists them.

An experiment exists once a run is submitted to it. Table `Experiments` holds one
row per experiment (PartitionKey the workspace, RowKey a digest of the name, so
any name is a valid key); a submit writes it only the first time this process
sees the name (insert-if-absent, remembered in memory), so a busy experiment
costs no write per run. The experiment's runs are indexed newest first in
`RunIndex` (`{workspace}|experiment|{digest}`), written with the run; its last
run's time is read from there (one row), not kept up to date on every submit.

What a caller changes (`update`, SDK v1's `experiment.archive()`, `reactivate()`,
`set_tags()`): `Archived` (when it was archived; archived experiments are listed by
`viewType` ArchivedOnly or All, and take runs as before), `Description` and `Tags`.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pipelines.errors import AlreadyExistsError, EtagMismatchError, NotFoundError
from pipelines.runs.history import ABSENT, experiment_id
from pipelines.store import StorageAccount, Table, etag_of, key
from pipelines.store.codec import json_text, parse_json, parse_time, time_text
from pipelines.text import experiment_name_problem as experiment_name_problem  # its rule lives with the others
from pipelines.vocabulary import now

MAX_TRIES = 20  # conditional writes of one row before giving up
_seen: set[tuple[str, str, str]] = set()
_seen_lock = threading.Lock()


def default_experiment_name(pipeline_name: str | None) -> str:
    """A valid experiment name from a published pipeline's name (which may hold spaces)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", pipeline_name or "")[:255]
    if not cleaned or not cleaned[0].isalnum():
        cleaned = ("pipeline_" + cleaned)[:255] if cleaned else "pipeline-runs"
    return cleaned


def name_digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


def experiment_partition(workspace: str, name: str) -> str:
    """The `RunIndex` partition of an experiment's runs, newest first."""
    return key(workspace, "experiment", name_digest(name))


@dataclass
class Experiment:
    id: str
    name: str
    workspace: str
    created: datetime | None
    last_run: datetime | None = None
    archived: datetime | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def filter_value(self, field: str, key: str | None) -> object:
        """What an experiments query filters on (`name eq X`, `tags/team eq 'x'`)."""
        if field == "Tags":
            return self.tags.get(key or "", ABSENT)
        return {"Name": self.name, "ExperimentId": self.id, "CreatedUtc": self.created}.get(field)


class Experiments:
    def __init__(self, account: StorageAccount) -> None:
        self.table = Table(account.table("Experiments"))
        self.index = Table(account.table("RunIndex"))

    def note(self, workspace: str, name: str, when: datetime) -> None:
        """Make sure the experiment exists (a submit calls this; cheap after the first)."""
        seen = (self.table.client.table_name, workspace, name)
        if seen in _seen:
            return
        with contextlib.suppress(AlreadyExistsError):
            self.table.insert(
                {
                    "PartitionKey": workspace,
                    "RowKey": name_digest(name),
                    "Name": name,
                    "ExperimentId": experiment_id(workspace, name),
                    "Created": time_text(when),
                }
            )
        with _seen_lock:
            _seen.add(seen)

    def get(self, workspace: str, name: str) -> Experiment:
        entity = self.table.get(workspace, name_digest(name))
        if entity is None:
            raise NotFoundError(f"experiment {name!r} was not found", target=name)
        experiment = self._decode(workspace, entity)
        experiment.last_run = self.last_run(workspace, name)
        return experiment

    def by_id(self, workspace: str, experiment_id: str) -> Experiment:
        rows = self.table.query_all(
            "PartitionKey eq @pk and ExperimentId eq @id", parameters={"pk": workspace, "id": experiment_id}
        )
        if not rows:
            raise NotFoundError(f"experiment {experiment_id!r} was not found", target=experiment_id)
        experiment = self._decode(workspace, rows[0])
        experiment.last_run = self.last_run(workspace, experiment.name)
        return experiment

    def list(self, workspace: str) -> list[Experiment]:
        """Every experiment of the workspace, by name, each with its last run's time."""
        rows = self.table.query_all("PartitionKey eq @pk", parameters={"pk": workspace})
        found = sorted((self._decode(workspace, row) for row in rows), key=lambda e: e.name)
        for experiment in found:
            experiment.last_run = self.last_run(workspace, experiment.name)
        return found

    def update(self, experiment: Experiment, *, archive: bool | None = None, description: str | None = None,
               tags: Mapping[str, str] | None = None) -> Experiment:
        """Archive it (True) or reactivate it (False), replace its description, set tags; the
        experiment after it."""

        def change(current: Experiment) -> dict[str, object]:
            columns: dict[str, object] = {}
            if archive is False:
                columns["Archived"] = ""
            elif archive and current.archived is None:
                columns["Archived"] = time_text(now())
            if description is not None:
                columns["Description"] = description
            if tags:
                columns["Tags"] = json_text({**current.tags, **tags})
            return columns

        return self._change(experiment, change)

    def remove_tags(self, experiment: Experiment, keys: Iterable[str]) -> Experiment:
        """Remove the tags `keys` (those it does not have are no matter); the experiment after it."""
        gone = set(keys)

        def change(current: Experiment) -> dict[str, object]:
            if not gone & set(current.tags):
                return {}
            return {"Tags": json_text({key: value for key, value in current.tags.items() if key not in gone})}

        return self._change(experiment, change)

    def _change(self, experiment: Experiment, change: Callable[[Experiment], dict[str, object]]) -> Experiment:
        """Merge the columns `change` makes of the row as stored, conditional on its ETag, until it
        commits: two callers tagging it at once each keep their tags."""
        row = name_digest(experiment.name)
        for attempt in range(MAX_TRIES):
            entity = self.table.get(experiment.workspace, row)
            if entity is None:
                raise NotFoundError(f"experiment {experiment.name!r} was not found", target=experiment.name)
            columns = change(self._decode(experiment.workspace, entity))
            if not columns:
                break
            try:
                self.table.merge({"PartitionKey": experiment.workspace, "RowKey": row, **columns},
                                 etag=etag_of(entity))
                break
            except EtagMismatchError:
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        else:
            raise EtagMismatchError(f"experiment {experiment.name!r} is changing too fast to update",
                                    target=experiment.name)
        return self.get(experiment.workspace, experiment.name)

    def last_run(self, workspace: str, name: str) -> datetime | None:
        page, _ = self.index.query_page(
            "PartitionKey eq @pk", parameters={"pk": experiment_partition(workspace, name)}, page_size=1
        )
        return parse_time(page[0].get("Created")) if page else None

    @staticmethod
    def _decode(workspace: str, entity: dict[str, object]) -> Experiment:
        name = str(entity["Name"])
        return Experiment(
            id=str(entity.get("ExperimentId") or experiment_id(workspace, name)),
            name=name,
            workspace=workspace,
            created=parse_time(entity.get("Created")),
            archived=parse_time(entity.get("Archived") or None),
            description=str(entity["Description"]) if entity.get("Description") is not None else None,
            tags=parse_json(entity.get("Tags"), {}),
        )
