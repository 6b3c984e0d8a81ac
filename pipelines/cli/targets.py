"""`target ...`: compute targets, where published steps run (issue 16).

    pipelines target list
    pipelines target show gpu
    pipelines target set gpu --image registry.example/gpu:1 --package numpy==1.26.4 --package torch \\
        --max-concurrent-steps 2 --max-step-timeout 3600
    pipelines target set cpu-cluster --runs-on app      # an alias of the app (old compute_target names)
    pipelines target delete gpu

`set` creates or replaces the target (role Pipelines.Admin); `delete` is refused (409) while
published pipelines that are not disabled use it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pipelines.cli.common import add_workspace_options, workspace_of
from pipelines.cli.output import Column, emit

if TYPE_CHECKING:
    from pipelines.cli import Subparsers

COLUMNS = [
    Column.key("Name", "Name"),
    Column.key("Queue", "Queue"),
    Column.key("Runs on", "RunsOn"),
    Column.key("Image", "Image"),
    Column("Packages", lambda t: ", ".join(t.get("Packages") or []), wrap=True),
    Column.key("Max steps", "MaxConcurrentSteps"),
    Column.key("Timeout cap (s)", "MaxStepTimeoutSeconds"),
]


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("target", help="compute targets, where steps run: list, show, set, delete")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)
    verbs.add_parser("list", help="every target of the workspace, 'app' (the app itself) first")
    verbs.add_parser("show", help="a target").add_argument("name")
    put = verbs.add_parser("set", help="create or replace a target (role Pipelines.Admin)")
    put.add_argument("name", help="1 to 32 lowercase letters, digits and single dashes, from a letter")
    put.add_argument("--description")
    put.add_argument("--runs-on", choices=["app"], help="an alias of the app: its steps go to the steps queue")
    put.add_argument("--queue", help="its steps' queue (default: <steps queue>-<name>)")
    put.add_argument("--image", default="", help="the container image its workers run")
    put.add_argument("--package", action="append", default=[], metavar="REQUIREMENT",
                     help="a pip requirement its environment promises, e.g. numpy==1.26.4 (repeat)")
    put.add_argument("--max-concurrent-steps", type=int, help="steps one worker runs at once (1..64, default 1)")
    put.add_argument("--max-step-timeout", type=int, metavar="SECONDS",
                     help="the longest a step may run on it (60..86400, default 7200)")
    verbs.add_parser("delete", help="remove a target").add_argument("name")
    for sub in verbs.choices.values():
        add_workspace_options(sub)
        sub.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from pipelines.client.targets import ComputeTarget

    workspace = workspace_of(args)
    if args.verb == "list":
        emit(args, [t.serialize() for t in ComputeTarget.list(workspace)], COLUMNS)
    elif args.verb == "show":
        emit(args, ComputeTarget(workspace, args.name).serialize(), COLUMNS)
    elif args.verb == "set":
        target = ComputeTarget.create_or_update(
            workspace, args.name, description=args.description, queue=args.queue, image=args.image,
            packages=args.package, max_concurrent_steps=args.max_concurrent_steps,
            max_step_timeout_seconds=args.max_step_timeout, runs_on=args.runs_on,
        )
        emit(args, target.serialize(), COLUMNS)
    else:
        ComputeTarget(workspace, args.name, {"Name": args.name}).delete()
        emit(args, {"Name": args.name, "Deleted": True})
    return 0
