"""The project's command line: `pipelines <command> [options]` (also `python -m pipelines`).

Each command is a module of this package exposing `register(subparsers)`,
which adds its parser and sets `handler`, a function of the parsed arguments
returning the exit status:

    def register(subparsers: Subparsers) -> None:
        parser = subparsers.add_parser("publish", help="...")
        parser.add_argument(...)
        parser.set_defaults(handler=run)

Adding a command is one line in `COMMANDS`. Every listed module is imported to
build `--help`, so import heavy packages (storage SDKs, the client) inside the handler.

A handler prints its answer on stdout (`pipelines.cli.output.emit`); anything else
(progress, step output while waiting) goes to stderr. An error is one line on
stderr, `error: <message>`, with no traceback unless `--debug` is given. The exit
statuses are `EXIT_CODES` below (docs/cli.md).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipelines.errors import ErrorDetail, PipelinesError
from pipelines.version import __version__

if TYPE_CHECKING:
    from typing import TypeAlias

    Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

COMMANDS: tuple[str, ...] = (
    "pipelines.cli.devtoken",
    "pipelines.cli.catalogue",
    "pipelines.cli.runs",
    "pipelines.cli.data",
    "pipelines.cli.automation",
    "pipelines.cli.events",
    "pipelines.cli.targets",
    "pipelines.cli.worker",
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_RUN_FAILED = 4
EXIT_TIMEOUT = 5
EXIT_INTERRUPTED = 130
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a program a closed pipe stopped

EXIT_CODES = {
    EXIT_OK: "success (with --wait: the run Finished)",
    EXIT_ERROR: "the command failed: the service refused it or could not be reached, or a local error",
    EXIT_USAGE: "the command line is wrong (unknown option, bad value)",
    EXIT_NOT_FOUND: "what the command names does not exist (the service answered 404)",
    EXIT_RUN_FAILED: "with --wait or run wait: the run ended Failed or Canceled",
    EXIT_TIMEOUT: "run wait --timeout: the run had not ended in time (it goes on)",
    EXIT_INTERRUPTED: "interrupted (Ctrl+C); a run being waited for goes on",
    EXIT_CLOSED_PIPE: "the reader of stdout went away (| head): stopped quietly",
}

__all__ = ["COMMANDS", "EXIT_CODES", "build_parser", "main"]


def _epilog() -> str:
    lines = "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES.items())
    return ("Every command takes --help. Service commands take -o table|json|yaml|tsv and --query JMESPATH.\n\n"
            f"exit status:\n{lines}\n\nMore: docs/cli.md")


def build_parser() -> argparse.ArgumentParser:
    from pipelines.cli.common import add_service_options

    parser = argparse.ArgumentParser(
        prog="pipelines",
        description="Command line of the pipelines Function app: publish pipelines, run them, read their runs.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", default=False,
                        help="on an error, show the traceback; log each HTTP request to stderr")
    add_service_options(parser)  # also accepted before the command: `pipelines --base-url URL run list`
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for module in COMMANDS:
        importlib.import_module(module).register(subparsers)
    _add_debug_to_commands(parser, set())
    return parser


def _add_debug_to_commands(parser: argparse.ArgumentParser, seen: set[int]) -> None:
    """`--debug` is accepted after the command too (`pipelines run show ID --debug`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if id(sub) in seen:
                    continue
                seen.add(id(sub))
                leaf = not any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
                if leaf and "--debug" not in sub._option_string_actions:
                    sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                     help="on an error, show the traceback; log HTTP requests")
                _add_debug_to_commands(sub, seen)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    if debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s: %(message)s")
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.error(f"the command {args.command!r} has no handler")
    try:
        status = int(handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except BrokenPipeError:
        return _closed_pipe()
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            return _closed_pipe()
        return _fail(exc, debug, *_classify(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except PipelinesError as exc:
        return _fail(exc, debug, *_classify(exc))
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback, unless --debug
        return _fail(exc, debug, *_classify(exc))


def _classify(exc: BaseException) -> tuple[int, str]:
    """The exit status and the one line for an error."""
    import requests

    from pipelines.cli.common import UsageError
    from pipelines.client.workspace import ServiceError

    if isinstance(exc, UsageError):
        return EXIT_USAGE, exc.message
    status = getattr(exc, "status", None)
    if isinstance(exc, PipelinesError):
        text = exc.message
        if status == 401 and isinstance(exc, ServiceError):
            text += (" (for a local host started from another folder, set PIPELINES_DEV_KEY_DIR to its .devkeys"
                     " folder, or PIPELINES_TOKEN to a token of `pipelines token`)")
        details = [d for d in exc.details if d.message] or _body_details(exc)
        if len(details) > 1:
            text += "".join(f"\n  - {d.target + ': ' if d.target else ''}{d.message}" for d in details)
        code = EXIT_NOT_FOUND if status == 404 and isinstance(exc, ServiceError) else EXIT_ERROR
        return code, text
    if isinstance(exc, requests.ConnectionError):
        url = getattr(exc.request, "url", None) or "the service"
        return EXIT_ERROR, (f"cannot reach {_origin(url)}: is the service running there? (`make run` starts one"
                            " on http://127.0.0.1:7071; --base-url or PIPELINES_BASE_URL points elsewhere)")
    if isinstance(exc, requests.Timeout):
        return EXIT_ERROR, f"the service did not answer in time: {exc}"
    if isinstance(exc, requests.RequestException):
        return EXIT_ERROR, f"the request failed: {exc}"
    if isinstance(exc, TimeoutError):
        return EXIT_TIMEOUT, str(exc)
    if isinstance(exc, OSError):
        return EXIT_ERROR, str(exc)
    text = str(exc)
    return EXIT_ERROR, f"unexpected {type(exc).__name__}{': ' + text if text else ''} (--debug shows where)"


def _body_details(exc: PipelinesError) -> list[ErrorDetail]:
    """The `Details` of a service error's JSON body, as ErrorDetails."""
    body = getattr(exc, "body", None)
    error = body.get("Error") if isinstance(body, dict) else None
    items = error.get("Details") if isinstance(error, dict) else None
    if not isinstance(items, list):
        return []
    return [ErrorDetail(str(d.get("Code", "")), str(d.get("Message", "")), d.get("Target"))
            for d in items if isinstance(d, dict) and d.get("Message")]


def _origin(url: str) -> str:
    from urllib.parse import urlparse

    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url


def _fail(exc: BaseException, debug: bool, code: int, text: str) -> int:
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    print(f"error: {text}", file=sys.stderr)
    return code


def _closed_pipe() -> int:
    # Whatever is still buffered for the closed pipe must not fail again at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_CLOSED_PIPE
