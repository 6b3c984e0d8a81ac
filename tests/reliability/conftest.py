"""Fixtures of the fault suite: development hosts as child processes on the session's real
Azurite (`azurite`, tests/conftest.py; the storage-outage scenario starts one of its own),
the figures of every scenario recorded for one table at the end of the session
(tests/reliability/report.py prints it).

Scale: PIPELINES_RELIABILITY_SCALE=short (the default, part of `make test`) or long
(`make reliability`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.devhost import azurite as azurite_mod
from tests.conftest import unique_prefix
from tests.reliability.harness import (
    FIGURES,
    Api,
    HostProcess,
    Scale,
    host_environment,
    scale,
    start_host,
)


@pytest.fixture(scope="session")
def reliability_scale() -> Scale:
    chosen = scale()
    FIGURES.scale = chosen.name
    return chosen


class Cluster:
    """Two host processes on one Azurite, with storage names of their own."""

    def __init__(self, azurite: azurite_mod.Azurite, folder: Path) -> None:
        self.azurite = azurite
        self.prefix = unique_prefix()
        self.folder = folder
        self.env = host_environment(azurite, self.prefix, folder / "work")
        self.hosts: list[HostProcess] = []

    def start(self, count: int) -> Cluster:
        for _ in range(count):
            self.hosts.append(start_host(self.env, self.azurite, self.folder / f"host{len(self.hosts)}.log"))
        return self

    def api(self, index: int = 0) -> Api:
        return Api(self.hosts[index].base_url)

    def stop(self) -> None:
        for host in self.hosts:
            host.stop()


@pytest.fixture(scope="session")
def cluster(azurite: azurite_mod.Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two hosts shared by the scenarios that kill nothing (each waits for its own runs)."""
    started = Cluster(azurite, tmp_path_factory.mktemp("cluster"))
    try:
        yield started.start(2)
    finally:
        started.stop()


@pytest.fixture
def hosts(azurite: azurite_mod.Azurite, tmp_path: Path) -> Iterator[Callable[[], Cluster]]:
    """Hosts of the test's own (it may kill them): `cluster = hosts()` then `cluster.start(n)`."""
    made: list[Cluster] = []

    def make() -> Cluster:
        made.append(Cluster(azurite, tmp_path))
        return made[-1]

    try:
        yield make
    finally:
        for cluster in made:
            cluster.stop()


@pytest.fixture
def timed(request: pytest.FixtureRequest) -> Iterator[Callable[[str], None]]:
    """`timed(scenario)`: the scenario's row gets the seconds the test took."""
    names: list[str] = []
    started = time.monotonic()
    yield names.append
    for name in names:
        FIGURES.record(name, seconds=round(time.monotonic() - started, 1))
