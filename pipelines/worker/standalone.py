"""The standalone worker: the queue worker of the Function app, as a long-lived process of its own.

    python -m pipelines.worker.standalone --target gpu --concurrency 2 --health-host 0.0.0.0
    pipelines worker --target gpu                       # the same, from the command line

It consumes one steps queue (a compute target's, `{PIPELINES_STEPS_QUEUE}-{target}`; the target
`app` is the steps queue itself) and its `-poison` queue, with the Function app's own code
(`handle_step_message`, `handle_poison_message`) and the queue semantics of host.json's
`extensions.queues` (`pipelines.worker.queue_listener`). At most `--concurrency` steps run at once.

`GET /healthz` on `--health-port` answers 200 while the poll loop is alive and answers storage,
503 when it is stopping or has not polled successfully for a while.

On SIGTERM or SIGINT it takes no more messages and waits up to `--grace` seconds for its running
steps. Steps still running then are abandoned: stopped as a lost lease stops them, nothing
recorded, their messages visible again once their leases have expired, so another worker takes
each over as a new attempt (the abandoned attempt is recorded Lost). It exits 0. Give the
container `--grace` + ABANDON_SECONDS + a few seconds before it is killed (Container Apps:
terminationGracePeriodSeconds). Guide: docs/architecture.md, "The standalone worker".
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipelines.errors import ConfigurationError
from pipelines.worker.queue_options import MIN_POLLING_INTERVAL, QueueOptions, lookup

log = logging.getLogger("pipelines.worker")

APP_TARGET = "app"  # the Function app's own target: the steps queue itself
DEFAULT_HOST_JSON = Path(__file__).resolve().parents[2] / "host.json"
DEFAULT_GRACE_SECONDS = 30.0
# After the grace: how long abandoned steps get to stop their scripts and give their messages back.
ABANDON_SECONDS = 10.0
# /healthz says 503 when no poll has succeeded for this long (or 3 polling intervals, if longer).
STALE_POLL_SECONDS = 60.0


def target_queue_name(steps_queue: str, target: str) -> str:
    """The queue of a compute target's steps: `{steps_queue}-{target}`, lower-cased; `app` is the steps queue."""
    name = target.strip().lower()
    return steps_queue if name == APP_TARGET else f"{steps_queue}-{name}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's options: shared by `pipelines worker` and `python -m pipelines.worker.standalone`."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--target", default=None,
                       help=f"compute target whose steps to run: queue $PIPELINES_STEPS_QUEUE-NAME ('{APP_TARGET}': "
                            "the steps queue itself); default $PIPELINES_WORKER_TARGET, else app")
    which.add_argument("--queue", default=None, help="the queue to consume, by name (instead of --target)")
    parser.add_argument("--workspace", default=None,
                        help="read --target from this workspace's catalogue: its Queue, MaxConcurrentSteps and "
                             "MaxStepTimeoutSeconds apply; default $PIPELINES_WORKER_WORKSPACE, else not read")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="steps run at once (default: the target's MaxConcurrentSteps with --workspace, else 1; "
                             "never more than it)")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_SECONDS,
                        help="on SIGTERM, seconds running steps get to finish before they are abandoned (default 30)")
    parser.add_argument("--health-host", default="127.0.0.1",
                        help="address of the health probe (default 127.0.0.1; 0.0.0.0 in a container)")
    parser.add_argument("--health-port", type=int, default=8080, help="port of GET /healthz (default 8080; 0: none)")
    parser.add_argument("--host-json", type=Path, default=DEFAULT_HOST_JSON,
                        help="host.json whose extensions.queues options to follow (default: the app's)")
    parser.add_argument("--max-polling-interval", type=float, default=None, help="seconds; overrides host.json")
    parser.add_argument("--visibility-timeout", type=float, default=None, help="seconds; overrides host.json")
    parser.add_argument("--max-dequeue-count", type=int, default=None, help="overrides host.json")
    # As a Container Apps job's execution (infra/app/workers.bicep): end once the queue is drained.
    parser.add_argument("--exit-when-idle", type=float, default=None, metavar="SECONDS",
                        help="exit 0 once no message was taken or running for SECONDS (default: run until SIGTERM)")
    parser.add_argument("--max-messages", type=int, default=None,
                        help="take at most this many step messages, then exit once they are handled")


