"""Closed-loop load: `clients` threads, each with its own connection, calling back to back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Caller(Protocol):
    """One client's repeated operation, with whatever connections it holds."""

    def __call__(self) -> object: ...

    def close(self) -> None: ...


@dataclass
class LoadResult:
    latencies: list[float]  # seconds, every timed call of every client
    wall: float  # seconds from the start signal to the last call's end
    errors: list[BaseException]

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0


def run_load(make_caller: Callable[[], Caller], clients: int, total: int, warmup_each: int = 2) -> LoadResult:
    """`total` timed calls split over `clients` threads that start together (after untimed warm-ups)."""
    per_client = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    finished: list[float] = []

    def client(calls: int) -> None:
        caller: Caller | None = None
        try:
            caller = make_caller()
            for _ in range(warmup_each):
                caller()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller of run_load
            with lock:
                errors.append(exc)
        ready.wait()
        if caller is None:
            return
        mine: list[float] = []
        try:
            for _ in range(calls):
                started = time.perf_counter()
                caller()
                mine.append(time.perf_counter() - started)
        except BaseException as exc:  # noqa: BLE001
            with lock:
                errors.append(exc)
        finally:
            caller.close()
            with lock:
                latencies.extend(mine)
                finished.append(time.perf_counter())

    threads = [threading.Thread(target=client, args=(n,), name=f"bench-client-{i}") for i, n in enumerate(per_client)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return LoadResult(latencies, max(finished, default=started) - started, errors)
