"""Signed links to step logs (pipelines/runs/loglinks.py), against Azurite: what opens a log
without a token, for how long, and with which key."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from pipelines.runs import loglinks
from pipelines.runs.loglinks import LIFETIME_SECONDS, LogLinks

URL = "https://app.example/pipelines/v1.0/x/PipelineRuns/r1/Graph/Shareable/STDOUT?nodeId=n1"
WHERE = ("ws1", "r1", "n1", "STDOUT")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def query(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query))


@pytest.fixture(autouse=True)
def fresh_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loglinks, "_keys", {})  # each test reads and makes its keys in storage


def test_a_link_opens_its_log_until_it_expires_and_nothing_else(account) -> None:
    links, now = LogLinks(account), at("2026-11-29T10:00:00")
    link = links.sign(URL, *WHERE, now=now)
    assert link.startswith(URL + "&") and set(query(link)) == {"nodeId", "se", "kid", "sig"}
    assert int(query(link)["se"]) == now + LIFETIME_SECONDS and query(link)["kid"] == "202611"
    assert links.verify(query(link), *WHERE, now=now + LIFETIME_SECONDS) is None
    assert "expired" in (links.verify(query(link), *WHERE, now=now + LIFETIME_SECONDS + 1) or "")
    for other in (("ws2", "r1", "n1", "STDOUT"), ("ws1", "r2", "n1", "STDOUT"), ("ws1", "r1", "n2", "STDOUT"),
                  ("ws1", "r1", "n1", "STDERR")):
        assert "does not hold" in (links.verify(query(link), *other, now=now) or ""), other
    assert "not signed" in (links.verify({}, *WHERE, now=now) or "")


def test_every_instance_signs_with_the_months_one_key_kept_where_only_the_app_reads(account, monkeypatch) -> None:
    # GIVEN two instances, each with nothing cached, signing in the same month
    now = at("2026-11-29T10:00:00")
    first = LogLinks(account).sign(URL, *WHERE, now=now)
    monkeypatch.setattr(loglinks, "_keys", {})
    second = LogLinks(account).sign(URL, *WHERE, now=now)
    # THEN they made one key: the same link, which the other verifies
    assert first == second
    monkeypatch.setattr(loglinks, "_keys", {})
    assert LogLinks(account).verify(query(first), *WHERE, now=now) is None
    # AND the key is a row of RunCallbacks, the table no compute target has a role on
    rows = list(account.table("RunCallbacks").query_entities("PartitionKey eq 'link-keys'"))
    assert [row["RowKey"] for row in rows] == ["202611"]


def test_a_link_made_at_the_end_of_a_month_holds_into_the_next_and_older_keys_open_nothing(
    account, monkeypatch: pytest.MonkeyPatch
) -> None:
    links = LogLinks(account)
    late = links.sign(URL, *WHERE, now=at("2026-11-30T23:30:00"))
    assert links.verify(query(late), *WHERE, now=at("2026-12-01T00:10:00")) is None
    # a link that names a key two months old is refused whatever its expiry says
    monkeypatch.setattr(loglinks, "LIFETIME_SECONDS", 90 * 86400)
    old = links.sign(URL, *WHERE, now=at("2026-10-31T23:59:00"))
    assert "not in use" in (links.verify(query(old), *WHERE, now=at("2026-12-01T00:00:00")) or "")


@pytest.mark.parametrize(("changes", "why"), [
    ({"se": "\u00b2"}, "not signed"),  # str.isdigit() takes it, int() does not
    ({"se": "\u0661\u0662"}, "not signed"),  # Arabic-Indic digits: int() reads them
    ({"se": "9" * 5000}, "not signed"),
    ({"sig": "\u00e9" * 43}, "not signed"),
    ({"sig": "abc\u200b"}, "not signed"),
    ({"se": str(int(at("2026-11-29T10:00:00")) + 10 * 365 * 86400)}, "not one this service gives"),
])
def test_a_link_whose_parameters_are_not_what_sign_writes_is_refused_with_a_reason(
    account, changes: dict[str, str], why: str
) -> None:
    links, now = LogLinks(account), at("2026-11-29T10:00:00")
    sent = {**query(links.sign(URL, *WHERE, now=now)), **changes}
    assert why in (links.verify(sent, *WHERE, now=now) or "")


def test_a_month_without_a_key_is_read_once_a_minute_at_most(account, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN links that name last month's key, which was never made
    links, now = LogLinks(account), at("2026-11-29T10:00:00")
    sent = {**query(links.sign(URL, *WHERE, now=now)), "kid": "202610"}
    reads: list[str] = []
    real_get = links.table.get
    monkeypatch.setattr(links.table, "get", lambda partition, row: (reads.append(row), real_get(partition, row))[1])
    # WHEN they are sent again and again THEN storage is asked once
    for _ in range(5):
        assert "does not hold" in (links.verify(sent, *WHERE, now=now) or "")
    assert reads == ["202610"]
