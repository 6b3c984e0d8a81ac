"""`python -m bench.hostproc CONFIG_JSON`: the development host for the bench, in its own process.

Serves `function_app`'s functions on a free port with the development token
issuer, prints `ready <base url>` on stdout, and runs until its stdin closes
(or SIGTERM). With `"worker": false` only the HTTP blueprints are registered,
so nothing consumes the steps queue (submit latency without the worker's
load). With `probe_path`, `bench.probes` time the worker and write there on stop.
`tcp_nodelay` and `chain_steps` apply the previews of `bench.previews`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import azure.functions as func


def build_app(worker: bool) -> func.FunctionApp:
    if worker:
        from function_app import app

        return app
    from pipelines.blueprints import BLUEPRINTS
    from pipelines.worker.functions import bp as worker_bp

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in BLUEPRINTS:
        if blueprint is not worker_bp:
            app.register_functions(blueprint)
    return app


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str]) -> int:
    config: dict[str, Any] = json.loads(argv[1])
    # INFO at the root, as the Functions Python worker sets it
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    os.environ["PIPELINES_DEV_ISSUER"] = "true"
    probe_path = Path(config["probe_path"]) if config.get("probe_path") else None
    if probe_path is not None:
        from bench import probes

        probes.install()

    from bench import previews

    if config.get("tcp_nodelay"):
        previews.tcp_nodelay()
    if config.get("chain_steps"):
        previews.chain_steps()  # after the probes: each chained step is timed on its own

    from pipelines.auth import reset_auth
    from pipelines.auth.devissuer import configure_dev_environment
    from pipelines.devhost.host import DevHost

    host = DevHost(build_app(bool(config["worker"])), config["host_json"], "127.0.0.1", 0)
    host.start()
    try:
        os.environ.update(configure_dev_environment(host.base_url))
        reset_auth()
        print(f"ready {host.base_url}", flush=True)
        sys.stdin.read()  # until the bench closes our stdin
    finally:
        host.stop()
        if probe_path is not None:
            from bench import probes

            probes.write(probe_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
