"""How the storage clients send their requests: `requests`, with less done per call.

The SDKs send through azure-core's `RequestsTransport`, which calls
`requests.Session.request` for every storage call. Most of what that does per
call serves browsers and scripts, not a client whose requests are built and
signed by azure-core: it merges the session's cookie jar into the request and
reads the answer's `Set-Cookie` into it (through `http.cookiejar`), merges
settings from the environment, and runs hooks. Without them a table insert or a
small blob upload on Azurite costs the client 0.3 to 0.5 ms less CPU, about 3 ms
instead of 3.5 (`make bench`, figure 9), and a step's turnover makes four such calls.

`LeanSession` sends a request the way `Session.request` does without those: the
same `PreparedRequest` for the URL, headers (the session's defaults merged in, so
the wire is the same) and body, handed to the same `HTTPAdapter.send`, and an
answer that is not streamed read whole before it is returned, as `Session.send`
reads it, so timeouts, TLS, connection pooling and every exception are
`requests`' own and come where they came, and azure-core maps them to its errors
as before. A redirect answer is left as `Session.send` leaves it when
not following it (read, closed, a file body rewound, `next` kept) for azure-core's
`RedirectPolicy`. Storage answers set no cookies; the adapter does not read them.
A request with anything else (proxies, files, redirects to follow, other options,
credentials in the URL) or a session whose own settings were changed goes through
`Session.request` unchanged, and where the environment sets a proxy the clients
keep azure-core's own session (`transport_options`). `tests/unit/test_lean_session.py`
holds each of these to what a plain session does.

An answer's headers are read as headers only (`HeadersOnlyResponse`). `http.client`
hands the header block to the `email` parser as a whole message, and a message whose
type is multipart gets its (empty) body parsed as parts: a regular expression compiled
for its boundary, which is new in every answer. Every transaction's answer is
`multipart/mixed`: that cost 0.4 ms of CPU of each (0.45 ms against 0.07 ms for its
headers), and filled the `re` module's cache with patterns never used again.
"""

from __future__ import annotations

import email.parser
import http.client
import os
import time
import types
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar
from requests.models import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

# What `requests` reads from the environment on every call when it is let to (`trust_env`):
# proxies and .netrc (and CA bundles, below). Reading them scans every variable each time,
# about a tenth of a millisecond a storage call; where none is set, the clients do not look.
_PER_CALL_SETTINGS = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy", "netrc"})
_CA_BUNDLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")  # requests' order


def transport_options() -> dict[str, Any]:
    """Options for one storage client (each client gets its own session): a `LeanSession`
    and `use_env_settings` off when the environment sets no proxy (a proxy keeps `requests`
    reading them, `NO_PROXY` with them, on azure-core's own session), and a CA bundle set
    there given once as the client's `connection_verify`, as `requests` would use it."""
    if any(name.lower() in _PER_CALL_SETTINGS for name in os.environ):
        return {}
    options: dict[str, Any] = {"use_env_settings": False, "session": LeanSession()}
    bundle = next((os.environ[name] for name in _CA_BUNDLES if os.environ.get(name)), None)
    if bundle:
        options["connection_verify"] = bundle
    return options


def parse_headers_only(fp: Any, _class: type[http.client.HTTPMessage] = http.client.HTTPMessage) -> Any:
    """`http.client.parse_headers`, with the block parsed as what it is: headers, no body."""
    lines = http.client._read_headers(fp)  # type: ignore[attr-defined]  # noqa: SLF001 - as parse_headers reads them
    return email.parser.Parser(_class=_class).parsestr(b"".join(lines).decode("iso-8859-1"), headersonly=True)


class HeadersOnlyResponse(http.client.HTTPResponse):
    """`http.client.HTTPResponse` whose `begin` (the standard library's own code) reads the
    headers with `parse_headers_only` in place of `parse_headers`."""

    begin = types.FunctionType(
        http.client.HTTPResponse.begin.__code__,
        {**vars(http.client), "parse_headers": parse_headers_only},
        "begin",
    )


class _Connection(HTTPConnection):
    response_class = HeadersOnlyResponse


class _SecureConnection(HTTPSConnection):
    response_class = HeadersOnlyResponse


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _SecurePool(HTTPSConnectionPool):
    ConnectionCls = _SecureConnection


