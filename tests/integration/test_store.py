"""Storage helpers against a real Azurite."""

from __future__ import annotations

import pytest

from pipelines.errors import AlreadyExistsError, BadRequestError, EtagMismatchError
from pipelines.store import Table, etag_of, key, messages


def test_insert_if_absent_refuses_the_second_insert(account) -> None:
    # GIVEN a table with one entity
    table = Table(account.table("Pipelines"))
    table.insert({"PartitionKey": "ws", "RowKey": "a", "v": 1})
    # WHEN the same key is inserted again
    # THEN the project's own error is raised and the first value stays
    with pytest.raises(AlreadyExistsError):
        table.insert({"PartitionKey": "ws", "RowKey": "a", "v": 2})
    assert table.get("ws", "a")["v"] == 1


def test_replace_with_a_stale_etag_is_refused(account) -> None:
    table = Table(account.table("Pipelines"))
    table.insert({"PartitionKey": "ws", "RowKey": "b", "v": 1})
    first = table.get("ws", "b")
    table.replace({"PartitionKey": "ws", "RowKey": "b", "v": 2}, etag_of(first))
    with pytest.raises(EtagMismatchError):
        table.replace({"PartitionKey": "ws", "RowKey": "b", "v": 3}, etag_of(first))
    assert table.get("ws", "b")["v"] == 2


def test_transaction_is_all_or_nothing(account) -> None:
    table = Table(account.table("Runs"))
    table.insert({"PartitionKey": "r", "RowKey": "2"})
    with pytest.raises(AlreadyExistsError):
        table.transact(
            [("create", {"PartitionKey": "r", "RowKey": "1"}), ("create", {"PartitionKey": "r", "RowKey": "2"})]
        )
    assert table.get("r", "1") is None


def test_paged_query_walks_every_entity_once(account) -> None:
    table = Table(account.table("Pipelines"))
    for i in range(7):
        table.insert({"PartitionKey": "ws", "RowKey": f"{i:03d}"})
    seen, token = [], None
    while True:
        page, token = table.query_page("PartitionKey eq @pk", parameters={"pk": "ws"}, page_size=3, continuation=token)
        seen += [e["RowKey"] for e in page]
        if token is None:
            break
    assert seen == [f"{i:03d}" for i in range(7)]


def test_a_forged_continuation_token_is_a_bad_request(account) -> None:
    table = Table(account.table("Pipelines"))
    with pytest.raises(BadRequestError):
        table.query_page("PartitionKey eq 'x'", page_size=3, continuation="not-a-token!")


def test_keys_refuse_separator_and_control_characters() -> None:
    assert key("ws", "abc") == "ws|abc"
    for bad in ("a/b", "a|b", "a#b", "a?b", "a\\b", "a\nb"):
        with pytest.raises(BadRequestError):
            key("ws", bad)


def test_queue_message_round_trips_through_base64(account) -> None:
    queue = account.queue(account.settings.steps_queue_name)
    messages.send(queue, {"runId": "r1", "nodeId": "n1", "attempt": 1})
    [received] = list(queue.receive_messages(max_messages=1))
    # the text on the wire is base64, as the Functions trigger expects
    import base64
    import json

    assert json.loads(base64.b64decode(received.content)) == {"attempt": 1, "nodeId": "n1", "runId": "r1"}
    assert messages.decode(received.content) == {"attempt": 1, "nodeId": "n1", "runId": "r1"}


def test_a_transaction_answers_the_etag_of_each_row(account) -> None:
    table = Table(account.table("Runs"))
    results = table.transact(
        [("create", {"PartitionKey": "p", "RowKey": "a"}), ("create", {"PartitionKey": "p", "RowKey": "b"})]
    )
    assert [r["etag"] for r in results] == [etag_of(table.get("p", "a")), etag_of(table.get("p", "b"))]


