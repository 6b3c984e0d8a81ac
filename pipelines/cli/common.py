"""Options every service command takes: where the service is, which workspace."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_workspace_options", "print_json", "workspace_of"]


def add_workspace_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("service")
    group.add_argument("--base-url", help="the API base URL (default: $PIPELINES_BASE_URL or http://127.0.0.1:7071)")
    group.add_argument("--workspace", help="workspace name (default: $PIPELINES_WORKSPACE or 'default')")
    group.add_argument("--subscription", help="subscription id segment of the URL")
    group.add_argument("--resource-group", help="resource group segment of the URL")


def workspace_of(args: argparse.Namespace) -> Any:
    from pipelines.client import Workspace

    return Workspace.from_env(
        base_url=args.base_url, name=args.workspace, subscription_id=args.subscription,
        resource_group=args.resource_group,
    )


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")
