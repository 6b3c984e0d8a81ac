"""Step logs written behind the step (pipelines/worker/logflush.py)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from pipelines.worker.logflush import LogFlusher


class Writer:
    """A LogWriter's interface, recording what reached it."""

    def __init__(self, name: str, gate: threading.Event | None = None, fail_on: bytes | None = None) -> None:
        self.name = name
        self.gate = gate
        self.fail_on = fail_on
        self.written: list[bytes] = []

    def append(self, data: bytes) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        if data == self.fail_on:
            raise OSError("storage is away")
        self.written.append(data)


def test_appends_return_at_once_and_reach_their_logs_in_order() -> None:
    gate = threading.Event()
    flusher = LogFlusher()
    joblog, stdout = Writer("JobLog", gate), Writer("STDOUT")
    # WHEN appends are made while storage is slow (the first write waits on the gate)
    for line in (b"running\n", b"exit code 0\n"):
        flusher.sink(joblog).append(line)  # type: ignore[arg-type]
    flusher.sink(stdout).append(b"hello\n")  # type: ignore[arg-type]
    # THEN nothing is written yet and the caller was not held
    assert joblog.written == [] and stdout.written == []
    gate.set()
    assert flusher.drain(5)
    assert joblog.written == [b"running\n", b"exit code 0\n"] and stdout.written == [b"hello\n"]
    flusher.close()


def test_a_failed_append_is_counted_and_logged_and_the_log_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    flusher = LogFlusher()
    writer = Writer("STDERR", fail_on=b"lost\n")
    sink = flusher.sink(writer)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="pipelines.worker"):
        for chunk in (b"one\n", b"lost\n", b"two\n"):
            sink.append(chunk)
        assert flusher.drain(5)
    assert writer.written == [b"one\n", b"two\n"]
    assert flusher.failures == 1
    assert "STDERR" in caplog.text
    flusher.close()


def test_drain_gives_up_after_its_timeout_and_a_later_drain_still_waits() -> None:
    gate = threading.Event()
    flusher = LogFlusher()
    writer = Writer("JobLog", gate)
    flusher.sink(writer).append(b"stuck\n")  # type: ignore[arg-type]
    assert flusher.drain(0.2) is False
    gate.set()
    assert flusher.drain(5) is True
    assert writer.written == [b"stuck\n"]
    flusher.close()



def test_a_hold_keeps_appends_waiting_until_released() -> None:
    # GIVEN a turnover under way (a step's script exited, its successor has not started)
    flusher = LogFlusher()
    writer = Writer("JobLog")
    flusher.hold(10)
    flusher.sink(writer).append(b"exit code 0\n")  # type: ignore[arg-type]
    # THEN the append waits: its write stays off the turnover
    time.sleep(0.3)
    assert writer.written == []
    # WHEN the successor's process has started THEN it goes on
    flusher.release()
    assert flusher.drain(5) and writer.written == [b"exit code 0\n"]
    flusher.close()


def test_a_hold_ends_by_itself_and_a_drain_ends_it() -> None:
    flusher = LogFlusher()
    writer = Writer("JobLog")
    # A hold nobody releases (the successor never starts) lasts its time, no longer
    flusher.hold(0.2)
    started = time.monotonic()
    flusher.sink(writer).append(b"a\n")  # type: ignore[arg-type]
    while not writer.written:
        assert time.monotonic() - started < 5, "the hold never ended"
        time.sleep(0.01)
    assert time.monotonic() - started >= 0.15
    # A drain (a run's last step, the invocation's end) does not wait out a hold
    flusher.hold(30)
    flusher.sink(writer).append(b"b\n")  # type: ignore[arg-type]
    started = time.monotonic()
    assert flusher.drain(5)
    assert time.monotonic() - started < 2 and writer.written == [b"a\n", b"b\n"]
    flusher.close()