def test_a_stale_etag_anywhere_in_a_transaction_refuses_all_of_it(account) -> None:
    from pipelines.store import create_op, replace_op

    table = Table(account.table("Runs"))
    [a, b] = table.transact([create_op({"PartitionKey": "st", "RowKey": "a", "v": 1}),
                             create_op({"PartitionKey": "st", "RowKey": "b", "v": 1})])
    table.replace({"PartitionKey": "st", "RowKey": "b", "v": 2}, b["etag"])  # another writer moved b on
    with pytest.raises(EtagMismatchError):
        table.transact([replace_op({"PartitionKey": "st", "RowKey": "a", "v": 3}, a["etag"]),
                        replace_op({"PartitionKey": "st", "RowKey": "b", "v": 3}, b["etag"]),
                        create_op({"PartitionKey": "st", "RowKey": "c", "v": 3})])
    assert (table.get("st", "a")["v"], table.get("st", "b")["v"], table.get("st", "c")) == (1, 2, None)


def test_a_transaction_the_service_refuses_as_malformed_is_a_storage_error(account) -> None:
    from pipelines.store import StorageError, create_op

    table = Table(account.table("Runs"))
    # A key the service does not take ('/' is not allowed in a RowKey): refused, nothing written
    with pytest.raises(StorageError):
        table.transact([create_op({"PartitionKey": "x1", "RowKey": "a"}),
                        create_op({"PartitionKey": "x1", "RowKey": "b/c"})])
    assert table.get("x1", "a") is None


def test_a_transaction_of_one_row_keeps_the_batch_outcomes(account) -> None:
    # GIVEN a row (a transaction of one operation is made as a plain request: the outcomes must
    # be the batch's)
    from pipelines.store import create_op, replace_op, upsert_op

    table = Table(account.table("Runs"))
    [created] = table.transact([create_op({"PartitionKey": "one", "RowKey": "a", "v": 1})])
    assert created["etag"] == etag_of(table.get("one", "a"))
    # WHEN it is created again, THEN the key is taken
    with pytest.raises(AlreadyExistsError):
        table.transact([create_op({"PartitionKey": "one", "RowKey": "a", "v": 9})])
    # WHEN it is replaced on its ETag, THEN the answer carries the new ETag, which the next
    # conditional replace needs; the old one is refused
    [replaced] = table.transact([replace_op({"PartitionKey": "one", "RowKey": "a", "v": 2}, created["etag"])])
    assert replaced["etag"] != created["etag"] and replaced["etag"] == etag_of(table.get("one", "a"))
    with pytest.raises(EtagMismatchError):
        table.transact([replace_op({"PartitionKey": "one", "RowKey": "a", "v": 3}, created["etag"])])
    # A replace of a row that is not there is refused too (as a batch refuses it: 404)
    with pytest.raises(EtagMismatchError):
        table.transact([replace_op({"PartitionKey": "one", "RowKey": "gone", "v": 1}, created["etag"])])
    [upserted] = table.transact([upsert_op({"PartitionKey": "one", "RowKey": "b", "v": 4})])
    assert upserted["etag"] == etag_of(table.get("one", "b"))
    # A delete of a missing row stays a batch: refused, as one batch of many would refuse it
    with pytest.raises(EtagMismatchError):
        table.transact([("delete", {"PartitionKey": "one", "RowKey": "gone"})])
    assert table.get("one", "a")["v"] == 2 and table.get("one", "gone") is None


def test_a_property_too_large_to_keep_is_a_bad_request_naming_it(account) -> None:
    table = Table(account.table("Runs"))
    with pytest.raises(BadRequestError) as caught:
        table.insert({"PartitionKey": "p", "RowKey": "big", "Tags": "x" * 40_000})
    assert caught.value.target == "Tags"
    with pytest.raises(BadRequestError):
        table.transact([("create", {"PartitionKey": "p", "RowKey": "b1", "Tags": "é" * 33_000})])
    assert table.get("p", "big") is None and table.get("p", "b1") is None
    table.insert({"PartitionKey": "p", "RowKey": "ok", "Tags": "x" * 32_000})  # just under the limit