class LeanAdapter(HTTPAdapter):
    """`HTTPAdapter` whose connections read answers' headers as headers only
    (`HeadersOnlyResponse`) and that does not read cookies from answers (`build_response`
    without `extract_cookies_to_jar`); everything else is the adapter's."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _SecurePool}

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        response = Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url.decode("utf-8") if isinstance(req.url, bytes) else (req.url or "")
        response.request = req
        response.connection = self  # as requests sets it
        return response


def _with_defaults(headers: Mapping[str, str] | None, defaults: Mapping[str, str]) -> CaseInsensitiveDict[str]:
    """What `merge_setting(headers, defaults, dict_class=CaseInsensitiveDict)` makes of two
    mappings: the session's default headers, the request's over them (in the defaults' order,
    then the request's), those set to None left out. Without its `to_key_val_list`, whose
    `isinstance` against a runtime-checkable Protocol (requests 2.32 and later) costs more than
    the merge itself on every storage call."""
    merged: CaseInsensitiveDict[str] = CaseInsensitiveDict(defaults)
    if headers:
        merged.update(headers)
    for name in [name for name, value in merged.items() if value is None]:
        del merged[name]
    return merged


class LeanSession(requests.Session):
    """A session for azure-core's `RequestsTransport` (`session=`): see the module's text."""

    def __init__(self) -> None:
        super().__init__()
        # As RequestsTransport sets up a session of its own: no environment, no retries in urllib3.
        self.trust_env = False
        adapter = LeanAdapter(max_retries=Retry(total=False, redirect=False, raise_on_status=False))
        for prefix in ("http://", "https://"):
            self.mount(prefix, adapter)

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        files: Any = None,
        verify: bool | str | None = True,
        timeout: Any = None,
        cert: Any = None,
        allow_redirects: bool = True,  # requests' default; azure-core passes False
        proxies: dict[str, str] | None = None,
        stream: bool | None = None,
        **kwargs: Any,
    ) -> Response:
        if self._not_lean(url, files, proxies, allow_redirects, kwargs, cert, stream):
            return super().request(
                method, url, headers=headers, data=data, files=files, verify=verify, timeout=timeout,
                cert=cert, allow_redirects=allow_redirects, proxies=proxies, stream=stream, **kwargs,
            )
        prepared = PreparedRequest()
        prepared.prepare_method(method)
        prepared.prepare_url(url, None)
        prepared.prepare_headers(_with_defaults(headers, self.headers))
        prepared.prepare_body(data or {}, None)  # as Session.request passes it: b"" and the like send a length
        prepared.hooks = {"response": []}
        checked = True if verify is None else verify
        started = time.perf_counter()
        response = self.get_adapter(prepared.url or url).send(
            prepared,
            stream=bool(stream),
            timeout=timeout,
            verify=checked,
            cert=cert,
            proxies={},
        )
        response.elapsed = timedelta(seconds=time.perf_counter() - started)
        if response.is_redirect:
            # As Session.send does without following it: the body read, the response closed, a
            # file body rewound, and the next request kept (RedirectPolicy sends it again).
            prepared._cookies = RequestsCookieJar()  # noqa: SLF001 - what resolve_redirects reads
            response._next = next(self.resolve_redirects(  # type: ignore[assignment]  # as requests does
                response, prepared, yield_requests=True, stream=bool(stream), timeout=timeout,
                verify=checked, cert=cert, proxies={},
            ), None)
        if not stream:
            response.content  # noqa: B018 - read now, as Session.send does: its failures are the request's
        return response

    def _not_lean(
        self, url: str, files: Any, proxies: Any, allow_redirects: bool, kwargs: Mapping[str, Any], cert: Any,
        stream: bool | None,
    ) -> bool:
        """What `request` leaves to `Session.request`: anything azure-core's calls do not carry
        (files, proxies, redirects followed, other options, credentials in the URL) and any
        setting of the session itself that `Session.request` would merge in."""
        return bool(
            files or proxies or allow_redirects or kwargs or "@" in url
            or self.cookies or self.params or self.auth or self.proxies or self.hooks.get("response")
            or (cert is None and self.cert) or (stream is None and self.stream)
        )
