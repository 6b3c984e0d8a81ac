"""Which published pipelines use a datastore: the check before one is removed.

A pipeline uses a datastore when a datapath default or fixed datapath input
names it, when a dataset default or fixed dataset input lives on it, or when
an output asks for it. Only pipelines that can still run count (Active or
Deprecated: a Deprecated pipeline still accepts runs); a Disabled one can be
enabled again, but then its runs fail at staging with a clear message.

Cost: one Table query over the workspace's partition, projected to three
columns; many pipelines share a graph, and a graph never changes once
published (its id is its hash), so each distinct graph's references are worked
out once per process and kept. Dataset references are point reads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from pipelines.authoring.definition import DataPathValue, DatasetValue, PipelineDefinition
from pipelines.catalogue import PublishedPipeline, PublishedPipelines
from pipelines.data.datasets import Datasets
from pipelines.store import StorageAccount

_DISABLED = 2


@dataclass(frozen=True)
class GraphReferences:
    datastores: frozenset[str]
    datasets: frozenset[tuple[str | None, str | None, int | None]]  # (id, name, version)


def references_of(definition: PipelineDefinition) -> GraphReferences:
    values: list[object] = [p.default for p in definition.parameters if p.type in ("dataset", "datapath")]
    for step in definition.steps:
        values += [spec.fixed for spec in step.inputs if spec.fixed is not None]
    stores = {v.datastore for v in values if isinstance(v, DataPathValue)}
    stores |= {o.datastore for s in definition.steps for o in s.outputs if o.datastore}
    datasets = {(v.id, v.name, v.version) for v in values if isinstance(v, DatasetValue)}
    return GraphReferences(frozenset(stores), frozenset(datasets))


class _Memo:
    def __init__(self, capacity: int = 1024) -> None:
        self._items: dict[tuple[str, str], GraphReferences] = {}
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> GraphReferences | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: tuple[str, str], value: GraphReferences) -> None:
        with self._lock:
            if len(self._items) >= self._capacity:
                self._items.pop(next(iter(self._items)))
            self._items[key] = value


_memo = _Memo()


def pipelines_using(account: StorageAccount, workspace: str, datastore: str) -> list[tuple[str, str | None]]:
    """(pipeline id, name) of every runnable published pipeline whose defaults use `datastore`."""
    published = PublishedPipelines(account)
    rows: list[dict[str, Any]] = []
    token: str | None = None
    while True:  # only the columns the check needs: the definitions are read by graph id
        page, token = published.table.query_page(
            "PartitionKey eq @ws and Status ne @disabled",
            parameters={"ws": workspace, "disabled": _DISABLED},
            page_size=1000,
            continuation=token,
            select=["PartitionKey", "RowKey", "Name", "GraphId", "Status"],
        )
        rows += page
        if token is None:
            break
    datasets = Datasets(account)
    stores_of_dataset: dict[tuple[str | None, str | None, int | None], frozenset[str]] = {}
    users: list[tuple[str, str | None]] = []
    for row in rows:
        record = PublishedPipeline.from_entity(row)
        references = _memo.get((workspace, record.graph_id))
        if references is None:
            references = references_of(published.definition(record))
            _memo.put((workspace, record.graph_id), references)
        used = set(references.datastores)
        for reference in references.datasets:
            if reference not in stores_of_dataset:
                found = datasets.find_reference(workspace, *reference)
                stores_of_dataset[reference] = frozenset(found.datastores) if found else frozenset()
            used |= stores_of_dataset[reference]
        if datastore in used:
            users.append((record.id, record.name))
    return users
