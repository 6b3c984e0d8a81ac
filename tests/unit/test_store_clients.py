"""The account's table clients are all made with the account (pipelines/store/account.py):
making one later would re-point the policies that the clients made before share with it,
under any request of theirs in flight."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.settings import Settings
from pipelines.store.account import TABLES, StorageAccount


def test_every_table_client_is_made_with_the_account_and_none_later(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an account, whose service client may make no table client any more
    account = StorageAccount(Settings(storage_connection="UseDevelopmentStorage=true", name_prefix="t1"))

    def refused(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a table client was made after the account")

    monkeypatch.setattr(account.tables, "get_table_client", refused)
    # WHEN each of the app's tables is asked for, twice
    first = {base: account.table(base) for base in TABLES}
    # THEN each is the client made with the account, for its prefixed name, the same each time
    assert {base: client.table_name for base, client in first.items()} == {base: f"t1{base}" for base in TABLES}
    assert all(account.table(base) is client for base, client in first.items())
