"""Azurite on ports chosen for it: a port taken between its choice and Azurite's bind (tests
start servers side by side) makes Azurite exit at once, and it is started again on others."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from pipelines.devhost import azurite as azurite_mod


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port bound by another socket (not listening: connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


def test_a_chosen_port_taken_before_azurite_binds_it_is_chosen_again(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the first port chosen is one another socket holds
    choose = azurite_mod.free_port
    chosen: list[int] = []

    def first_taken(host: str = "127.0.0.1") -> int:
        chosen.append(taken_port if not chosen else choose(host))
        return chosen[-1]

    monkeypatch.setattr(azurite_mod, "free_port", first_taken)
    # WHEN Azurite is started on ports chosen for it
    emulator = azurite_mod.start()
    try:
        # THEN it answers on three other ports
        assert emulator.answering() and emulator.process is not None and emulator.process.poll() is None
        assert taken_port not in emulator.ports and len(chosen) == 6
    finally:
        emulator.stop()


def test_ports_given_are_not_changed(taken_port: int) -> None:
    # GIVEN ports the caller chose, one of them taken: Azurite cannot start, and says so
    with pytest.raises(azurite_mod.AzuriteError, match="exited"):
        azurite_mod.start(ports=(taken_port, azurite_mod.free_port(), azurite_mod.free_port()))
