"""Rows named per workspace in one partition: event triggers and schedules.

RowKey `{workspace}|{name}` in the partition `partition`: a name is a point
read, a workspace's rows one range query, and every row of the app (what a
timer or an event needs) one partition query.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from pipelines.errors import NotFoundError
from pipelines.store.tables import Table, key

R = TypeVar("R")


class NamedRows(Generic[R]):
    def __init__(self, table: Table, partition: str, what: str, decode: Callable[[Mapping[str, Any]], R]) -> None:
        self.table = table
        self.partition = partition
        self.what = what
        self.decode = decode

    def find(self, workspace: str, name: str) -> Mapping[str, Any] | None:
        return self.table.get(self.partition, key(workspace, name))

    def get(self, workspace: str, name: str) -> R:
        entity = self.find(workspace, name)
        if entity is None:
            raise NotFoundError(f"{self.what} {name!r} was not found", target=name)
        return self.decode(entity)

    def list(self, workspace: str) -> list[R]:
        prefix = key(workspace, "")
        rows = self.table.query_all(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": self.partition, "low": prefix, "high": prefix[:-1] + "}"},  # '}' follows '|'
        )
        return [self.decode(row) for row in rows]

    def active(self) -> builtins.list[R]:
        rows = self.table.query_all("PartitionKey eq @pk and Status eq 0", parameters={"pk": self.partition})
        return [self.decode(row) for row in rows]

    def delete(self, workspace: str, name: str) -> None:
        self.get(workspace, name)  # 404 when unknown
        self.table.delete(self.partition, key(workspace, name))
