"""Datastores: named blob containers a workspace reads its data from.

Three kinds:

- `workspace`: `workspaceblobstore`, which always exists and is never stored:
  the app's own container `workspaceblobstore`, under the folder
  `{workspace}/`, because a workspace name is a namespace (docs/contract.md §1)
  and one workspace must not read another's data through it.
- `container`: another container of the app's own account, registered by name.
- `account`: a container of another storage account, registered by its blob
  URL and reached with the app's managed identity. Nothing secret is stored.

Table `Datastores`: PartitionKey = workspace, RowKey = datastore name, so
every lookup at submit time is one point read. Registering takes typed values;
a request body is read into them in `pipelines.api.data_requests`.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pipelines.data.locations import BlobLocation
from pipelines.errors import AlreadyExistsError, BadRequestError, ConflictError, ErrorDetail, NotFoundError
from pipelines.store import StorageAccount, Table, etag_of, tokens
from pipelines.store.account import CONTAINERS
from pipelines.store.codec import parse_time, time_text

DEFAULT_DATASTORE = "workspaceblobstore"
DatastoreKind = Literal["workspace", "container", "account"]

# Datastore names become keys and argument values: the old SDK's rule.
NAME = re.compile(r"^[A-Za-z0-9_]{1,255}\Z")
# https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata
_CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$")
# Only Azure Storage blob endpoints: the app sends its managed identity's token
# to this host, so any other host would be handed a token it must never see.
_BLOB_HOST = re.compile(
    r"^[a-z0-9]{3,24}\.(?:blob\.core\.(?:windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)"
    r"|z[0-9]{1,2}\.blob\.storage\.azure\.net)$"
)
MAX_DESCRIPTION = 4096
NAME_RULE = "a datastore name is 1 to 255 letters, digits and underscores"
CONTAINER_RULE = "ContainerName must be a storage container name: 3 to 63 lowercase letters, digits and single dashes"
DESCRIPTION_RULE = f"Description must be a string of at most {MAX_DESCRIPTION} characters"


@dataclass
class Datastore:
    workspace: str
    name: str
    kind: DatastoreKind
    container: str
    account_url: str | None = None
    description: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    etag: str | None = None

    @property
    def is_default(self) -> bool:
        return self.kind == "workspace"

    def same_target(self, other: Datastore) -> bool:
        return (self.kind, self.container, self.account_url) == (
            other.kind,
            other.container,
            other.account_url,
        )

    def to_entity(self) -> dict[str, Any]:
        return {
            "PartitionKey": self.workspace,
            "RowKey": self.name,
            "Kind": self.kind,
            "Container": self.container,
            "AccountUrl": self.account_url,
            "Description": self.description,
            "Created": time_text(self.created),
            "Modified": time_text(self.modified),
        }

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> Datastore:
        return cls(
            workspace=entity["PartitionKey"],
            name=entity["RowKey"],
            kind=entity.get("Kind", "container"),
            container=entity["Container"],
            account_url=entity.get("AccountUrl"),
            description=entity.get("Description"),
            created=parse_time(entity.get("Created")),
            modified=parse_time(entity.get("Modified")),
            etag=etag_of(entity),
        )


def check_name(name: str, target: str = "Name") -> str:
    if not NAME.match(name):
        raise BadRequestError(NAME_RULE, target=target)
    return name


def normalise_account_url(value: str) -> str:
    """`https://{account}.blob.core.windows.net` and nothing else: no path, port, query or user."""
    parts = urlsplit(value.strip())
    host = (parts.hostname or "").lower()
    if (
        parts.scheme != "https"
        or not _BLOB_HOST.match(host)
        or parts.port is not None
        or parts.username
        or parts.password
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise BadRequestError(
            "AccountUrl must be an Azure Storage blob endpoint such as https://myaccount.blob.core.windows.net",
            target="AccountUrl",
        )
    return f"https://{host}"


RESERVED_CONTAINER_PREFIXES = ("azure-webjobs-", "app-package-", "scm-", "$")


class Datastores:
    """Registering, reading and removing datastores, and reaching their containers."""

    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self.table = Table(account.table("Datastores"))

    # -- read --------------------------------------------------------------------------------------
    def default(self, workspace: str) -> Datastore:
        return Datastore(
            workspace, DEFAULT_DATASTORE, "workspace", self.account.settings.container_name(DEFAULT_DATASTORE)
        )

    def find(self, workspace: str, name: str) -> Datastore | None:
        if name == DEFAULT_DATASTORE:
            return self.default(workspace)
        if not NAME.match(name):
            return None
        entity = self.table.get(workspace, name)
        return Datastore.from_entity(entity) if entity is not None else None

    def get(self, workspace: str, name: str) -> Datastore:
        store = self.find(workspace, name)
        if store is None:
            raise NotFoundError(f"datastore {name!r} is not registered in this workspace", target=name)
        return store

    def list(
        self, workspace: str, *, page_size: int, continuation: str | None
    ) -> tuple[builtins.list[Datastore], str | None]:
        """The built-in datastore first, then the registered ones by name, `page_size` at a time."""
        query = "PartitionKey eq @ws"
        parameters = {"ws": workspace}
        after_default = tokens.scope("datastores after the built-in one", workspace)
        if continuation is not None:
            # Our own token after a first page that held only the built-in one: the table starts here.
            table_token = None if tokens.issued_for(continuation, after_default) else continuation
            page, token = self.table.query_page(
                query, parameters=parameters, page_size=page_size, continuation=table_token
            )
            return [Datastore.from_entity(e) for e in page], token
        if page_size == 1:
            more, _ = self.table.query_page(query, parameters=parameters, page_size=1)
            return [self.default(workspace)], tokens.seal(after_default) if more else None
        page, token = self.table.query_page(query, parameters=parameters, page_size=page_size - 1)
        return [self.default(workspace)] + [Datastore.from_entity(e) for e in page], token

    # -- register and remove -----------------------------------------------------------------------
    def register(
        self,
        workspace: str,
        name: str,
        *,
        container: str,
        account_url: str | None = None,
        description: str | None = None,
        overwrite: bool = False,
        create_if_not_exists: bool = False,
    ) -> Datastore:
        """Register `name`; the same registration again is a no-op, another one needs `overwrite`.

        Without `account_url` (or with the app's own), `container` is one of the app's own account."""
        check_name(name)
        if name == DEFAULT_DATASTORE:
            raise BadRequestError(
                f"{DEFAULT_DATASTORE!r} is built in and cannot be registered", target="Name"
            )
        if not _CONTAINER.match(container):
            raise BadRequestError(CONTAINER_RULE, target="ContainerName")
        if description is not None and len(description) > MAX_DESCRIPTION:
            raise BadRequestError(DESCRIPTION_RULE, target="Description")
        now = datetime.now(UTC)
        wanted = Datastore(
            workspace,
            name,
            "account" if account_url else "container",
            container,
            normalise_account_url(account_url) if account_url else None,
            description,
            now,
            now,
        )
        if wanted.kind == "container":
            self._check_own_container(container, create_if_not_exists)
        elif self._is_own_account(wanted.account_url):
            # The app's own account by URL is the app's own containers by another
            # name: the same refusals apply (and it is reached as a container).
            self._check_own_container(container, create_if_not_exists)
        existing = self.find(workspace, name)
        if existing is None:
            try:
                wanted.etag = self.table.insert(wanted.to_entity())
                return wanted
            except AlreadyExistsError:
                existing = self.get(workspace, name)  # registered meanwhile: judge it like any other
        if existing.same_target(wanted) and existing.description == wanted.description:
            return existing
        if not overwrite:
            raise ConflictError(
                f"datastore {name!r} is registered with another container;"
                " register again with overwrite to replace it",
                target=name,
            )
        wanted.created = existing.created
        wanted.etag = self.table.replace(wanted.to_entity(), existing.etag or "*")
        return wanted

    def _is_own_account(self, account_url: str | None) -> bool:
        own = urlsplit(self.account.blob_url).hostname or ""
        return bool(account_url) and (urlsplit(account_url).hostname or "").lower() == own.lower()

    def _check_own_container(self, container: str, create: bool) -> None:
        settings = self.account.settings
        own = {settings.container_name(base) for base in CONTAINERS}
        # The app's own containers hold other workspaces' data and snapshots; the
        # Functions host keeps its keys in azure-webjobs-secrets; Flex Consumption
        # deploys the app's code from app-package-*; $logs and $web are the account's.
        if container in own or container.startswith(RESERVED_CONTAINER_PREFIXES):
            raise BadRequestError(
                f"container {container!r} belongs to the app and cannot be a datastore",
                target="ContainerName",
            )
        blobs = self.account.container_named(container)
        if blobs.container_exists():
            return
        if not create:
            raise BadRequestError(
                f"container {container!r} does not exist in the app's storage account"
                " (CreateIfNotExists creates it)",
                target="ContainerName",
            )
        blobs.create()

    def remove(
        self, workspace: str, name: str, in_use_by: Callable[[], builtins.list[tuple[str, str | None]]]
    ) -> Datastore:
        """Forget a datastore (its data stays); refused while a runnable pipeline's defaults use it.

        `in_use_by()` names those pipelines (`pipelines.data.usage.pipelines_using`, which
        reads datasets: it is passed in, so datastores need not know datasets)."""
        if name == DEFAULT_DATASTORE:
            raise BadRequestError(f"{DEFAULT_DATASTORE!r} is built in and cannot be removed", target=name)
        store = self.get(workspace, name)
        users = in_use_by()
        if users:
            raise ConflictError(
                f"datastore {name!r} is used by {len(users)} published pipeline(s); disable them first",
                target=name,
                details=[
                    ErrorDetail(
                        "DatastoreInUse", f"published pipeline {pid} ({pname or 'unnamed'}) uses it", pid
                    )
                    for pid, pname in users
                ],
            )
        self.table.delete(workspace, name, store.etag)
        return store

    # -- the bytes ------------------------------------------------------------------------------------
    def location(self, store: Datastore) -> BlobLocation:
        if store.kind == "workspace":
            return BlobLocation(self.account.container(DEFAULT_DATASTORE), f"{store.workspace}/")
        if store.kind == "container":
            return BlobLocation(self.account.container_named(store.container))
        assert store.account_url is not None
        return BlobLocation(self.account.remote_container(store.account_url, store.container))