def queue_options(args: argparse.Namespace) -> QueueOptions:
    """host.json's `extensions.queues` (the Function app's), with the command line's overrides."""
    section: dict[str, Any] = {}
    path: Path | None = args.host_json
    if path is not None and path.is_file():
        extensions = lookup(json.loads(path.read_text(encoding="utf-8")), "extensions") or {}
        section = dict(lookup(extensions, "queues") or {})
    options = QueueOptions.from_section(section)
    changes: dict[str, Any] = {}
    if args.max_polling_interval is not None:
        changes["max_polling_interval"] = max(MIN_POLLING_INTERVAL, timedelta(seconds=args.max_polling_interval))
    if args.visibility_timeout is not None:
        changes["visibility_timeout"] = timedelta(seconds=max(0.0, args.visibility_timeout))
    if args.max_dequeue_count is not None:
        changes["max_dequeue_count"] = max(1, args.max_dequeue_count)
    return QueueOptions(**{**options.__dict__, **changes})


class Health:
    """What `/healthz` reports."""

    def __init__(self, target: str, queue: str, stale_after: float, concurrency: int = 1) -> None:
        self.target, self.queue, self.concurrency = target, queue, concurrency
        self.since = datetime.now(UTC).isoformat(timespec="seconds")
        self.stopping = threading.Event()
        self.listeners: list[Any] = []
        self._stale_after = stale_after

    def report(self) -> tuple[int, dict[str, Any]]:
        polls = [listener.last_poll for listener in self.listeners]
        fresh = bool(polls) and all(p is not None and time.monotonic() - p <= self._stale_after for p in polls)
        status = "stopping" if self.stopping.is_set() else "ok" if fresh else "not polling"
        body = {
            "status": status, "target": self.target, "queue": self.queue, "concurrency": self.concurrency,
            "running": sum(listener.running for listener in self.listeners),
            "taken": sum(listener.taken for listener in self.listeners), "since": self.since,
        }
        return (200 if status == "ok" else 503), body


def serve_health(health: Health, host: str, port: int) -> ThreadingHTTPServer:
    class Probe(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            if self.path.split("?")[0] != "/healthz":
                self.send_error(404)
                return
            code, body = health.report()
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: probes come every few seconds
            return

    server = ThreadingHTTPServer((host, port), Probe)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="healthz", daemon=True).start()
    return server


