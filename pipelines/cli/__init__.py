"""The project's command line: `python -m pipelines <command> [options]`.

Each command is a module of this package exposing `register(subparsers)`,
which adds its parser and sets `handler`, a function of the parsed arguments
returning the exit status:

    def register(subparsers: Subparsers) -> None:
        parser = subparsers.add_parser("publish", help="...")
        parser.add_argument(...)
        parser.set_defaults(handler=run)

Adding a command is one line in `COMMANDS`. Every listed module is imported to
build `--help`, so import heavy packages (storage SDKs) inside the handler.
A `PipelinesError` from a handler becomes `error: <message>` on stderr and
exit status 1; stdout stays free for the command's output.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipelines.errors import PipelinesError

if TYPE_CHECKING:
    from typing import TypeAlias

    Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

COMMANDS: tuple[str, ...] = (
    "pipelines.cli.devtoken",
    "pipelines.cli.catalogue",
    "pipelines.cli.runs",
    "pipelines.cli.data",
)

__all__ = ["COMMANDS", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines",
        description="Command line of the pipelines Function app.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for module in COMMANDS:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.error(f"the command {args.command!r} has no handler")
    try:
        return int(handler(args) or 0)
    except PipelinesError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
