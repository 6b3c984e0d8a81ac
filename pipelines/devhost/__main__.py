"""`python -m pipelines.devhost`: Azurite plus the development host, as `func start` would run.

    python -m pipelines.devhost [--host 127.0.0.1] [--port 7071]
        [--azurite-location DIR] [--use-running-azurite] [--azurite-ports 10000,10001,10002]
        [--example]

Order matters: settings go into the environment (local.settings.json `Values`,
the emulator connection, the development issuer) before `function_app` is
imported, because the app reads its settings from there. SIGINT and SIGTERM stop
the host, then Azurite if this process started it (it runs in its own process
group, so stopping it takes node and its children down).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from pipelines.devhost import azurite as azurite_mod
from pipelines.devhost.azurite import ROOT, Azurite
from pipelines.errors import PipelinesError

log = logging.getLogger("pipelines.devhost")

DEFAULT_AZURITE_PORTS = (10000, 10001, 10002)


def _ports(text: str) -> tuple[int, int, int]:
    try:
        blob, queue, table = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected three ports: BLOB,QUEUE,TABLE") from None
    return blob, queue, table


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines.devhost", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7071, help="HTTP port (default 7071; 0 picks a free one)")
    parser.add_argument(
        "--azurite-location", metavar="DIR", help="persist Azurite's data here (default: in memory)"
    )
    parser.add_argument(
        "--use-running-azurite", action="store_true", help="use the Azurite already answering on the ports"
    )
    parser.add_argument(
        "--azurite-ports",
        type=_ports,
        default=DEFAULT_AZURITE_PORTS,
        metavar="B,Q,T",
        help="Azurite's blob, queue and table ports (default 10000,10001,10002)",
    )
    parser.add_argument("--example", action="store_true", help="publish the example pipeline once started")
    return parser.parse_args(argv)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def load_local_settings(path: Path, example: Path | None = None) -> None:
    """`Values` of local.settings.json into the environment, as Core Tools does it.

    A variable already set (and not empty) wins and the file's value is skipped
    with a notice (`StartHostAction.UpdateEnvironmentVariables` in
    azure-functions-core-tools). Without the file (a fresh clone: it is
    git-ignored) the committed example is read instead, so `make run` works out
    of the box; it holds emulator values only.
    """
    if not path.exists():
        if example is None or not example.exists():
            return
        log.info("%s not found: using %s (copy it to change settings)", path.name, example.name)
        path = example
    values: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")).get("Values") or {}
    for name, value in values.items():
        if os.environ.get(name):
            log.info(
                "Skipping '%s' from local settings as it's already defined in current environment variables.",
                name,
            )
            continue
        os.environ[name] = "" if value is None else str(value)
    log.info("loaded %d settings from %s", len(values), path.name)


# Run events go to this queue of Azurite unless the settings say otherwise (`pipelines events tail`
# prints them; PIPELINES_EVENTS_QUEUE set empty turns the local sink off).
LOCAL_EVENTS_QUEUE = "pipeline-events"


def configure_events() -> None:
    if "PIPELINES_EVENTS_QUEUE" not in os.environ:
        os.environ["PIPELINES_EVENTS_QUEUE"] = LOCAL_EVENTS_QUEUE


def start_azurite(args: argparse.Namespace) -> tuple[Azurite, bool]:
    """The emulator to use, and whether this process started it (and so must stop it)."""
    running = Azurite("127.0.0.1", *args.azurite_ports)
    if running.answering():
        log.info("using the Azurite already answering on ports %s", ",".join(map(str, running.ports)))
        return running, False
    if args.use_running_azurite:
        raise azurite_mod.AzuriteError(f"no Azurite answers on ports {','.join(map(str, running.ports))}")
    folder = Path(args.azurite_location) if args.azurite_location else ROOT / ".azurite"
    folder.mkdir(parents=True, exist_ok=True)
    emulator = azurite_mod.start(
        ports=args.azurite_ports,
        location=args.azurite_location,
        log_path=str(folder / "azurite.log"),
    )
    where = args.azurite_location or "memory"
    log.info("Azurite started on ports %s (data in %s)", ",".join(map(str, emulator.ports)), where)
    return emulator, True


def configure_storage(emulator: Azurite) -> None:
    current = os.environ.get("AzureWebJobsStorage", "")
    # The emulator's own ports, also when local.settings.json says UseDevelopmentStorage=true
    # (which means the default ports) and Azurite runs on others.
    if not current or current.strip().rstrip(";").lower() == "usedevelopmentstorage=true":
        os.environ["AzureWebJobsStorage"] = emulator.connection_string


def configure_dev_issuer(base_url: str) -> None:
    os.environ.setdefault("PIPELINES_DEV_ISSUER", "true")
    if not _truthy(os.environ.get("PIPELINES_DEV_ISSUER")):
        return
    try:
        from pipelines.auth.devissuer import configure_dev_environment
    except ImportError as exc:
        log.warning("development token issuer unavailable (%s): tokens cannot be minted locally", exc)
        return
    os.environ.update(configure_dev_environment(base_url))


def publish_example(base_url: str) -> None:
    try:
        from pipelines.devhost.example import publish_example as publish
    except ImportError as exc:
        log.info("no example to publish (%s)", exc)
        return
    try:
        publish(base_url)
    except Exception:
        log.exception("publishing the example failed")


def run(args: argparse.Namespace) -> int:
    from pipelines.devhost.host import DevHost, display_host

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    load_local_settings(ROOT / "local.settings.json", ROOT / "local.settings.example.json")
    port = args.port or azurite_mod.free_port(args.host or "127.0.0.1")
    base_url = f"http://{display_host(args.host)}:{port}"
    emulator, owned = start_azurite(args)
    host: DevHost | None = None
    try:
        configure_storage(emulator)
        configure_dev_issuer(base_url)
        configure_events()
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from function_app import app

        host_json = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
        host = DevHost(app, host_json, args.host, port).start()
        if args.example and not stop.is_set():
            publish_example(host.base_url)
        print(
            f"Development host ready: {host.base_url}/{host.options.route_prefix}".rstrip("/") + "  (Ctrl+C stops)",
            flush=True,
        )
        print(f"Studio: {host.base_url}/{host.options.route_prefix}".rstrip("/") + "/studio/", flush=True)
        if os.environ.get("PIPELINES_EVENTS_QUEUE"):
            print(f"Run events: queue {os.environ['PIPELINES_EVENTS_QUEUE']} (.venv/bin/pipelines events tail)",
                  flush=True)
        while not stop.wait(0.5):  # a timed wait, so signal handlers always get to run
            pass
        return 0
    finally:
        stuck = host.stop() if host is not None else []
        if owned:
            emulator.stop()
            log.info("Azurite stopped")
        if stuck:
            # As the Functions host ends its worker process after its grace period: what still runs
            # (a long step) goes with the process, whose end the step launcher and the steps' lease
            # watchers see; their non-daemon threads would otherwise keep it alive, and Ctrl+C with it.
            log.warning("exiting with %s still running: they end with the process", ", ".join(stuck))
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(message)s", stream=sys.stdout
    )
    # The root logger at INFO, as the Functions Python worker sets it; the storage SDKs'
    # per-request log is quieted by the app itself (pipelines.store.account), as in Azure.
    args = parse_args(argv)
    try:
        return run(args)
    except (azurite_mod.AzuriteError, PipelinesError, OSError, RuntimeError, ImportError) as exc:
        log.error("%s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