def test_logs_answer_their_end_and_stop_growing_at_their_limit(account, monkeypatch) -> None:
    from pipelines.runs import logs

    monkeypatch.setattr(logs, "MAX_ANSWER_BYTES", 10)
    writer = logs.StepLogs(account).writer("ws", "r", "n", 1, "STDOUT", limit=30)
    writer.append(b"0123456789" * 2)
    writer.append(b"abcdefghij" * 2)  # crosses the limit: cut, with a note
    writer.append(b"never written")
    text = logs.StepLogs(account).read("ws", "r", "n", 1, "STDOUT")
    assert text.startswith("[... the first ") and "never" not in text
    full = logs.StepLogs(account).container.read(logs.log_blob_name("ws", "r", "n", 1, "STDOUT"))
    assert full.startswith(b"0123456789" * 2 + b"abcdefghij") and b"log truncated" in full


# -- ensure: what the app needs exists ---------------------------------------------------------------
def _requests_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every storage request the clients send from now on (method and path), as the lean session sends it."""
    from pipelines.store.transport import LeanSession

    made: list[str] = []
    send = LeanSession.request

    def counted(self: LeanSession, method: str, url: str, *args: object, **kwargs: object) -> object:
        made.append(f"{method} {url.split('?')[0]}")
        return send(self, method, url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LeanSession, "request", counted)
    return made


def test_ensure_reads_what_exists_with_three_listings_and_creates_only_what_is_missing(
    account, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.store.account import CONTAINERS, TABLES, StorageAccount

    settings = account.settings
    # GIVEN the account made by the fixture (everything created), less one table and one container
    account.tables.delete_table(settings.table_name("Schedules"))
    account.blobs.delete_container(settings.container_name("graphs"))
    made = _requests_made(monkeypatch)
    # WHEN a new process's account ensures what the app needs
    StorageAccount(settings).ensure()
    # THEN it listed each service once and created just the two missing
    creates = [r for r in made if not r.startswith("GET")]
    assert len(made) - len(creates) == 3, made
    assert len(creates) == 2 and any("Tables" in r for r in creates) and any("graphs" in r for r in creates), made
    assert settings.table_name("Schedules") in {t.name for t in account.tables.list_tables()}
    assert account.container("graphs").create() is False  # it exists again
    # AND with everything there, a start makes the three listings and nothing else
    made.clear()
    StorageAccount(settings).ensure()
    assert len(made) == 3 and all(r.startswith("GET") for r in made), made
    assert len(TABLES) + len(CONTAINERS) > 3
    # AND the listings ask for the app's names only: another app's tables are not read (so that
    # an account with a thousand others lists its own in one page)
    other = "zz" + settings.table_name("Runs")
    account.tables.create_table(other)
    try:
        tables, _, _ = StorageAccount(settings)._present()
        assert tables == {settings.table_name(base) for base in TABLES}
    finally:
        account.tables.delete_table(other)


def test_an_identity_that_may_not_list_creates_each_resource(account, monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.core.exceptions import HttpResponseError
    from azure.data.tables import TableServiceClient

    from pipelines.store.account import TABLES, StorageAccount

    def refused(*args: object, **kwargs: object) -> object:
        error = HttpResponseError(message="This request is not authorized to perform this operation.")
        error.status_code = 403
        raise error

    # GIVEN an identity refused the account-wide table listing (a compute target's roles are per table)
    monkeypatch.setattr(TableServiceClient, "query_tables", refused)
    made = _requests_made(monkeypatch)
    # WHEN it ensures what the app needs
    StorageAccount(account.settings).ensure()
    # THEN it asked to create each table (each exists: nothing changes), and listed the other two services
    assert sum(1 for r in made if r.startswith("POST") and r.endswith("/Tables")) == len(TABLES), made
