"""Webhooks reach the public internet only: a connection to any other address is refused.

An endpoint's owner names its webhook URLs, and the app POSTs to them from inside its own
network: without this, a URL could make the app reach what only the app can reach (the
instance metadata and managed identity endpoints, services in its virtual network, the
storage emulator) and learn from the answers' status codes what is there. So a webhook's
host is resolved, and every address it resolves to must be global (`ipaddress`'s
`is_global`: not private, shared, loopback, link-local, reserved or unspecified, nor
an IPv6 form of one; and not multicast, nor Azure's platform address 168.63.129.16),
before a connection is made; and the address the socket connected to is checked before
anything is sent on it (TLS included), so a name that resolves to another address the
second time (DNS rebinding) is refused too.

Where the development setting `PIPELINES_WEBHOOKS_ALLOW_LOCAL_HTTP` allows plain http to
127.0.0.1 and localhost (`pipelines.catalogue.webhooks`), loopback addresses are
allowed as well, and nothing else is.

A session's connections can be cut (`abort`): a call that has taken longer than it may
(`pipelines.events.sinks`) is ended whatever the other side does, an answer sent a byte
at a time included.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import weakref
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# Azure's platform address (its DNS, the host agent, health probes): public, yet answered
# from inside every Azure network only.
AZURE_PLATFORM = frozenset({ipaddress.ip_address("168.63.129.16")})


class AddressRefused(OSError):
    """A webhook's host is, or resolved to, an address webhooks may not reach."""


def allowed(address: str, *, loopback: bool) -> bool:
    """Whether a webhook may connect to `address` (an IP address, as text)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone names a local link
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if loopback and ip.is_loopback:
        return True
    return ip.is_global and not ip.is_multicast and ip not in AZURE_PLATFORM


def check_host(host: str, port: int, *, loopback: bool) -> None:
    """Refuse `host` unless every address it resolves to may be reached."""
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise AddressRefused(f"the webhook's host could not be resolved: {error}") from None
    for *_, sockaddr in found:
        if not allowed(str(sockaddr[0]), loopback=loopback):
            raise AddressRefused("the webhook's host is not a public address")


def _guarded(base: type[HTTPConnection], loopback: bool,
             made_here: weakref.WeakSet[HTTPConnection]) -> type[HTTPConnection]:
    """`base` (urllib3's HTTP or HTTPS connection) whose socket is made only to a checked host,
    and kept only when connected to an allowed address: before TLS starts, so nothing at all
    is sent to an address refused. Each connection is noted in `made_here`, for `abort`."""

    def new_connection(self: HTTPConnection) -> socket.socket:
        check_host(self.host, self.port, loopback=loopback)
        made: socket.socket = base._new_conn(self)  # noqa: SLF001 - where urllib3 makes the socket
        peer = made.getpeername()[0]
        if not allowed(str(peer), loopback=loopback):
            made.close()
            raise AddressRefused("the webhook's host is not a public address")
        made_here.add(self)
        return made

    return type(f"Guarded{base.__name__}", (base,), {"_new_conn": new_connection})


class _Adapter(HTTPAdapter):
    """Connections that check where they go (no proxy: a webhook goes straight to its host)."""

    def __init__(self, loopback: bool) -> None:
        self.loopback = loopback
        self.connections: weakref.WeakSet[HTTPConnection] = weakref.WeakSet()
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("GuardedHTTPPool", (HTTPConnectionPool,),
                         {"ConnectionCls": _guarded(HTTPConnection, self.loopback, self.connections)}),
            "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,),
                          {"ConnectionCls": _guarded(HTTPSConnection, self.loopback, self.connections)}),
        }

    def abort(self) -> None:
        """Shut every connection's socket (TLS or not): a read under way on one ends at once."""
        for connection in list(self.connections):
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def abort(guarded: requests.Session) -> None:
    """Cut the connections of a session made by `session`: its call under way fails now."""
    for adapter in guarded.adapters.values():
        if isinstance(adapter, _Adapter):
            adapter.abort()


def session(*, loopback: bool) -> requests.Session:
    """A session for webhooks: every connection checked. No proxy is taken from the
    environment (the check would see the proxy's address, not the webhook's); a CA bundle
    named there (`REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`) still applies."""
    guarded = requests.Session()
    guarded.trust_env = False
    guarded.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    adapter = _Adapter(loopback)
    guarded.mount("http://", adapter)
    guarded.mount("https://", adapter)
    return guarded
