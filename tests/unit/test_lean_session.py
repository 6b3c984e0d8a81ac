"""`LeanSession` (pipelines/store/transport.py) against `requests.Session` as azure-core sets
one up: the same bytes on the wire, the same answers, the same exceptions, and azure-core's
errors from them. A real server on 127.0.0.1 reads what each sends."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from azure.core.exceptions import ServiceRequestError, ServiceResponseTimeoutError
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from urllib3.exceptions import NewConnectionError

from pipelines.devhost.azurite import free_port  # a port nothing listens on
from pipelines.store.transport import LeanSession

ANSWER = (
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Set-Cookie: affinity=1; Path=/\r\nx-ms-request-id: abc\r\nContent-Length: 12\r\n\r\n{\"ok\": true}"
)


@dataclass
class Server:
    """Reads one request per connection (head and body as sent) and answers ANSWER, or nothing,
    or (`partial`) ANSWER's head and part of its body, then nothing."""

    silent: bool = False
    partial: bool = False
    received: list[bytes] = field(default_factory=list)

    answer: bytes = ANSWER

    def __post_init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            if "content-length" in headers:
                while len(body) < int(headers["content-length"]):
                    body += conn.recv(65536)
            elif headers.get("transfer-encoding") == "chunked":
                while not body.endswith(b"0\r\n\r\n"):
                    body += conn.recv(65536)
            self.received.append(head + b"\r\n\r\n" + body)
            if self.silent or self.partial:
                if self.partial:
                    conn.sendall(ANSWER[:-5])
                threading.Event().wait(3)
                return
            conn.sendall(self.answer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


def azure_core_session() -> requests.Session:
    """The session azure-core's RequestsTransport makes for itself (with use_env_settings off)."""
    transport = RequestsTransport(use_env_settings=False)
    transport.open()
    assert transport.session is not None
    return transport.session


def _chunks() -> Iterator[bytes]:
    yield b"first,"
    yield b"second"


BODIES = {
    "bytes": lambda: b'{"PartitionKey": "p"}',
    "text": lambda: "caf\u00e9",
    "file": lambda: io.BytesIO(b"x" * 70000),
    "chunks": _chunks,
    "none": lambda: None,
    "empty bytes": lambda: b"",
    "empty bytearray": bytearray,  # falsy but iterable: a length of 0, not chunked
}


@pytest.mark.parametrize("body", sorted(BODIES))
def test_the_request_on_the_wire_is_the_one_requests_sends(server: Server, body: str) -> None:
    # a path and query as the SDKs build them, with characters that must be quoted on the wire
    url = f"http://127.0.0.1:{server.port}/devstoreaccount1/runs/a%20b/c d?comp=block&$filter=PartitionKey eq 'p'"
    # one of the session's default headers replaced in another case, one removed (None), new ones
    headers = {"x-ms-version": "2026-10-06", "Content-Type": "application/octet-stream",
               "Authorization": "SharedKey a:b", "user-agent": "azsdk-python-data-tables/12", "Accept-Encoding": None}
    sent = []
    for session in (azure_core_session(), LeanSession()):
        answer = session.request("PUT", url, headers=headers, data=BODIES[body](), timeout=(3, 3), verify=True,
                                 cert=None, allow_redirects=False, proxies=None)
        assert answer.status_code == 201
        sent.append(server.received[-1])
    assert sent[0] == sent[1]
    line = b"PUT /devstoreaccount1/runs/a%20b/c%20d?comp=block&$filter=PartitionKey%20eq%20'p' HTTP/1.1"
    assert sent[1].startswith(line)
    assert b"\r\nuser-agent: azsdk-python-data-tables/12\r\n" in sent[1] and b"Accept-Encoding: gzip" not in sent[1]


def test_the_answer_reads_as_requests_reads_it_without_keeping_cookies(server: Server) -> None:
    url = f"http://127.0.0.1:{server.port}/x"
    plain, lean = (session.request("GET", url, timeout=(3, 3), allow_redirects=False)
                   for session in (azure_core_session(), LeanSession()))
    for answer in (plain, lean):
        assert (answer.status_code, answer.reason, answer.json()) == (201, "Created", {"ok": True})
        assert answer.headers["X-MS-REQUEST-ID"] == "abc" and answer.encoding == "utf-8"
        assert answer.url == url
    session = LeanSession()
    streamed = session.request("GET", url, timeout=(3, 3), stream=True, allow_redirects=False)
    assert streamed.raw.read() == b'{"ok": true}'
    assert len(session.cookies) == 0  # storage sets none; one set anyway is not sent back


MULTIPART_BODY = b"--batchresponse_6f1c\r\n\r\nbody\r\n--batchresponse_6f1c--\r\n"
MULTIPART_ANSWER = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: multipart/mixed; boundary=batchresponse_6f1c\r\n"
    b"x-ms-request-id: abc\r\nContent-Length: %d\r\n\r\n%s" % (len(MULTIPART_BODY), MULTIPART_BODY)
)


