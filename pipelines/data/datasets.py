"""Registered datasets: immutable, named, versioned references to files on datastores.

A tabular dataset is delimited files (one or more paths or globs, a
separator, a header flag, an encoding), read as one table; a file dataset is
the files themselves. Registering gets a new `Id` and the next `Version` of
its name; nothing about a registration ever changes afterwards, so a run that
recorded (id, version, paths) reads the same definition however many versions
follow.

Table `Datasets`, one partition per workspace, two rows per registration
(written together in one entity-group transaction):

- `id|{id}`: point read by id;
- `name|{name}|{9999999999 - version:010d}`: point read by name and version.
  The version is stored inverted so that the rows of one name sort newest
  first: "the latest" is the first row of a range query with top=1, and
  two registrations racing for the same next version collide on this key
  (insert-if-absent), so the loser reads the new latest and tries the next.

Registering takes typed values (paths as `DataPathRef`s, a tabular dataset's
`TabularOptions`); a request body is read into them in `pipelines.api.data_requests`.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pipelines.data.datastores import Datastores
from pipelines.data.patterns import PatternError, check_pattern, expand
from pipelines.data.tabular import TabularOptions
from pipelines.errors import AlreadyExistsError, BadRequestError, ConflictError, ErrorDetail, NotFoundError
from pipelines.store import StorageAccount, Table, create_op
from pipelines.store.codec import json_text, parse_json, parse_time, time_text

DatasetType = Literal["tabular", "file"]
DATASET_TYPES: tuple[str, ...] = ("tabular", "file")

# Names are part of a Table key: no '/', '\\', '#', '?', '|' or control characters.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}\Z")
_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_VERSION = 9_999_999_999
# A run records its datasets' paths in one Table property (64 KiB at most).
MAX_PATHS = 32
MAX_PATHS_CHARS = 8192
MAX_TAGS = 50
MAX_TEXT = 4096
NAME_RULE = "a dataset name is 1 to 255 letters, digits, '_', '-' and '.', starting with a letter or digit"
DESCRIPTION_RULE = f"Description must be a string of at most {MAX_TEXT} characters"
TAGS_RULE = f"Tags must be an object of at most {MAX_TAGS} strings"
_REGISTER_ATTEMPTS = 50


@dataclass(frozen=True)
class DataPathRef:
    datastore: str
    path: str

    def to_dict(self) -> dict[str, str]:
        return {"datastore": self.datastore, "path": self.path}


@dataclass
class Dataset:
    id: str
    workspace: str
    name: str
    version: int
    type: DatasetType
    paths: list[DataPathRef]
    options: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created: datetime | None = None

    @property
    def datastores(self) -> set[str]:
        return {p.datastore for p in self.paths}

    def resolution(self) -> dict[str, Any]:
        """What a run records for this dataset: enough to stage it without another lookup."""
        return {
            "kind": "dataset",
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "type": self.type,
            "paths": [p.to_dict() for p in self.paths],
            "options": dict(self.options),
        }

    def to_entity(self, row: str) -> dict[str, Any]:
        return {
            "PartitionKey": self.workspace,
            "RowKey": row,
            "DatasetId": self.id,
            "Name": self.name,
            "Version": self.version,
            "Type": self.type,
            "Paths": json_text([p.to_dict() for p in self.paths]),
            "Options": json_text(self.options),
            "Description": self.description,
            "Tags": json_text(self.tags),
            "Created": time_text(self.created),
        }

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any]) -> Dataset:
        return cls(
            id=entity["DatasetId"],
            workspace=entity["PartitionKey"],
            name=entity["Name"],
            version=int(entity["Version"]),
            type=entity["Type"],
            paths=[DataPathRef(p["datastore"], p["path"]) for p in parse_json(entity.get("Paths"), [])],
            options=parse_json(entity.get("Options"), {}),
            description=entity.get("Description"),
            tags=parse_json(entity.get("Tags"), {}),
            created=parse_time(entity.get("Created")),
        )


def id_row(dataset_id: str) -> str:
    return f"id|{dataset_id}"


def name_row(name: str, version: int) -> str:
    return f"name|{name}|{MAX_VERSION - version:010d}"


def _name_range(name: str | None) -> tuple[str, str]:
    # '|' sorts just before '}', so [x|, x}) holds exactly the keys starting with "x|".
    base = f"name|{name}" if name is not None else "name"
    return base + "|", base + "}"


class Datasets:
    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self.table = Table(account.table("Datasets"))
        self.datastores = Datastores(account)

    # -- read ------------------------------------------------------------------------------------------
    def find(self, workspace: str, dataset_id: str) -> Dataset | None:
        if not isinstance(dataset_id, str) or not _ID.match(dataset_id.lower()):
            return None
        entity = self.table.get(workspace, id_row(dataset_id.lower()))
        return Dataset.from_entity(entity) if entity is not None else None

    def get(self, workspace: str, dataset_id: str) -> Dataset:
        found = self.find(workspace, dataset_id)
        if found is None:
            raise NotFoundError(
                f"dataset {dataset_id!r} is not registered in this workspace", target=dataset_id
            )
        return found

    def find_by_name(self, workspace: str, name: str, version: int | None = None) -> Dataset | None:
        if not isinstance(name, str) or not NAME.match(name):
            return None
        if version is not None:
            entity = self.table.get(workspace, name_row(name, version))
            return Dataset.from_entity(entity) if entity is not None else None
        low, high = _name_range(name)
        page, _ = self.table.query_page(
            "PartitionKey eq @ws and RowKey ge @low and RowKey lt @high",
            parameters={"ws": workspace, "low": low, "high": high},
            page_size=1,
        )
        return Dataset.from_entity(page[0]) if page else None

    def get_by_name(self, workspace: str, name: str, version: int | None = None) -> Dataset:
        found = self.find_by_name(workspace, name, version)
        if found is None:
            what = f"dataset {name!r}" + (f" version {version}" if version is not None else "")
            raise NotFoundError(f"{what} is not registered in this workspace", target=name)
        return found

    def latest_as_of(self, workspace: str, name: str, moment: datetime) -> Dataset | None:
        """The newest version registered by `moment`: "the latest" as a run created then saw it.

        Versions are immutable and only ever added, so the answer never changes
        for a given moment: every step (and retry) of a run gets the same one.
        """
        if not NAME.match(name):
            return None
        low, high = _name_range(name)
        token: str | None = None
        while True:
            page, token = self.table.query_page(
                "PartitionKey eq @ws and RowKey ge @low and RowKey lt @high",
                parameters={"ws": workspace, "low": low, "high": high},
                page_size=10,
                continuation=token,
            )
            for entity in page:
                dataset = Dataset.from_entity(entity)
                if dataset.created is None or dataset.created <= moment:
                    return dataset
            if token is None:
                return None

    def find_reference(
        self, workspace: str, dataset_id: str | None, name: str | None, version: int | None
    ) -> Dataset | None:
        if dataset_id:
            return self.find(workspace, dataset_id)
        return self.find_by_name(workspace, name or "", version)

    # -- register ------------------------------------------------------------------------------------------
    def register(
        self,
        workspace: str,
        *,
        name: str,
        dataset_type: DatasetType,
        paths: Sequence[DataPathRef],
        options: TabularOptions | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        create_new_version: bool = True,
        validate: bool = True,
    ) -> Dataset:
        """A new registration of `name`: version 1, or the next one (409 if not `create_new_version`).

        Each path is a file, folder or glob on a registered datastore; with `validate`, one that
        matches no file is refused. Every bad path is named in the one 400."""
        if not NAME.match(name):
            raise BadRequestError(NAME_RULE, target="Name")
        if description is not None and len(description) > MAX_TEXT:
            raise BadRequestError(DESCRIPTION_RULE, target="Description")
        checked_tags = _check_tags(tags or {})
        refs = self._check_paths(workspace, paths, validate)
        stored_options = (options or TabularOptions()).to_dict() if dataset_type == "tabular" else {}
        for attempt in range(_REGISTER_ATTEMPTS):
            latest = self.find_by_name(workspace, name)
            if latest is not None and not create_new_version:
                raise ConflictError(
                    f"dataset {name!r} is registered (version {latest.version});"
                    " ask for a new version to add one",
                    target="Name",
                )
            dataset = Dataset(
                id=str(uuid.uuid4()),
                workspace=workspace,
                name=name,
                version=(latest.version + 1) if latest else 1,
                type=dataset_type,
                paths=refs,
                options=stored_options,
                description=description,
                tags=checked_tags,
                created=datetime.now(UTC),
            )
            try:
                self.table.transact(
                    [
                        create_op(dataset.to_entity(id_row(dataset.id))),
                        create_op(dataset.to_entity(name_row(name, dataset.version))),
                    ]
                )
                return dataset
            except AlreadyExistsError:
                # Another registration took this version: read the new latest and try the next.
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))
        raise ConflictError(f"dataset {name!r}: too many concurrent registrations; try again", target="Name")

    def _check_paths(self, workspace: str, raw: Sequence[DataPathRef], validate: bool) -> list[DataPathRef]:
        if not raw:
            raise BadRequestError("a dataset needs at least one path", target="Paths")
        if len(raw) > MAX_PATHS:
            raise BadRequestError(
                f"a dataset has at most {MAX_PATHS} paths (globs can name many files)", target="Paths"
            )
        problems: list[ErrorDetail] = []
        refs: list[DataPathRef] = []
        for index, requested in enumerate(raw):
            target = f"Paths[{index}]"
            store = self.datastores.find(workspace, requested.datastore)
            if store is None:
                problems.append(ErrorDetail("UserError", unregistered_datastore(requested.datastore), target))
                continue
            try:
                pattern = check_pattern(requested.path)
            except PatternError as exc:
                problems.append(ErrorDetail("UserError", f"RelativePath: {exc}", target))
                continue
            if validate:
                location = self.datastores.location(store)
                if not expand(pattern, location.exists, location.names_under):
                    problems.append(
                        ErrorDetail("UserError", f"no file matches {requested.datastore}/{pattern}", target)
                    )
                    continue
            refs.append(DataPathRef(store.name, pattern))
        if sum(len(r.datastore) + len(r.path) for r in refs) > MAX_PATHS_CHARS:
            problems.append(
                ErrorDetail("UserError", f"the paths are over {MAX_PATHS_CHARS} characters in all", "Paths")
            )
        if problems:
            raise invalid_paths(problems)
        return refs

    def list(
        self, workspace: str, *, name: str | None = None, page_size: int, continuation: str | None
    ) -> tuple[list[Dataset], str | None]:
        """Every registration, by name, newest version first."""
        if name is not None and not NAME.match(name):
            return [], None
        low, high = _name_range(name)
        page, token = self.table.query_page(
            "PartitionKey eq @ws and RowKey ge @low and RowKey lt @high",
            parameters={"ws": workspace, "low": low, "high": high},
            page_size=page_size,
            continuation=continuation,
        )
        return [Dataset.from_entity(entity) for entity in page], token


def unregistered_datastore(name: object) -> str:
    return f"datastore {name!r} is not registered in this workspace"


def invalid_paths(problems: list[ErrorDetail]) -> BadRequestError:
    """The 400 of a registration's bad paths: every one in Details."""
    return BadRequestError(
        problems[0].message if len(problems) == 1 else f"{len(problems)} dataset paths are invalid",
        target=problems[0].target,
        details=problems,
    )


def tag_rule(tag: str) -> str:
    return f"Tags.{tag} must be a short string"


def _check_tags(tags: Mapping[str, str]) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise BadRequestError(TAGS_RULE, target="Tags")
    for tag, value in tags.items():
        if len(tag) > 256 or len(value) > MAX_TEXT:
            raise BadRequestError(tag_rule(tag), target=f"Tags.{tag}")
    return dict(tags)
