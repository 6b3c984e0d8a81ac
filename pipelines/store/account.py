"""The storage account: Table, Blob and Queue clients built once from settings.

Locally a connection string (the emulator); in Azure an identity-based
connection (`AzureWebJobsStorage__accountName`) with `DefaultAzureCredential`, so
no account key is ever needed there.

Every call is bounded. The SDKs' defaults (a read may wait 300 s, tables retry
10 times, blobs back off 15 s and more) would hold an HTTP request for minutes
when storage stops answering. Two patiences instead:

- `INTERACTIVE` for HTTP routes: a silent storage is given up on within about
  8.5 s (two reads of 4 s and a short pause), so a caller gets a 503 with
  `Retry-After` inside 10 s;
- `BACKGROUND` for the worker and timers: more retries and long blob reads (step
  inputs and outputs are large); a silent table is given up on within about 25 s,
  the invocation fails, and the host delivers the message again later.

The Blob, Queue and Table SDKs are imported when the first account is made, not
when the app is imported: together they are about 200 ms of a cold start, and the
host indexes the functions before any of them is called.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError

from pipelines.settings import EMULATOR_ACCOUNT, EMULATOR_KEY, Settings, get_settings
from pipelines.store.blobs import Blobs
from pipelines.store.failures import translated

if TYPE_CHECKING:
    from azure.data.tables import TableClient
    from azure.storage.blob import ContainerClient
    from azure.storage.queue import QueueClient


@dataclass(frozen=True)
class Patience:
    """How long one storage call may take: connect, each read, retries and the pause between."""

    connect_seconds: float
    read_seconds: float  # a table or queue call's wait for each read of its answer
    blob_read_seconds: float  # the same for blobs, whose answers can be large
    retries: int
    pause_seconds: float

    def table_options(self) -> dict[str, Any]:
        return {
            "connection_timeout": self.connect_seconds, "read_timeout": self.read_seconds,
            "retry_total": self.retries, "retry_backoff_factor": self.pause_seconds,
            "retry_backoff_max": self.pause_seconds * 4,
        }

    def blob_options(self) -> dict[str, Any]:
        from azure.storage.blob import LinearRetry as BlobRetry

        policy = BlobRetry(backoff=self.pause_seconds, retry_total=self.retries, random_jitter_range=0)  # type: ignore[arg-type]
        return {"connection_timeout": self.connect_seconds, "read_timeout": self.blob_read_seconds,
                "retry_policy": policy}

    def queue_options(self) -> dict[str, Any]:
        from azure.storage.queue import LinearRetry as QueueRetry

        policy = QueueRetry(backoff=self.pause_seconds, retry_total=self.retries, random_jitter_range=0)  # type: ignore[arg-type]
        return {"connection_timeout": self.connect_seconds, "read_timeout": self.read_seconds, "retry_policy": policy}


def transport_options() -> dict[str, Any]:
    """Options for one storage client: how it sends (`pipelines.store.transport`, which imports
    `requests`: loaded with the first account, as the SDKs are)."""
    from pipelines.store.transport import transport_options as options

    return options()


# azure.core's HttpLoggingPolicy logs every request and every answer at INFO. The Functions
# Python worker sets the root logger to INFO and sends each record to the host over gRPC, so
# on Azure every storage call would leave two traces in Application Insights and cost the
# worker the formatting of its headers. Off unless `PIPELINES_STORAGE_REQUEST_LOGS` asks.
REQUEST_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


def quiet_request_logs(settings: Settings) -> None:
    """Let the SDKs' request log through only where the settings ask for it."""
    logging.getLogger(REQUEST_LOGGER).setLevel(logging.NOTSET if settings.storage_request_logs else logging.WARNING)


INTERACTIVE = Patience(connect_seconds=3, read_seconds=4, blob_read_seconds=4, retries=1, pause_seconds=0.5)
BACKGROUND = Patience(connect_seconds=5, read_seconds=5, blob_read_seconds=60, retries=3, pause_seconds=1)

# Names of the tables and containers the package uses (before the prefix).
TABLES = (
    "Pipelines", "Endpoints", "Runs", "RunIndex", "Experiments", "Idempotency",
    "Datasets", "Datastores", "Triggers", "Schedules", "RunEvents", "StepReuse",
    "ComputeTargets", "ComputeTargetUses", "RunCallbacks",
)
# Tables only the app reads, on which a compute target's identity has no role
# (infra/app/workers.bicep): RunCallbacks holds the tokens of Azure DevOps jobs and the keys
# that sign log links.
APP_ONLY_TABLES = ("RunCallbacks",)
CONTAINERS = ("snapshots", "graphs", "runs", "workspaceblobstore")


def app_queue_names(settings: Settings) -> list[str]:
    """The queues of the app's own functions (infra/main.bicep makes them, and their poison queues)."""
    return [settings.steps_queue_name, settings.poison_queue_name, settings.notify_queue_name,
            settings.sinks_queue_name]