def test_a_multipart_answer_has_its_headers_read_as_headers_only(server: Server) -> None:
    # GIVEN an answer of type multipart, as every transaction's is
    server.answer = MULTIPART_ANSWER
    url = f"http://127.0.0.1:{server.port}/$batch"
    # WHEN it is read by a plain session and by the lean one
    plain, lean = (session.request("POST", url, data=b"x", timeout=(3, 3), allow_redirects=False)
                   for session in (azure_core_session(), LeanSession()))
    # THEN both read the same headers and body
    assert list(lean.headers.items()) == list(plain.headers.items())
    assert lean.content == plain.content == MULTIPART_BODY
    # AND only the plain one parsed the (empty) block after the headers as parts, finding none
    assert plain.raw._original_response.msg.defects
    assert lean.raw._original_response.msg.defects == []


def test_a_request_with_a_proxy_goes_through_requests_own_path(server: Server) -> None:
    # the proxy is our server: it receives the absolute-form request line a proxy gets
    proxy = f"http://127.0.0.1:{server.port}"
    answer = LeanSession().request("GET", "http://storage.invalid/x", proxies={"http": proxy}, timeout=(3, 3))
    assert answer.status_code == 201
    assert server.received[-1].startswith(b"GET http://storage.invalid/x HTTP/1.1")


@pytest.mark.parametrize("setting", ["params", "auth", "credentials in the URL", "session proxies", "hooks"])
def test_what_the_session_itself_is_set_to_is_merged_as_requests_merges_it(server: Server, setting: str) -> None:
    url = f"http://127.0.0.1:{server.port}/x"
    sent = []
    for session in (azure_core_session(), LeanSession()):
        target = url
        if setting == "params":
            session.params = {"p": "1"}
        elif setting == "auth":
            session.auth = ("user", "secret")
        elif setting == "credentials in the URL":
            target = f"http://user:secret@127.0.0.1:{server.port}/x"
        elif setting == "session proxies":
            session.proxies = {"http": f"http://127.0.0.1:{server.port}"}
            target = "http://storage.invalid/x"
        else:
            session.hooks["response"].append(lambda answer, **kwargs: setattr(answer, "hooked", True))
        answer = session.request("GET", target, timeout=(3, 3), allow_redirects=False)
        assert getattr(answer, "hooked", setting != "hooks")
        sent.append(server.received[-1])
    assert sent[0] == sent[1]


def test_a_redirect_answer_is_left_as_requests_leaves_it() -> None:
    # 307 keeps the method and body: requests rewinds a file body for the request to come
    redirect = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /elsewhere\r\nContent-Length: 3\r\n\r\nbye"
    server = Server(answer=redirect)
    try:
        for session in (azure_core_session(), LeanSession()):
            body = io.BytesIO(b"0123456789")
            answer = session.request("PUT", f"http://127.0.0.1:{server.port}/x", data=body, timeout=(3, 3),
                                     allow_redirects=False)  # as azure-core sends (its RedirectPolicy follows)
            assert (answer.status_code, answer.content) == (307, b"bye")
            assert answer.next is not None and answer.next.url == f"http://127.0.0.1:{server.port}/elsewhere"
            assert body.tell() == 0
    finally:
        server.close()


def _raised(url: str, timeout: tuple[float, float]) -> list[type[BaseException]]:
    raised = []
    for session in (azure_core_session(), LeanSession()):
        with pytest.raises(Exception) as caught:  # noqa: PT011 - the type itself is compared below
            session.request("GET", url, timeout=timeout, allow_redirects=False)
        raised.append(type(caught.value))
    return raised


def test_failures_raise_what_requests_raises() -> None:
    # refused: urllib3's own error (retries are off, as azure-core sets them), which azure-core maps
    assert _raised(f"http://127.0.0.1:{free_port()}/x", (1, 1)) == [NewConnectionError] * 2
    silent = Server(silent=True)
    try:
        assert _raised(f"http://127.0.0.1:{silent.port}/x", (1, 0.3)) == [requests.exceptions.ReadTimeout] * 2
    finally:
        silent.close()
    # an answer whose body stops coming: read within the request, as Session.send reads it
    partial = Server(partial=True)
    try:
        assert _raised(f"http://127.0.0.1:{partial.port}/x", (1, 0.3)) == [requests.exceptions.ConnectionError] * 2
    finally:
        partial.close()


def test_azure_core_maps_its_failures_as_with_its_own_session() -> None:
    transport = RequestsTransport(session=LeanSession(), use_env_settings=False, connection_timeout=1, read_timeout=0.3)
    with pytest.raises(ServiceRequestError):
        transport.send(HttpRequest("GET", f"http://127.0.0.1:{free_port()}/x"))
    silent = Server(silent=True)
    try:
        with pytest.raises(ServiceResponseTimeoutError):
            transport.send(HttpRequest("GET", f"http://127.0.0.1:{silent.port}/x"))
    finally:
        silent.close()
