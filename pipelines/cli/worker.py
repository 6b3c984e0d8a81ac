"""`pipelines worker`: run a compute target's steps in this process (the standalone worker).

    pipelines worker --target gpu --concurrency 2     # queue $PIPELINES_STEPS_QUEUE-gpu
    pipelines worker                                  # the steps queue itself (target `app`)

Storage comes from the environment, as for the Function app (AzureWebJobsStorage, or
AzureWebJobsStorage__queueServiceUri and the other endpoints with a managed identity).
See pipelines/worker/standalone.py and docs/cli.md.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.cli import Subparsers


def register(subparsers: Subparsers) -> None:
    from pipelines.worker.standalone import add_arguments

    parser = subparsers.add_parser(
        "worker", help="run the steps of a compute target's queue in this process, until SIGTERM",
        description="Consume one steps queue and its -poison queue as the Function app's worker does; "
                    "GET /healthz on --health-port; SIGTERM stops it (running steps get --grace seconds).",
    )
    add_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from pipelines.worker.standalone import run

    return run(args)
