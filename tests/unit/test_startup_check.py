"""The settings' check beside the indexing (pipelines/startup.py): what asks for its outcome
waits for it, and a check that breaks lets requests through instead of holding them."""

from __future__ import annotations

import threading
import time

import pytest

from pipelines import startup
from pipelines.errors import ConfigurationError


@pytest.fixture(autouse=True)
def _own_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks here find problems in this bare environment: they are kept in a list of the
    test's own, so that hosts started later in this process do not answer 503."""
    monkeypatch.setattr(startup, "_problems", [])


def _slow_problem() -> None:
    time.sleep(0.3)
    raise ConfigurationError("PIPELINES_EXAMPLE is wrong")


def _asked() -> list[str]:
    """`configuration_problems()` as a request asks for it, on a thread of its own; it must answer in 5 s."""
    answers: list[list[str]] = []
    asking = threading.Thread(target=lambda: answers.append(startup.configuration_problems()), daemon=True)
    asking.start()
    asking.join(timeout=5)
    assert answers, "configuration_problems() did not answer"
    return answers[0]


def test_the_outcome_waits_for_a_check_under_way(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a check whose last part takes a while and finds a problem
    monkeypatch.setattr(startup, "_steps_queue_is_set", _slow_problem)
    # WHEN the check begins on its thread and the outcome is asked for at once
    thread = startup.begin_check()
    problems = _asked()
    # THEN the answer is the check's, not the list of before it ended
    assert "PIPELINES_EXAMPLE is wrong" in problems
    thread.join(timeout=10)
    assert thread.name == "pipelines-startup-check" and not thread.daemon
    # AND a later check's outcome replaces it
    monkeypatch.setattr(startup, "_steps_queue_is_set", lambda: None)
    again = startup.check_configuration()
    assert "PIPELINES_EXAMPLE is wrong" not in again and again == _asked()


def test_a_check_that_breaks_is_logged_and_holds_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a check with a bug of its own
    def broken() -> None:
        raise KeyError("bug")

    monkeypatch.setattr(startup, "_steps_queue_is_set", broken)
    # WHEN it runs beside the indexing
    with caplog.at_level("ERROR", logger="pipelines.startup"):
        startup.begin_check().join(timeout=10)
        # THEN the outcome is answered (requests are not held) and the log says the check failed
        _asked()
    assert "the start-up check failed" in caplog.text
