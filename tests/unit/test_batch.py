"""Entity-group transactions written and read by pipelines/store/batch.py, held to what
azure-core writes and to answers the Table service (Azurite here) gives."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from azure.core import MatchConditions
from azure.core.pipeline import Pipeline
from azure.core.rest import HttpRequest
from azure.data.tables import EdmType, TableClient, UpdateMode
from azure.data.tables._policies import StorageHeadersPolicy

from pipelines.store import batch

CONNECTION = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)
ETAG = "W/\"datetime'2026-11-27T23%3A23%3A23.1686439Z'\""


def sdk_body(requests: list[HttpRequest]) -> bytes:
    """The body azure-core writes for these operations (as TableClient._batch_send sets it up)."""
    changeset = HttpRequest("POST", "")
    changeset.set_multipart_mixed(*requests, policies=[StorageHeadersPolicy()], boundary="changeset_C")
    request = HttpRequest("POST", "http://127.0.0.1:10002/devstoreaccount1/$batch")
    request.set_multipart_mixed(changeset, policies=[StorageHeadersPolicy()], enforce_https=False,
                                boundary="batch_B")
    Pipeline._prepare_multipart_mixed_request(request)  # what the pipeline does before sending
    request.prepare_multipart_body()  # type: ignore[attr-defined]
    return re.sub(rb"(x-ms-date|Date): [^\r]*", rb"\1: DATE", request.content)


def test_the_body_is_the_one_azure_core_writes() -> None:
    client = TableClient.from_connection_string(CONNECTION, "Runs")
    operations = [
        ("update", {"PartitionKey": "p", "RowKey": "run", "Status": 2, "Text": "it's é \u2603"},
         {"mode": UpdateMode.REPLACE, "etag": ETAG, "match_condition": MatchConditions.IfNotModified}),
        ("create", {"PartitionKey": "p", "RowKey": "step|a", "When": datetime(2026, 1, 2, tzinfo=UTC),
                    "Big": (2**40, EdmType.INT64), "Raw": b"\x00\x01", "Ok": True, "Ratio": 0.5}),
        ("upsert", {"PartitionKey": "p", "RowKey": "c"}, {"mode": UpdateMode.REPLACE}),
        ("upsert", {"PartitionKey": "p", "RowKey": "d", "N": 1}, {"mode": UpdateMode.MERGE}),
        ("delete", {"PartitionKey": "p", "RowKey": "e"}),
    ]
    requests = batch.operation_requests(client, operations)
    assert batch.encode(requests, "batch_B", "changeset_C", "DATE") == sdk_body(requests)


# Answers as Azurite gives them (captured), in the service's documented layout.
FINISHED = (
    b"--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
    b"--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 204 No Content\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\n"
    b"DataServiceVersion: 3.0;\r\nETag: W/\"datetime'2026-11-27T23%3A23%3A23.1836605Z'\"\r\n\r\n\r\n"
    b"--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 201 Created\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\n"
    b"DataServiceVersion: 3.0;\r\nLocation: http://127.0.0.1/devstoreaccount1/cap(PartitionKey='p',RowKey='b')\r\n"
    b"ETag: W/\"datetime'2026-11-27T23%3A23%3A23.1836620Z'\"\r\n\r\n\r\n"
    b"--changesetresponse_2--\r\n--batchresponse_1--\r\n"
)
REFUSED = (
    b"--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
    b"--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 409 Conflict\r\nContent-ID: 2\r\nDataServiceVersion: 3.0;\r\n"
    b"Content-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n"
    b'{"odata.error":{"code":"EntityAlreadyExists","message":{"lang":"en-US","value":'
    b'"1:The specified entity already exists.\\nRequestId:3251d8ce\\nTime:2026-11-27T23:23:28.075Z"}}}\r\n'
    b"--changesetresponse_2--\r\n--batchresponse_1--\r\n"
)
# A refusal of the whole batch, answered as one part outside any changeset (the service does
# this for a request it cannot take apart).
REFUSED_WHOLE = (
    b"--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n"
    b'{"odata.error":{"code":"InvalidInput","message":{"lang":"en-US","value":"Bad Request - Error in query"}}}'
    b"\r\n--batchresponse_1--\r\n"
)


def test_an_answer_is_read_part_by_part_with_each_new_etag() -> None:
    answers = batch.decode("multipart/mixed; boundary=batchresponse_1", FINISHED)
    assert [status for status, _, _ in answers] == [204, 201]
    assert [headers["etag"] for _, headers, _ in answers] == [
        "W/\"datetime'2026-11-27T23%3A23%3A23.1836605Z'\"", "W/\"datetime'2026-11-27T23%3A23%3A23.1836620Z'\""]


@pytest.mark.parametrize(("body", "status", "index", "message"), [
    (REFUSED, 409, 1, "The specified entity already exists."),
    (REFUSED_WHOLE, 400, None, "Bad Request - Error in query"),
])
def test_a_refusal_names_its_status_operation_and_reason(body: bytes, status: int, index: int | None,
                                                         message: str) -> None:
    [(got, _, content)] = batch.decode('multipart/mixed; boundary="batchresponse_1"', body)
    refused = batch._refused(got, content)
    assert (refused.status, refused.index, refused.message) == (status, index, message)


def test_an_answer_without_a_boundary_is_refused() -> None:
    with pytest.raises(ValueError, match="boundary"):
        batch.decode("multipart/mixed", FINISHED)



class Garbled:
    """What the client's pipeline hands back for a $batch whose answer is not the documented
    layout (a proxy's page, say)."""

    status_code = 202
    headers = {"Content-Type": "multipart/mixed; boundary=b"}

    def read(self) -> bytes:
        return b"--b\r\nContent-Type: application/http\r\n\r\nnot an answer\r\n--b--\r\n"


def test_an_answer_that_cannot_be_read_is_a_storage_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.core.exceptions import HttpResponseError

    client = TableClient.from_connection_string(CONNECTION, "Runs")
    monkeypatch.setattr(client._client, "send_request", lambda request, **kwargs: Garbled())
    # THEN the call fails with the SDK's storage error (which the store translates), not a ValueError
    with pytest.raises(HttpResponseError, match="could not be read"):
        batch.submit(client, [("create", {"PartitionKey": "p", "RowKey": "a"}),
                              ("create", {"PartitionKey": "p", "RowKey": "b"})])