def run(args: argparse.Namespace) -> int:
    """Consume the queue until SIGTERM or SIGINT; returns the exit status (0 after a stop)."""
    from pipelines.store import get_worker_account, messages
    from pipelines.worker import handler, watch
    from pipelines.worker.queue_listener import QueueListener

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    if args.concurrency is not None and args.concurrency < 1:
        raise ConfigurationError("--concurrency must be at least 1")
    account = get_worker_account()
    settings = account.settings
    target = (args.target or os.environ.get("PIPELINES_WORKER_TARGET") or APP_TARGET).lower()
    name = (args.queue or target_queue_name(settings.steps_queue_name, target)).lower()
    concurrency = args.concurrency or 1
    workspace = args.workspace or os.environ.get("PIPELINES_WORKER_WORKSPACE")
    if workspace and not args.queue:
        name, concurrency = _apply_catalogue(account, workspace, target, args.concurrency)
    options = queue_options(args)
    queue, poison = account.queue(name), account.queue(f"{name}-poison")
    for client in (queue, poison):
        with contextlib.suppress(Exception):  # it exists, or polling says why not
            client.create_queue()
    # The other half of the routing change (issue 16): a worker tells the handler which queue it serves.
    routed = "target_queue" in inspect.signature(handler.handle_step_message).parameters

    def step(body: bytes, count: int) -> None:
        payload = messages.decode(body)
        kwargs: dict[str, Any] = {"target_queue": name} if routed else {}
        outcome = handler.handle_step_message(account, payload, **kwargs)
        log.info("queue %s (delivery %d): %s", name, count, outcome)

    def poisoned(body: bytes, count: int) -> None:
        outcome = handler.handle_poison_message(account, messages.decode(body), count)
        log.warning("queue %s-poison: %s", name, outcome)

    steps = QueueListener(queue, poison, options, step, concurrency=concurrency)
    steps.max_messages = args.max_messages
    poisons = QueueListener(poison, None, options, poisoned, concurrency=1)
    stale = max(STALE_POLL_SECONDS, 3 * options.max_polling_interval.total_seconds())
    health = Health(target, name, stale, concurrency)
    health.listeners = [steps, poisons]
    server = serve_health(health, args.health_host, args.health_port) if args.health_port else None

    def stop(signum: int, _frame: object) -> None:
        health.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    steps.start()
    poisons.start()
    log.info("worker %s: serving queue %s (target %s), %d at once; health on %s:%s", handler.WORKER_ID, name,
             target, concurrency, args.health_host, server.server_address[1] if server else "-")
    while not health.stopping.wait(0.5):
        if _done(args, steps, poisons):
            log.info("nothing left to do: stopping")
            health.stopping.set()
    # Stop: no new messages; the running steps get the grace, then are given up.
    for listener in (steps, poisons):
        listener.stop_fetching()
    log.info("stopping: %d step(s) running get up to %.0fs to finish", steps.running, args.grace)
    deadline = time.monotonic() + max(0.0, args.grace)
    finished = steps.wait_idle(deadline - time.monotonic()) and poisons.wait_idle(max(0.0, deadline - time.monotonic()))
    if not finished:
        # Visible again once the step's lease has expired: the next worker takes it over.
        steps.abandon(settings.step_lease_seconds + 1)
        poisons.abandon(0)
        log.warning("stopping: abandoning %d step(s) still running after the grace", steps.running)
        watch.abandon_running_steps()
        steps.wait_idle(ABANDON_SECONDS)
        left = steps.release_unfinished() + poisons.release_unfinished()
        if left:
            log.warning("stopping: %d message(s) given up while their handling still ran", left)
    for listener in (steps, poisons):
        listener.close()
    if server is not None:
        server.shutdown()
    log.info("stopped")
    return 0


def _apply_catalogue(account: Any, workspace: str, target: str, asked: int | None) -> tuple[str, int]:
    """The target as the workspace's catalogue declares it: (its queue, the steps to run at once).
    Its MaxStepTimeoutSeconds caps every step's timeout here; a --concurrency over its
    MaxConcurrentSteps is refused (ConfigurationError), as is a target that does not exist."""
    from pipelines.catalogue.targets import ComputeTargets

    found = ComputeTargets(account).find(workspace, target)
    if found is None:
        raise ConfigurationError(f"compute target {target!r} does not exist in workspace {workspace!r}")
    if found.built_in:  # the app itself: its queue, no limits of the catalogue's
        return found.queue, asked or 1
    if asked is not None and asked > found.max_concurrent_steps:
        raise ConfigurationError(f"--concurrency {asked} is over compute target {target!r}'s MaxConcurrentSteps "
                         f"({found.max_concurrent_steps})")
    settings = account.settings
    settings.max_step_timeout_seconds = min(settings.max_step_timeout_seconds, found.max_step_timeout_seconds)
    return found.queue, asked or found.max_concurrent_steps


def _done(args: argparse.Namespace, steps: Any, poisons: Any) -> bool:
    """--max-messages taken and handled, or --exit-when-idle seconds without a message."""
    if steps.running or poisons.running:
        return False
    if args.max_messages is not None and steps.taken >= args.max_messages:
        return True
    idle = time.monotonic() - max(steps.last_busy, poisons.last_busy)
    return args.exit_when_idle is not None and idle >= args.exit_when_idle


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.worker.standalone",
                                     description=(__doc__ or "").split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
