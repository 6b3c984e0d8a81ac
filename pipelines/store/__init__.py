"""Storage: the account, table and blob helpers, queue messages. The only package
that imports the Azure storage SDKs; their errors leave it as the project's own."""

from pipelines.store.account import (
    StorageAccount,
    get_account,
    get_probe_account,
    get_worker_account,
    reset_account,
)
from pipelines.store.blobs import BlobInfo, Blobs, MissingBlobError
from pipelines.store.failures import StorageError
from pipelines.store.tables import (
    Entity,
    Operation,
    Table,
    create_op,
    delete_op,
    etag_of,
    key,
    replace_op,
    upsert_op,
)

__all__ = [
    "BlobInfo",
    "Blobs",
    "Entity",
    "MissingBlobError",
    "Operation",
    "StorageAccount",
    "StorageError",
    "Table",
    "create_op",
    "delete_op",
    "etag_of",
    "get_account",
    "get_probe_account",
    "get_worker_account",
    "key",
    "replace_op",
    "reset_account",
    "upsert_op",
]
