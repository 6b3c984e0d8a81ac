"""`run submit|show|list|steps|logs|download|cancel|wait`: runs from the command line."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from typing import TYPE_CHECKING, Any

from pipelines.cli.common import add_workspace_options, print_json, workspace_of

if TYPE_CHECKING:
    from pipelines.cli import Subparsers


def register(subparsers: Subparsers) -> None:
    run = subparsers.add_parser("run", help="runs: submit, show, list, steps, logs, download, cancel, wait")
    verbs = run.add_subparsers(dest="verb", metavar="<verb>", required=True)
    submit = verbs.add_parser("submit", help="start a run of a published pipeline or an endpoint")
    target = submit.add_mutually_exclusive_group(required=True)
    target.add_argument("--pipeline-id")
    target.add_argument("--endpoint", help="endpoint name")
    submit.add_argument("--version", help="endpoint version (default: the endpoint's default)")
    submit.add_argument("--experiment", help="experiment name")
    submit.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter assignment (repeat); the value is sent as text")
    submit.add_argument("--datapath", action="append", default=[], metavar="NAME=DATASTORE/PATH",
                        help="a DataPathAssignment (repeat)")
    submit.add_argument("--dataset", action="append", default=[], metavar="NAME=DATASET_ID",
                        help="a DataSetDefinitionValueAssignment by registered dataset id (repeat)")
    submit.add_argument("--wait", action="store_true", help="wait for the run to end, showing progress")
    show = verbs.add_parser("show", help="print a run")
    show.add_argument("run_id")
    steps = verbs.add_parser("steps", help="print the status of every step")
    steps.add_argument("run_id")
    logs = verbs.add_parser("logs", help="print a step's log")
    logs.add_argument("run_id")
    logs.add_argument("step", help="step name or node id")
    logs.add_argument("--kind", default="STDOUT", choices=["STDOUT", "STDERR", "JobLog"])
    listing = verbs.add_parser("list", help="list runs, newest first (the run-history view)")
    listing.add_argument("--experiment", help="one experiment (default: every experiment of the workspace)")
    listing.add_argument("--status", action="append", default=[],
                         choices=["NotStarted", "Queued", "Running", "CancelRequested", "Completed", "Failed",
                                  "Canceled"], help="only runs with this status (repeat for several)")
    listing.add_argument("--top", type=int, default=20, help="at most this many runs (default 20)")
    download = verbs.add_parser("download", help="download a run's step outputs")
    download.add_argument("run_id")
    download.add_argument("--step", help="only this step (name or node id)")
    download.add_argument("--output", help="only this output")
    download.add_argument("-d", "--directory", default=".", help="where to put them: DIR/<step>/<output>/...")
    download.add_argument("--overwrite", action="store_true", help="replace files that exist")
    download.add_argument("--no-progress", action="store_true", help="no progress bar")
    cancel = verbs.add_parser("cancel", help="cancel a run")
    cancel.add_argument("run_id")
    wait = verbs.add_parser("wait", help="wait for a run to end, showing progress")
    wait.add_argument("run_id")
    wait.add_argument("--timeout", type=float, default=None)
    for sub in (submit, show, listing, steps, logs, download, cancel, wait):
        add_workspace_options(sub)
        sub.set_defaults(handler=_run)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"error: {what} must look like NAME=VALUE, not {item!r}")
        pairs[name] = value
    return pairs


def _run(args: argparse.Namespace) -> int:
    from pipelines.client import PipelineEndpoint, PipelineRun, PublishedPipeline

    workspace = workspace_of(args)
    if args.verb == "submit":
        datapaths: dict[str, Any] = {}
        for name, value in _pairs(args.datapath, "--datapath").items():
            store, _, path = value.partition("/")
            datapaths[name] = {"DataStoreName": store, "RelativePath": path}
        datasets = {
            name: {"SavedDataSetReference": {"Id": dataset_id}}
            for name, dataset_id in _pairs(args.dataset, "--dataset").items()
        }
        options: dict[str, Any] = {}
        if datapaths:
            options["datapath_assignments"] = datapaths
        if datasets:
            options["dataset_assignments"] = datasets
        parameters = _pairs(args.param, "--param")
        if args.pipeline_id:
            run = PublishedPipeline.get(workspace, args.pipeline_id).submit(args.experiment, parameters, **options)
        else:
            endpoint = PipelineEndpoint.get(workspace, name=args.endpoint)
            run = endpoint.submit(args.experiment, parameters, args.version, **options)
        print_json(run.entity)
        if args.wait:
            status = run.wait_for_completion(show_output=True, out=sys.stderr)
            return 0 if status == "Finished" else 1
        return 0
    if args.verb == "list":
        print_json(_list_runs(workspace, args.experiment, args.status, args.top))
        return 0
    run = PipelineRun(workspace, {"Id": args.run_id})
    if args.verb == "download":
        return _download(run, args)
    if args.verb == "show":
        print_json(run.refresh().entity)
    elif args.verb == "steps":
        print_json(run.get_step_statuses())
    elif args.verb == "logs":
        sys.stdout.write(run.get_log(run.find_step(args.step), args.kind))
    elif args.verb == "cancel":
        run.cancel()
        print_json(run.entity)
    elif args.verb == "wait":
        status = run.wait_for_completion(show_output=True, timeout_seconds=args.timeout)
        print(json.dumps({"Id": run.id, "Status": status}))
        return 0 if status == "Finished" else 1
    return 0


def _list_runs(workspace: Any, experiment: str | None, statuses: list[str], top: int) -> list[dict[str, Any]]:
    """Pipeline runs as RunDto, newest first, from one experiment or from all of them."""
    from pipelines.client import Experiment

    if top < 1:
        raise SystemExit("error: --top must be at least 1")
    status_filter = " or ".join(f"Status eq '{status}'" for status in statuses) or None
    experiments = [Experiment(workspace, experiment)] if experiment else Experiment.list(workspace)
    found: list[dict[str, Any]] = []
    for each in experiments:
        # Each experiment answers newest first: its first `top` are all it can add.
        found += [run.dto for run in itertools.islice(each.get_runs(filter=status_filter), top)]
    found.sort(key=lambda dto: str(dto.get("createdUtc") or ""), reverse=True)
    return found[:top]


def _download(run: Any, args: argparse.Namespace) -> int:
    """Every output of every finished step (or the one asked for) under DIR/<step>/<output>/."""
    from pathlib import Path

    from pipelines.errors import PipelinesError

    steps = run.get_children()
    if args.step:
        steps = [s for s in steps if args.step in (s.name, s.node_id)]
        if not steps:
            raise PipelinesError(f"run {run.id} has no step {args.step!r}")
    downloaded = 0
    for step in steps:
        outputs = step.get_outputs()
        if args.output:
            if args.output not in outputs and args.step:
                raise PipelinesError(f"step {step.name!r} has no output {args.output!r} written"
                                     f" (its outputs: {', '.join(sorted(outputs)) or 'none yet'})")
            outputs = {k: v for k, v in outputs.items() if k == args.output}
        for name, reference in sorted(outputs.items()):
            folder = reference.download(Path(args.directory) / str(step.name), overwrite=args.overwrite,
                                        show_progress=not args.no_progress)
            print(folder)
            downloaded += 1
    if not downloaded:
        raise PipelinesError(f"run {run.id} has no output written{' by that step' if args.step else ''} yet")
    return 0
