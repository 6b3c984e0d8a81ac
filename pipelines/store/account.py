"""The storage account: Table, Blob and Queue clients built once from settings.

Locally a connection string (the emulator); in Azure an identity-based
connection (`AzureWebJobsStorage__accountName`) with `DefaultAzureCredential`, so
no account key is ever needed there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import QueueClient, QueueServiceClient

from pipelines.settings import Settings

# Names of the tables and containers the package uses (before the prefix).
TABLES = ("Pipelines", "Endpoints", "Runs", "RunIndex", "Experiments", "Idempotency", "Datasets", "Datastores", "Triggers", "Schedules")
CONTAINERS = ("snapshots", "graphs", "runs", "workspaceblobstore")


class StorageAccount:
    """Service clients for one account, and the names of this app's resources."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if settings.storage_connection:
            conn = _expand_development_storage(settings.storage_connection)
            self.tables = TableServiceClient.from_connection_string(conn)
            self.blobs = BlobServiceClient.from_connection_string(conn)
            self.queues = QueueServiceClient.from_connection_string(conn)
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
            self.tables = TableServiceClient(endpoint=table, credential=credential)
            self.blobs = BlobServiceClient(account_url=blob, credential=credential)
            self.queues = QueueServiceClient(account_url=queue, credential=credential)
        self._ensured = False
        self._lock = threading.Lock()

    # -- clients by base name ----------------------------------------------------
    def table(self, base: str) -> TableClient:
        return self.tables.get_table_client(self.settings.table_name(base))

    def container(self, base: str) -> ContainerClient:
        return self.blobs.get_container_client(self.settings.container_name(base))

    def queue(self, name: str) -> QueueClient:
        return self.queues.get_queue_client(name)

    def queue_names(self) -> Iterable[str]:
        return (self.settings.steps_queue_name, self.settings.poison_queue_name)

    # -- lifecycle -----------------------------------------------------------------
    def ensure(self) -> None:
        """Create every table, container and queue if absent (idempotent, once per process)."""
        if self._ensured:
            return
        with self._lock:
            if self._ensured:
                return
            for base in TABLES:
                self.tables.create_table_if_not_exists(self.settings.table_name(base))
            for base in CONTAINERS:
                try:
                    self.container(base).create_container()
                except ResourceExistsError:
                    pass
            for name in self.queue_names():
                try:
                    self.queue(name).create_queue()
                except ResourceExistsError:
                    pass
            self._ensured = True

    def ping(self, timeout: float = 3.0) -> dict[str, str]:
        """One cheap call per service, without retries: which answer and which don't."""
        options = {"retry_total": 0, "connection_timeout": timeout, "read_timeout": timeout}
        # Listing one item is what the data roles the app holds allow; service
        # properties would need management-plane read and answer 403 in Azure.
        checks = {
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


def _expand_development_storage(conn: str) -> str:
    """`UseDevelopmentStorage=true` as the SDKs understand it, on the default ports."""
    if conn.strip().rstrip(";").lower() != "usedevelopmentstorage=true":
        return conn
    from pipelines.settings import EMULATOR_ACCOUNT, EMULATOR_KEY

    base = "http://127.0.0.1"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={EMULATOR_ACCOUNT};AccountKey={EMULATOR_KEY};"
        f"BlobEndpoint={base}:10000/{EMULATOR_ACCOUNT};QueueEndpoint={base}:10001/{EMULATOR_ACCOUNT};"
        f"TableEndpoint={base}:10002/{EMULATOR_ACCOUNT};"
    )


_account: StorageAccount | None = None
_account_lock = threading.Lock()


def get_account() -> StorageAccount:
    """The process-wide account, created on first use and its resources ensured."""
    global _account
    if _account is None:
        with _account_lock:
            if _account is None:
                from pipelines.settings import get_settings

                account = StorageAccount(get_settings())
                account.ensure()
                _account = account
    return _account


_probe: StorageAccount | None = None


def get_probe_account() -> StorageAccount:
    """An account whose resources are not ensured: for health checks, which must
    answer fast (no retries, no creation) whether storage answers or not."""
    global _probe
    if _probe is None:
        from pipelines.settings import get_settings

        _probe = StorageAccount(get_settings())
    return _probe


def reset_account() -> None:
    global _account, _probe
    _account = None
    _probe = None
