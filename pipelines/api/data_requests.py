"""The request bodies of datastores and datasets, read into the data layer's typed values.

Here the JSON is checked for type and its keys looked up (in any case, the
first of a key sent twice, as the routes always have); `pipelines.data` keeps
the rules: names, lengths, containers and account URLs, encodings, the paths
and the files they match. A body's keys are those of `pipelines.api.bodies`
(`DatastoreRequest`, `DatasetRequest`, each path a `DataPathEntity`), which
document them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.api.wire_keys import WireObject
from pipelines.data import DataPathRef, DatasetType, TabularOptions
from pipelines.data import datasets as rules
from pipelines.data.datastores import CONTAINER_RULE
from pipelines.data.datastores import DESCRIPTION_RULE as DATASTORE_DESCRIPTION_RULE
from pipelines.data.patterns import not_a_path
from pipelines.data.tabular import ENCODING_RULE, SEPARATOR_RULE
from pipelines.errors import BadRequestError, ErrorDetail

DATASTORE_KEYS = ("Name", "ContainerName", "AccountUrl", "Description", "Overwrite", "CreateIfNotExists")
DATASET_KEYS = (
    "Name", "DatasetType", "Paths", "Separator", "Header", "Encoding", "Description", "Tags", "CreateNewVersion",
    "Validate",
)
PATH_KEYS = ("DataStoreName", "RelativePath")
_DATASET_TYPES: dict[str, DatasetType] = {"tabular": "tabular", "file": "file"}


def flag(value: Any, target: str) -> bool:
    """true, false, "true", "false", "1", "0" (any case); absent or "" is false."""
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "false", "0"):
        return value.lower() in ("true", "1")
    raise BadRequestError(f"{target} must be true or false", target=target)


# -- datastores ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatastoreRegistration:
    name: str
    container: str
    account_url: str | None
    description: str | None
    overwrite: bool
    create_if_not_exists: bool


def datastore_registration(
    body: Mapping[str, Any], *, path_name: str | None, overwrite_query: str | None
) -> DatastoreRegistration:
    """`POST .../Datastores` (the name in the body) and `PUT .../Datastores/{name}` (in the path: the
    body's, when given, must be the same); `?overwrite=` counts as `Overwrite`."""
    values = WireObject(body, DATASTORE_KEYS)
    name = values.get("Name")
    if path_name is None and not isinstance(name, str):
        raise BadRequestError("Name is required", target="Name")
    if path_name is not None and name is not None and name != path_name:
        raise BadRequestError(f"Name {name!r} differs from the datastore in the path {path_name!r}", target="Name")
    overwrite = flag(values.get("Overwrite"), "Overwrite") or flag(overwrite_query, "overwrite")
    create_if_not_exists = flag(values.get("CreateIfNotExists"), "CreateIfNotExists")
    container = values.get("ContainerName")
    if not isinstance(container, str):
        raise BadRequestError(CONTAINER_RULE, target="ContainerName")
    account_url = values.get("AccountUrl")
    if account_url is not None and not isinstance(account_url, str):
        raise BadRequestError("AccountUrl must be a string", target="AccountUrl")
    account_url = account_url or None  # "" is the app's own account, as absent
    description = values.get("Description")
    if description is not None and not isinstance(description, str):
        raise BadRequestError(DATASTORE_DESCRIPTION_RULE, target="Description")
    return DatastoreRegistration(
        name=path_name if path_name is not None else name,
        container=container,
        account_url=account_url,
        description=description,
        overwrite=overwrite,
        create_if_not_exists=create_if_not_exists,
    )


# -- datasets --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetRegistration:
    name: str
    dataset_type: DatasetType
    paths: tuple[DataPathRef, ...]
    options: TabularOptions | None
    description: str | None
    tags: dict[str, str]
    create_new_version: bool
    validate: bool


def dataset_registration(body: Mapping[str, Any]) -> DatasetRegistration:
    """`POST .../Datasets`."""
    values = WireObject(body, DATASET_KEYS)
    raw_type = values.get("DatasetType")
    wire_type = raw_type.lower() if isinstance(raw_type, str) else None
    options = _tabular_options(values) if wire_type == "tabular" else None
    paths = _paths(values.get("Paths"))
    create_new = values.get("CreateNewVersion")
    validate = values.get("Validate")
    create_new_version = True if create_new is None else flag(create_new, "CreateNewVersion")
    validate_paths = True if validate is None else flag(validate, "Validate")
    name = values.get("Name")
    if not isinstance(name, str):
        raise BadRequestError(rules.NAME_RULE, target="Name")
    dataset_type = _DATASET_TYPES.get(wire_type or "")
    if dataset_type is None:
        raise BadRequestError("DatasetType must be Tabular or File", target="DatasetType")
    description = values.get("Description")
    if description is not None and not isinstance(description, str):
        raise BadRequestError(rules.DESCRIPTION_RULE, target="Description")
    return DatasetRegistration(
        name=name,
        dataset_type=dataset_type,
        paths=paths,
        options=options,
        description=description,
        tags=_tags(values.get("Tags")),
        create_new_version=create_new_version,
        validate=validate_paths,
    )


def _tabular_options(values: WireObject) -> TabularOptions:
    separator = values.get("Separator")
    if separator is not None and not isinstance(separator, str):
        raise BadRequestError(SEPARATOR_RULE, target="Separator")
    header = values.get("Header")
    if header is not None and not isinstance(header, bool):
        raise BadRequestError(
            "Header must be true (each file starts with the column names) or false", target="Header"
        )
    encoding = values.get("Encoding")
    if encoding is not None and not isinstance(encoding, str):
        raise BadRequestError(ENCODING_RULE, target="Encoding")
    return TabularOptions.checked(
        "," if separator is None else separator,
        True if header is None else header,
        "utf-8" if encoding is None else encoding,
    )


def _paths(value: Any) -> tuple[DataPathRef, ...]:
    """One path object or a list of them; a path whose datastore or path is no string is refused with
    the others (every one in the 400's Details), as the registry refuses the rest."""
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise BadRequestError('Paths must be a list of {"DataStoreName", "RelativePath"}', target="Paths")
    paths: list[DataPathRef] = []
    problems: list[ErrorDetail] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequestError('each path is {"DataStoreName", "RelativePath"}', target=f"Paths[{index}]")
        path = WireObject(item, PATH_KEYS)
        datastore, relative = path.get("DataStoreName"), path.get("RelativePath")
        if not isinstance(datastore, str):
            problems.append(ErrorDetail("UserError", rules.unregistered_datastore(datastore), f"Paths[{index}]"))
        elif not isinstance(relative, str):
            problems.append(ErrorDetail("UserError", f"RelativePath: {not_a_path(relative)}", f"Paths[{index}]"))
        else:
            paths.append(DataPathRef(datastore, relative))
    if problems:
        raise rules.invalid_paths(problems)
    return tuple(paths)


def _tags(value: Any) -> dict[str, str]:
    """An object of scalars, each kept as its text."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequestError(rules.TAGS_RULE, target="Tags")
    tags: dict[str, str] = {}
    for tag, item in value.items():
        if not isinstance(item, (str, int, float, bool)):
            raise BadRequestError(rules.tag_rule(str(tag)), target=f"Tags.{tag}")
        tags[str(tag)] = str(item)
    return tags
