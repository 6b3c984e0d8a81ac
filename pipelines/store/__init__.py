"""Storage: the account, table helpers and queue messages."""

from pipelines.store.account import StorageAccount, get_account, reset_account
from pipelines.store.tables import Entity, Table, etag_of, key

__all__ = ["Entity", "StorageAccount", "Table", "etag_of", "get_account", "key", "reset_account"]