class StorageAccount:
    """Service clients for one account, and the names of this app's resources."""

    def __init__(self, settings: Settings, patience: Patience = INTERACTIVE) -> None:
        from azure.data.tables import TableServiceClient
        from azure.storage.blob import BlobServiceClient
        from azure.storage.queue import QueueServiceClient

        self.settings = settings
        self.patience = patience
        quiet_request_logs(settings)
        tables, blobs, queues = (
            {**options, **transport_options()}  # a session of its own for each client
            for options in (patience.table_options(), patience.blob_options(), patience.queue_options())
        )
        if settings.storage_connection:
            conn = _expand_development_storage(settings.storage_connection)
            self.tables = TableServiceClient.from_connection_string(conn, **tables)
            self.blobs = BlobServiceClient.from_connection_string(conn, **blobs)
            self.queues = QueueServiceClient.from_connection_string(conn, **queues)
        else:
            from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

            # As the Functions host reads `AzureWebJobsStorage__credential`: a
            # user-assigned identity by client id, else whatever is available.
            credential: Any
            if (settings.storage_credential or "").lower() == "managedidentity":
                credential = ManagedIdentityCredential(client_id=settings.storage_client_id)
            else:
                credential = DefaultAzureCredential(managed_identity_client_id=settings.storage_client_id)
            name = settings.storage_account_name
            blob = settings.storage_blob_uri or f"https://{name}.blob.core.windows.net"
            queue = settings.storage_queue_uri or f"https://{name}.queue.core.windows.net"
            table = settings.storage_table_uri or f"https://{name}.table.core.windows.net"
            self.credential = credential
            self.tables = TableServiceClient(endpoint=table, credential=credential, **tables)
            self.blobs = BlobServiceClient(account_url=blob, credential=credential, **blobs)
            self.queues = QueueServiceClient(account_url=queue, credential=credential, **queues)
        self._ensured = False
        self._lock = threading.Lock()
        self._clients_lock = threading.Lock()
        # Every table client is made now, before the account is shared (see `table`).
        self._table_clients: dict[str, TableClient] = {
            name: self.tables.get_table_client(name) for name in map(settings.table_name, TABLES)
        }
        self._container_clients: dict[str, ContainerClient] = {}
        self._queue_clients: dict[str, QueueClient] = {}

    # -- clients by base name ----------------------------------------------------
    # Clients are made once per name and shared: making one from a service client
    # reuses that client's policies, and two threads making clients at once can tangle
    # them (seen as "_SansIOHTTPPolicyRunner has no attribute 'next'"). Made clients
    # are safe to share between threads. Making a table client also re-points the
    # retry and redirect policies it shares with the table clients made before it at
    # its own pipeline, which does not exist whole until it is made: a request of one
    # of those clients in flight at that moment can meet the same error (seen once, in a
    # run's first claim while the reuse decision beside it made its first client). So
    # the account makes every table client of the app when it is made itself.
    def table(self, base: str) -> TableClient:
        name = self.settings.table_name(base)
        with self._clients_lock:
            client = self._table_clients.get(name)
            if client is None:
                client = self._table_clients[name] = self.tables.get_table_client(name)
        return client

    def container(self, base: str) -> Blobs:
        """One of the app's own containers, by its base name ("runs", "graphs", ...)."""
        return self.container_named(self.settings.container_name(base))

    def container_named(self, name: str) -> Blobs:
        """A container of this account by its full name (a registered datastore's)."""
        with self._clients_lock:
            client = self._container_clients.get(name)
            if client is None:
                client = self._container_clients[name] = self.blobs.get_container_client(name)
        return Blobs(client)

    @property
    def blob_url(self) -> str:
        return str(self.blobs.url)

    def remote_container(self, account_url: str, name: str) -> Blobs:
        """A container of another account, reached with the app's identity (no key, no SAS stored).

        Locally `DefaultAzureCredential` falls back to the developer's login (Azure
        CLI, VS Code); in Azure it is the app's managed identity, which needs
        `Storage Blob Data Reader` (or Contributor, to upload) on that account.
        """
        from azure.storage.blob import ContainerClient

        credential = _identity(self.settings.storage_client_id)
        return Blobs(ContainerClient(account_url=account_url, container_name=name, credential=credential,
                                     **self.patience.blob_options(), **transport_options()))

    def queue(self, name: str) -> QueueClient:
        with self._clients_lock:
            client = self._queue_clients.get(name)
            if client is None:
                client = self._queue_clients[name] = self.queues.get_queue_client(name)
        return client

    def create_queue(self, name: str) -> None:
        """Create the queue `name` if absent (a compute target's, when the target is written)."""
        with translated(), contextlib.suppress(ResourceExistsError):
            self.queue(name).create_queue()

    def queue_names(self) -> Iterable[str]:
        settings = self.settings
        names = app_queue_names(settings)
        if settings.events_queue:
            names.append(settings.events_queue)  # the local sink of run events
        return names

    def app_identity(self) -> Any:
        """The app's identity (its managed identity in Azure), for services other than storage."""
        return _identity(self.settings.storage_client_id)

    # -- lifecycle -----------------------------------------------------------------
    def ensure(self) -> None:
        """Create every table, container and queue that is absent (idempotent, once per process).

        What exists is read with one listing per service, so a process starting against an
        account that has it all (every start but the first) makes three requests, not one
        create per resource (15 tables, 4 containers, 3 queues: about 150 ms on Azurite, a
        round trip each in Azure, on every cold start). An identity that may not list the
        account's (a compute target's roles are on each resource) creates each, as before."""
        if self._ensured:
            return
        with self._lock, translated():
            if self._ensured:
                return
            tables, containers, queues = self._present()
            for base in TABLES:
                name = self.settings.table_name(base)
                if name in tables:
                    continue
                try:
                    self.tables.create_table_if_not_exists(name)
                except HttpResponseError as error:
                    # A compute target's worker is refused the app's own tables; it never reads them.
                    if base not in APP_ONLY_TABLES or error.status_code != 403:
                        raise
            for base in CONTAINERS:
                if self.settings.container_name(base) not in containers:
                    self.container(base).create()
            for name in self.queue_names():
                if name not in queues:
                    with contextlib.suppress(ResourceExistsError):
                        self.queue(name).create_queue()
            self._ensured = True

    def _present(self) -> tuple[set[str], set[str], set[str]]:
        """This app's tables, containers and queues that exist, by name; a service whose listing
        the identity is refused (403) reads as empty, so that each is created. Each listing asks
        only for names in the app's range, so that an account's other tables, containers and
        queues (another app's, many tests') never add a page to it."""
        settings = self.settings
        tables = sorted(settings.table_name(base) for base in TABLES)
        queues = os.path.commonprefix(list(self.queue_names())) or None
        listings: tuple[Callable[[], Iterable[Any]], ...] = (
            lambda: self.tables.query_tables("TableName ge @first and TableName le @last",
                                             parameters={"first": tables[0], "last": tables[-1]}),
            lambda: self.blobs.list_containers(name_starts_with=settings.name_prefix or None),
            lambda: self.queues.list_queues(name_starts_with=queues),
        )
        found: list[set[str]] = []
        for listing in listings:
            try:
                found.append({str(item.name) for item in listing()})
            except HttpResponseError as error:
                if error.status_code != 403:
                    raise
                found.append(set())
        return found[0], found[1], found[2]

    def ping(self, timeout: float = 3.0) -> dict[str, str]:
        """One cheap call per service, without retries: which answer and which don't."""
        options: dict[str, Any] = {"retry_total": 0, "connection_timeout": timeout, "read_timeout": timeout}
        # Listing one item is what the data roles the app holds allow; service
        # properties would need management-plane read and answer 403 in Azure.
        checks: dict[str, Callable[[], object]] = {
            "table": lambda: next(iter(self.tables.list_tables(results_per_page=1, **options).by_page()), None),
            "blob": lambda: next(iter(self.blobs.list_containers(results_per_page=1, **options).by_page()), None),
            "queue": lambda: next(iter(self.queues.list_queues(results_per_page=1, **options).by_page()), None),
        }
        result: dict[str, str] = {}
        for name, check in checks.items():
            try:
                check()
                result[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means "not answering"
                result[name] = f"unavailable ({type(exc).__name__})"
        return result


@functools.lru_cache(maxsize=4)
def _identity(client_id: str | None) -> Any:
    """One credential per process: it caches its tokens, so build it once."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id)


def _expand_development_storage(conn: str) -> str:
    """`UseDevelopmentStorage=true` as the SDKs understand it, on the default ports."""
    if conn.strip().rstrip(";").lower() != "usedevelopmentstorage=true":
        return conn
    base = "http://127.0.0.1"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={EMULATOR_ACCOUNT};AccountKey={EMULATOR_KEY};"
        f"BlobEndpoint={base}:10000/{EMULATOR_ACCOUNT};QueueEndpoint={base}:10001/{EMULATOR_ACCOUNT};"
        f"TableEndpoint={base}:10002/{EMULATOR_ACCOUNT};"
    )


_accounts: dict[Patience, StorageAccount] = {}
_account_lock = threading.Lock()


def get_account(patience: Patience = INTERACTIVE) -> StorageAccount:
    """The process-wide account of this patience, created on first use, its resources ensured."""
    account = _accounts.get(patience)
    if account is None:
        with _account_lock:
            account = _accounts.get(patience)
            if account is None:
                account = StorageAccount(get_settings(), patience)
                account.ensure()
                _accounts[patience] = account
    return account


def get_worker_account() -> StorageAccount:
    """The account for the worker and timers: patient with large transfers (`BACKGROUND`)."""
    return get_account(BACKGROUND)


_probe: StorageAccount | None = None


def get_probe_account() -> StorageAccount:
    """An account whose resources are not ensured: for health checks, which must
    answer fast (no retries, no creation) whether storage answers or not."""
    global _probe
    if _probe is None:
        _probe = StorageAccount(get_settings())
    return _probe


def reset_account() -> None:
    global _probe
    _accounts.clear()
    _probe = None
