"""Figure 9: one storage call's cost to the client, with azure-core's own `requests` session
and with the app's (`pipelines.store.transport.LeanSession`).

The calls a step's turnover makes most: a small blob upload (a step's output, its log) and
a table insert (the reuse index's look-up). Each is made `calls` times one after another on
this thread, the two sessions alternated in rounds, against the same Azurite; the client's
CPU is this thread's (`time.thread_time`), so Azurite's share is left out. Both clients are
built as `StorageAccount` builds them (SDK defaults, no proxy from the environment).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.report import Row, Section
from bench.stats import Summary
from pipelines.store.transport import transport_options

ROUNDS = 2
WARM_UP = 30


def _timed(call: Callable[[], object], calls: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for index in range(calls + WARM_UP):
        wall, cpu = time.perf_counter(), time.thread_time()
        call()
        if index >= WARM_UP:
            cpus.append(time.thread_time() - cpu)
            walls.append(time.perf_counter() - wall)
    return walls, cpus


def measure(connection: str, calls: int) -> Section:
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient

    name = f"bench{uuid.uuid4().hex[:12]}"
    sessions: dict[str, Callable[[], dict[str, Any]]] = {
        "azure-core's session": lambda: {"use_env_settings": False},
        "the app's lean session": transport_options,
    }
    made = {label: (BlobServiceClient.from_connection_string(connection, **options()).get_container_client(name),
                    TableServiceClient.from_connection_string(connection, **options()).get_table_client(name))
            for label, options in sessions.items()}
    container, table = next(iter(made.values()))
    container.create_container()
    table.create_table()
    samples: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for _ in range(ROUNDS):
        for label, (blobs, rows) in made.items():
            for call, operation in (
                ("blob upload (200 B)", lambda b=blobs: b.upload_blob(uuid.uuid4().hex, b"x" * 200, overwrite=True)),
                ("table insert", lambda r=rows: r.create_entity({"PartitionKey": "p", "RowKey": uuid.uuid4().hex})),
            ):
                walls, cpus = _timed(operation, calls)
                kept = samples.setdefault((call, label), ([], []))
                kept[0].extend(walls)
                kept[1].extend(cpus)
    section = Section("9. One storage call, its client's side: azure-core's requests session vs the app's lean session")
    for (call, label), (walls, cpus) in samples.items():
        section.add(Row(f"{call}, {label}: wall", Summary.of_seconds(walls)))
        section.add(Row(f"{call}, {label}: client CPU", Summary.of_seconds(cpus)))
    section.notes.append(
        f"{ROUNDS} rounds of {calls} calls per call and session, one after another on one thread; "
        "client CPU = time.thread_time of the calling thread (Azurite's share left out)"
    )
    container.delete_container()
    table.delete_table()
    return section
