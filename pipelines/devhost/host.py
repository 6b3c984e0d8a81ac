"""`DevHost`: runs a `FunctionApp` locally, in place of Azure Functions Core Tools.

HTTP triggers (and the Event Grid webhook) are served by uvicorn on a background
thread; queue and timer triggers are polled and scheduled by threads of their
own. Every invocation, whatever its trigger, runs in the one `Worker`: sync
functions on its single thread pool, async ones on its event loop
(`pipelines.devhost.worker`). `start()` returns once the socket is listening;
`stop()` ends every thread it started. README.md in this folder lists what is
imitated and what is not.

A function the host would disable at indexing (a route it reserves or that
another function already has, a `%Setting%` that does not resolve, a bad queue
name or schedule) is logged as the host logs it and left out; the others run.

    with DevHost(app, host_json) as host:
        httpx.get(f"{host.base_url}/health")
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from types import TracebackType
from typing import Any, Self

import azure.functions as func
import uvicorn

from pipelines.devhost.functions import EVENT_GRID, HTTP, QUEUE, TIMER, FunctionEntry, index_functions
from pipelines.devhost.hostconfig import HostOptions
from pipelines.devhost.outputs import OutputBinder
from pipelines.devhost.queues import PROCESSING_VISIBILITY, QueuePoller, SharedQueueWatcher, queue_service
from pipelines.devhost.routing import RouteTable, RouteTemplateError
from pipelines.devhost.timers import TimerRunner
from pipelines.devhost.web import JWKS_PATH, HostApplication
from pipelines.devhost.worker import Worker
from pipelines.errors import ConfigurationError

log = logging.getLogger("pipelines.devhost")


class DevHostError(RuntimeError):
    pass


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _dev_issuer_jwks() -> Callable[[], dict[str, Any]] | None:
    """The development issuer's JWKS, when PIPELINES_DEV_ISSUER is on and its module exists."""
    if not _truthy(os.environ.get("PIPELINES_DEV_ISSUER")):
        return None
    try:
        from pipelines.auth.devissuer import jwks
    except ImportError as exc:
        log.warning("PIPELINES_DEV_ISSUER is set but pipelines.auth.devissuer is unavailable (%s)", exc)
        return None
    return jwks


