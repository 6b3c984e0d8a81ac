"""Entity-group transactions: the multipart body written and the answer read here.

azure-data-tables sends a transaction as one `$batch` request whose body is a
`multipart/mixed` document (a changeset holding one HTTP request per operation),
built and read back through azure-core's multipart helpers, which go through the
standard library's `email` package for every part. On Azurite a three-row
transaction then costs the client 6.3 ms of CPU of its 8.6 ms, most of it there,
and every change of a run is such a transaction. Here the two documents are
written and read directly, to the format the Table service documents
("Performing entity group transactions"), which is small and fixed.

Everything else stays the SDK's: each operation's request (its URL, headers,
condition, and the entity with its EDM types) is built by azure-data-tables'
own `TableBatchOperations`, as `TableClient.submit_transaction` builds it, and
the `$batch` request goes through the client's pipeline (authentication,
retries, its headers). `tests/unit/test_batch.py` holds the body written here
to the one azure-core writes, and the answers read here to what it reads.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

if TYPE_CHECKING:
    from azure.data.tables import TableClient

CRLF = "\r\n"
# The headers the SDK's `$batch` request carries (azure.data.tables._base_client._batch_send).
BATCH_HEADERS = {
    "DataServiceVersion": "3.0",
    "MaxDataServiceVersion": "3.0;NetFx",
    "Accept": "application/json",
}


class BatchPartError(Exception):
    """An operation of the transaction was refused: its index, status and message."""

    def __init__(self, index: int | None, status: int, message: str) -> None:
        super().__init__(f"operation {index}: {status} {message}")
        self.index = index
        self.status = status
        self.message = message


def operation_requests(client: TableClient, operations: Sequence[Any]) -> list[HttpRequest]:
    """Each operation's request, as the SDK builds it for `submit_transaction`."""
    from azure.data.tables._table_batch import TableBatchOperations

    batched = TableBatchOperations(
        config=client._client._config,  # noqa: SLF001 - the SDK's own request builder, as it calls it
        endpoint=f"{client.scheme}://{client._primary_hostname}",  # noqa: SLF001
        table_name=client.table_name,
        is_cosmos_endpoint=client._cosmos_endpoint,  # noqa: SLF001
    )
    for operation in operations:
        batched.add_operation(operation)
    return batched.requests


def encode(requests: Sequence[HttpRequest], batch: str, changeset: str, date: str) -> bytes:
    """The `multipart/mixed` body of a transaction of `requests` (one changeset), with the
    date headers the SDK's StorageHeadersPolicy gives each operation."""
    out = [f"--{batch}{CRLF}Content-Type: multipart/mixed; boundary={changeset}{CRLF}{CRLF}".encode()]
    for index, request in enumerate(requests):
        body = request.content if isinstance(request.content, bytes) else (request.content or "").encode()
        headers = dict(request.headers)
        if body and "Content-Length" not in headers:
            headers["Content-Length"] = str(len(body))
        headers["x-ms-date"] = headers["Date"] = date
        lines = [
            f"--{changeset}", "Content-Type: application/http", "Content-Transfer-Encoding: binary",
            f"Content-ID: {index}", "", f"{request.method} {request.url} HTTP/1.1",
            *(f"{name}: {value}" for name, value in headers.items()), "", "",
        ]
        out.append(CRLF.join(lines).encode() + body + CRLF.encode())
    out.append(f"--{changeset}--{CRLF}{CRLF}--{batch}--{CRLF}".encode())
    return b"".join(out)


def _boundary(content_type: str) -> str:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"')
    raise ValueError(f"no boundary in {content_type!r}")


def _parts(body: bytes, boundary: str) -> list[bytes]:
    """The parts of a multipart body, each without its delimiter lines."""
    delimiter = b"--" + boundary.encode()
    pieces = body.split(delimiter)
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break  # the closing delimiter
        parts.append(piece.removeprefix(b"\r\n").removesuffix(b"\r\n"))
    return parts


def _headers(block: bytes) -> dict[str, str]:
    found = {}
    for line in block.decode("latin-1").split(CRLF):
        name, sep, value = line.partition(":")
        if sep:
            found[name.strip().lower()] = value.strip()
    return found


def decode(content_type: str, body: bytes) -> list[tuple[int, Mapping[str, str], bytes]]:
    """(status, headers with lower-case names, body) of each operation's answer, in order."""
    answers: list[tuple[int, Mapping[str, str], bytes]] = []
    for part in _parts(body, _boundary(content_type)):
        head, _, rest = part.partition(b"\r\n\r\n")  # the part's own headers, then what it holds
        part_type = _headers(head).get("content-type", "")
        if not part_type.lower().startswith("multipart/"):
            answers.append(_answer(rest))  # an answer outside a changeset: the batch was refused whole
            continue
        for inner in _parts(rest, _boundary(part_type)):
            answers.append(_answer(inner.partition(b"\r\n\r\n")[2]))
    return answers


def _answer(http: bytes) -> tuple[int, Mapping[str, str], bytes]:
    """An operation's HTTP answer: 'HTTP/1.1 204 No Content', headers, a blank line, a body."""
    status_line, _, after = http.partition(b"\r\n")
    head, _, body = after.partition(b"\r\n\r\n")
    return int(status_line.split(b" ", 2)[1]), _headers(head), body.rstrip(b"\r\n")


def submit(client: TableClient, operations: Sequence[Any]) -> list[dict[str, Any]]:
    """Run `operations` as one transaction; each operation's metadata (its new ETag).

    Raises `BatchPartError` for a refused operation (the first one refused), and
    the SDK's `HttpResponseError` when the transaction as a whole was refused.
    """
    requests = operation_requests(client, operations)
    batch, changeset = f"batch_{uuid.uuid4()}", f"changeset_{uuid.uuid4()}"
    request = HttpRequest(
        "POST",
        f"{client.scheme}://{client._primary_hostname}/$batch",  # noqa: SLF001
        headers={**BATCH_HEADERS, "x-ms-version": client.api_version,
                 "Content-Type": f"multipart/mixed; boundary={batch}"},
        content=encode(requests, batch, changeset, formatdate(usegmt=True)),
    )
    # Streamed, as the SDK sends it: the pipeline then leaves the multipart answer to be read here.
    response = client._client.send_request(request, stream=True)  # noqa: SLF001 - the client's own pipeline
    content = response.read()
    if response.status_code != 202:
        raise HttpResponseError(response=response)
    try:
        answers = decode(response.headers.get("Content-Type", ""), content)
    except (ValueError, IndexError) as exc:
        # Not the service's documented answer: the project's storage error, not a crash.
        raise HttpResponseError(f"the transaction's answer could not be read: {exc}") from None
    for status, _, body in answers:
        if not 200 <= status < 300:
            raise _refused(status, body)
    if len(answers) != len(requests):
        raise HttpResponseError(f"the transaction answered {len(answers)} parts for {len(requests)} operations")
    return [{"etag": headers["etag"]} if "etag" in headers else {} for _, headers, _ in answers]


def _refused(status: int, body: bytes) -> BatchPartError:
    """The refused operation's index and message, from the service's error body
    ('{"odata.error": {"message": {"value": "1:The specified entity already exists..."}}}')."""
    message = body.decode("utf-8", errors="replace")
    index: int | None = None
    try:
        value = json.loads(body)["odata.error"]["message"]["value"]
        head, sep, rest = str(value).partition(":")
        if sep and head.isdigit():
            index, message = int(head), rest
        else:
            message = str(value)
    except (ValueError, KeyError, TypeError):
        pass
    return BatchPartError(index, status, message.split("\n", 1)[0])
