"""Step logs written behind the step (pipelines/worker/logflush.py)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from pipelines.worker import logflush
from pipelines.worker.logflush import LogFlusher


class Writer:
    """A LogWriter's interface, recording what reached it."""

    def __init__(self, name: str, gate: threading.Event | None = None, fail_on: bytes | None = None) -> None:
        self.name = name
        self.gate = gate
        self.fail_on = fail_on
        self.written: list[bytes] = []

        self.requests: list[str] = []

    def append(self, data: bytes) -> None:
        self._write("append", data)

    def put(self, data: bytes) -> None:
        self._write("put", data)

    def _write(self, request: str, data: bytes) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        if data == self.fail_on:
            raise OSError("storage is away")
        self.written.append(data)
        self.requests.append(request)


def test_appends_return_at_once_and_reach_their_logs_in_order() -> None:
    gate = threading.Event()
    flusher = LogFlusher()
    joblog, stdout = Writer("JobLog", gate), Writer("STDOUT")
    # WHEN appends are made while storage is slow (the first write waits on the gate)
    for line in (b"running\n", b"exit code 0\n"):
        flusher.sink(joblog).append(line)  # type: ignore[arg-type]
    flusher.sink(stdout).append(b"hello\n")  # type: ignore[arg-type]
    # THEN the caller was not held: the job log's writes still wait
    assert joblog.written == []
    gate.set()
    assert flusher.drain(5)
    assert b"".join(joblog.written) == b"running\nexit code 0\n" and stdout.written == [b"hello\n"]
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


def test_a_blobs_output_lingers_and_goes_up_as_one_append(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logflush, "LINGER_SECONDS", 0.4)
    flusher = LogFlusher()
    writer = Writer("STDOUT")
    sink = flusher.sink(writer)  # type: ignore[arg-type]
    # WHEN a running step prints three times
    started = time.monotonic()
    for chunk in (b"1\n", b"2\n", b"3\n"):
        sink.append(chunk)
    # THEN nothing is written before the linger is over, then all of it in one append
    while not writer.written:
        assert time.monotonic() - started < 5, "the output was never written"
        time.sleep(0.01)
    assert time.monotonic() - started >= 0.35
    assert writer.written == [b"1\n2\n3\n"] and writer.requests == ["append"]
    # AND what it prints later goes after it, as an append (the blob exists)
    sink.append(b"4\n")
    sink.close()
    assert flusher.drain(5)
    assert writer.written == [b"1\n2\n3\n", b"4\n"] and writer.requests == ["append", "append"]
    flusher.close()


def test_a_log_finished_before_its_first_write_is_put_whole_at_once() -> None:
    # GIVEN a short step: its job log and stdout are whole when its process ends
    flusher = LogFlusher()
    joblog, stdout = Writer("JobLog"), Writer("STDOUT")
    flusher.sink(joblog).append(b"running\n")  # type: ignore[arg-type]
    flusher.sink(stdout).append(b"hello\n")  # type: ignore[arg-type]
    flusher.sink(joblog).append(b"exit code 0\n")  # type: ignore[arg-type]
    started = time.monotonic()
    # WHEN its logs are finished THEN each goes up at once (no linger) as one put
    sinks = [flusher.sink(writer) for writer in (joblog, stdout)]  # type: ignore[arg-type]
    for sink in sinks:
        sink.close()
    while not (joblog.written and stdout.written):
        assert time.monotonic() - started < logflush.LINGER_SECONDS / 2, "a finished log lingered"
        time.sleep(0.005)
    assert joblog.written == [b"running\nexit code 0\n"] and joblog.requests == ["put"]
    assert stdout.written == [b"hello\n"] and stdout.requests == ["put"]
    # AND nothing more may be written to a finished log
    with pytest.raises(RuntimeError):
        sinks[0].append(b"late\n")
    flusher.close()


def test_a_megabyte_waiting_goes_up_without_lingering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logflush, "LINGER_SECONDS", 30.0)
    flusher = LogFlusher()
    writer = Writer("STDOUT")
    flusher.sink(writer).append(b"x" * logflush.LINGER_BYTES)  # type: ignore[arg-type]
    deadline = time.monotonic() + 5
    while not writer.written:
        assert time.monotonic() < deadline, "a megabyte of output waited for the linger"
        time.sleep(0.01)
    assert writer.requests == ["append"]
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


def test_a_whole_log_never_written_is_taken_out_and_a_drain_does_not_wait_for_it() -> None:
    # GIVEN a finished log held in the turnover, and one that is still being written
    flusher = LogFlusher()
    flusher.hold(10)
    small, streaming = Writer("STDOUT"), Writer("STDERR")
    sink = flusher.sink(small)  # type: ignore[arg-type]
    sink.append(b"a\n")
    sink.append(b"b\n")
    sink.close()
    flusher.sink(streaming).append(b"more to come\n")  # type: ignore[arg-type]
    # WHEN the finished one is taken, and the other asked for
    taken = flusher.take(small)  # type: ignore[arg-type]
    # THEN the first comes whole and is never written; the other is not finished: it stays
    assert taken == b"a\nb\n" and sink.written
    assert flusher.take(streaming) is None  # type: ignore[arg-type]
    assert flusher.drain(5)
    assert small.written == [] and streaming.written == [b"more to come\n"]
    flusher.close()


def test_a_log_already_written_is_not_taken_and_one_given_back_is_put_whole() -> None:
    flusher = LogFlusher()
    started, given = Writer("STDOUT"), Writer("STDERR")
    sink = flusher.sink(started)  # type: ignore[arg-type]
    sink.append(b"early\n")
    assert flusher.drain(5) and started.written == [b"early\n"]
    sink.close()
    assert flusher.take(started) is None  # type: ignore[arg-type]
    # a log taken and not kept after all goes up as one request
    flusher.give_back(given, b"x\ny\n")  # type: ignore[arg-type]
    assert flusher.drain(5)
    assert (given.written, given.requests) == ([b"x\ny\n"], ["put"])
    flusher.close()