def display_host(host: str) -> str:
    """The address to reach a listener on: a wildcard address is reached through loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class DevHost:
    def __init__(
        self,
        app: func.FunctionApp,
        host_json: Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        processing_visibility: timedelta = PROCESSING_VISIBILITY,
        shutdown_timeout: float = 10.0,
    ) -> None:
        self.options = HostOptions.from_host_json(host_json)
        self.host = host
        self.port = port  # the bound port once started
        self._requested_port = port
        self.processing_visibility = processing_visibility
        self.shutdown_timeout = shutdown_timeout
        self.functions, skipped = index_functions(app)
        for reason in skipped:
            log.warning("skipped %s", reason)
        # Functions the host disables at indexing, with why.
        self.disabled: dict[str, str] = {}
        # Templates are parsed now, so a bad route is reported here rather than on a request.
        self.routes: RouteTable[FunctionEntry] = RouteTable()
        for entry in self._of(HTTP):
            route = str(entry.setting("route") or "").strip() or entry.name
            try:
                self.routes.add(route, entry.setting("methods"), entry, entry.name)
            except RouteTemplateError as exc:
                self._disable(entry, exc)
        self.event_grid = {entry.name: entry for entry in self._of(EVENT_GRID)}
        self.worker: Worker | None = None
        self._stopping = threading.Event()
        self._pollers: list[QueuePoller] = []
        self._timers: list[TimerRunner] = []
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self._started = False
        # The ASGI application once started: tests may drive it without a socket.
        self.application: HostApplication | None = None

    def _of(self, trigger_type: str) -> list[FunctionEntry]:
        return [
            entry
            for entry in self.functions
            if entry.trigger_type == trigger_type and entry.name not in self.disabled
        ]

    def _disable(self, entry: FunctionEntry, reason: Exception) -> None:
        self.disabled[entry.name] = str(reason)
        log.error("Function 'Functions.%s' failed indexing and will be disabled: %s", entry.name, reason)

    @property
    def base_url(self) -> str:
        if not self._started:
            raise DevHostError("the host is not started")
        return f"http://{display_host(self.host)}:{self.port}"

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        if self._started:
            raise DevHostError("the host is already started")
        self._stopping.clear()
        try:
            watcher = SharedQueueWatcher()
            self.worker = Worker(binder=OutputBinder(self.options.queues, watcher.notify, queue_service))
            self.worker.start()
            self._pollers = []
            for entry in self._of(QUEUE):
                try:
                    self._pollers.append(
                        QueuePoller(
                            entry,
                            self.options.queues,
                            self._stopping,
                            self.worker,
                            processing_visibility=self.processing_visibility,
                            watcher=watcher,
                        )
                    )
                except ConfigurationError as exc:  # the host: "'%X%' does not resolve to a value"
                    self._disable(entry, exc)
            self._timers = []
            for entry in self._of(TIMER):
                try:
                    self._timers.append(TimerRunner(entry, self._stopping, self.worker))
                except ConfigurationError as exc:
                    self._disable(entry, exc)
            jwks = _dev_issuer_jwks()
            self._start_server(jwks)
            self._started = True
            for poller in self._pollers:
                poller.start()
            for timer in self._timers:
                timer.start()
        except BaseException:
            self._started = True
            self.stop()
            raise
        self._log_listening(jwks is not None)
        return self

    def _start_server(self, jwks: Callable[[], dict[str, Any]] | None) -> None:
        # Bound here, not by uvicorn, so port 0 yields a known port before serving.
        # IPPROTO_TCP given explicitly: only then does the server set TCP_NODELAY on
        # accepted connections; without it every answer waits out delayed ACKs (~40 ms).
        sock = socket.socket(
            socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as exc:
            sock.close()
            raise DevHostError(
                f"cannot listen on {self.host}:{self._requested_port}: {exc.strerror}"
            ) from exc
        self.port = int(sock.getsockname()[1])
        assert self.worker is not None
        self.application = HostApplication(
            routes=self.routes,
            event_grid=self.event_grid,
            route_prefix=self.options.route_prefix,
            worker=self.worker,
            max_request_bytes=self.options.max_request_bytes,
            jwks=jwks,
        )
        config = uvicorn.Config(
            self.application,
            lifespan="off",
            log_config=None,  # leave the process's logging alone
            access_log=False,  # the application logs one line per request itself
            timeout_graceful_shutdown=max(1, int(self.shutdown_timeout)),
        )
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="devhost-http-server", daemon=True
        )
        self._server_thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._server_thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise DevHostError(f"the HTTP server did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        self._socket = sock

    def stop(self) -> list[str]:
        """Stop serving and polling; wait (up to `shutdown_timeout`) for running invocations.
        Returns what still runs then (the functions' names), which only the process's end stops."""
        if not self._started:
            return []
        self._stopping.set()
        deadline = time.monotonic() + self.shutdown_timeout
        stuck = []
        if self._server is not None and self._server_thread is not None:
            self._server.should_exit = True
            self._server_thread.join(max(1.0, deadline - time.monotonic()))
            if self._server_thread.is_alive():
                stuck.append("HTTP requests")
        for poller in self._pollers:
            if not poller.join(max(0.0, deadline - time.monotonic())):
                stuck.append(poller.entry.name)
        for timer in self._timers:
            if not timer.join(max(0.0, deadline - time.monotonic())):
                stuck.append(timer.entry.name)
        if self.worker is not None:
            self.worker.stop(wait=not stuck)
        sock = getattr(self, "_socket", None)
        if sock is not None:
            sock.close()
        if stuck:
            log.warning("stopped with invocations still running: %s", ", ".join(stuck))
        self._server = None
        self._server_thread = None
        self.worker = None
        self._pollers = []
        self._timers = []
        self._started = False
        return stuck

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- reporting -------------------------------------------------------------------------
    def describe(self) -> list[str]:
        """One line per function: where it listens or what it polls."""
        lines = []
        prefix = f"{self.base_url}/{self.options.route_prefix}".rstrip("/")
        for template, methods, entry in sorted(self.routes.routes(), key=lambda route: route[2].name):
            verbs = ",".join(sorted(methods)) if methods else "ALL"
            lines.append(f"{entry.name}: [{verbs}] {prefix}/{template.text}")
        for poller in self._pollers:
            lines.append(poller.describe())
        for timer in self._timers:
            lines.append(timer.describe())
        for entry in self._of(EVENT_GRID):
            lines.append(
                f"{entry.name}: eventGridTrigger "
                f"{self.base_url}/runtime/webhooks/EventGrid?functionName={entry.name}"
            )
        for name, reason in sorted(self.disabled.items()):
            lines.append(f"{name}: disabled ({reason})")
        return lines

    def _log_listening(self, serves_jwks: bool) -> None:
        log.info("Functions host listening on %s", self.base_url)
        for line in self.describe():
            log.info("  %s", line)
        if serves_jwks:
            log.info("  development issuer keys: [GET] %s/%s", self.base_url, JWKS_PATH)
