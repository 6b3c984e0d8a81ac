"""Options every service command takes: where the service is, which workspace, how to print."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipelines.cli.output import add_output_options
from pipelines.errors import PipelinesError

__all__ = [
    "UsageError",
    "add_service_options",
    "add_workspace_options",
    "data_assignments",
    "pairs",
    "read_json_file",
    "workspace_of",
]


class UsageError(PipelinesError):
    """The command line itself is wrong (exit status 2, as argparse's own errors)."""


SERVICE_OPTIONS = (
    ("--base-url", "the API base URL (default: $PIPELINES_BASE_URL or http://127.0.0.1:7071)"),
    ("--workspace", "workspace name (default: $PIPELINES_WORKSPACE or 'default')"),
    ("--subscription", "subscription id segment of the URL"),
    ("--resource-group", "resource group segment of the URL"),
)


def add_service_options(parser: argparse.ArgumentParser, *, default: Any = None) -> None:
    """Where the service is. On the top-level parser (before the command) with None as the
    default, on each command with `argparse.SUPPRESS`, so that one given after the command
    wins and one given before it is not reset by the command's parser."""
    group = parser.add_argument_group("service")
    for flag, help_text in SERVICE_OPTIONS:
        group.add_argument(flag, default=default, help=help_text)


def add_workspace_options(parser: argparse.ArgumentParser, *, output: bool = True,
                          output_long_name: str = "--output") -> None:
    add_service_options(parser, default=argparse.SUPPRESS)
    if output:
        add_output_options(parser, long_name=output_long_name)


def workspace_of(args: argparse.Namespace) -> Any:
    from pipelines.client import Workspace

    return Workspace.from_env(
        base_url=args.base_url, name=args.workspace, subscription_id=args.subscription,
        resource_group=args.resource_group,
    )


def pairs(values: list[str], option: str) -> dict[str, str]:
    """`NAME=VALUE` items of a repeated option."""
    found: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{option} must look like NAME=VALUE, not {item!r}")
        found[name] = value
    return found


def data_assignments(datapaths: list[str], datasets: list[str]) -> dict[str, Any]:
    """`--datapath NAME=DATASTORE/PATH` and `--dataset NAME=ID` as the submit body's two keys."""
    body: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for name, value in pairs(datapaths, "--datapath").items():
        store, sep, path = value.partition("/")
        if not sep or not store or not path:
            raise UsageError(f"--datapath {name}= must be DATASTORE/PATH, not {value!r}")
        paths[name] = {"DataStoreName": store, "RelativePath": path}
    if paths:
        body["DataPathAssignments"] = paths
    chosen = {name: {"SavedDataSetReference": {"Id": dataset_id}}
              for name, dataset_id in pairs(datasets, "--dataset").items()}
    if chosen:
        body["DataSetDefinitionValueAssignments"] = chosen
    return body


def read_json_file(path: str) -> dict[str, Any]:
    """A JSON object from a file (`-` reads standard input)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--file {path}: {exc.strerror or exc}") from None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--file {path}: not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"--file {path}: must hold a JSON object")
    return value
