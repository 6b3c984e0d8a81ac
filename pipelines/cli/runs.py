"""`run submit|rerun|show|list|steps|logs|download|cancel|wait`: runs from the command line.

    pipelines run submit --endpoint compare-endpoint --param pipeline_arg=20 --wait
    pipelines run rerun <run id> --param pipeline_arg=30 --wait
    pipelines run list --experiment nightly --status Failed
    pipelines run steps <run id>
    pipelines run logs <run id> compare --kind STDERR
"""

from __future__ import annotations

import argparse
import itertools
import sys
from typing import TYPE_CHECKING, Any

from pipelines.cli.common import UsageError, add_workspace_options, data_assignments, pairs, workspace_of
from pipelines.cli.output import Column, duration_column, emit, status_column, time_column

if TYPE_CHECKING:
    from pipelines.cli import Subparsers

HISTORY_STATUSES = ["NotStarted", "Queued", "Running", "CancelRequested", "Completed", "Failed", "Canceled"]


def register(subparsers: Subparsers) -> None:
    run = subparsers.add_parser("run", help="runs: submit, rerun, show, list, steps, logs, download, cancel, wait,"
                                            " tag")
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
    submit.add_argument("--regenerate-outputs", action="store_true",
                        help="run every step: take no earlier execution's outputs (SDK v1's regenerate_outputs)")
    submit.add_argument("--wait", action="store_true",
                        help="wait for the run to end, streaming each step's output to stderr; then print the run")
    rerun = verbs.add_parser("rerun", help="run a run again: its finished steps are taken as they are, the rest run")
    rerun.add_argument("run_id")
    rerun.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="change a parameter (repeat); the others keep the run's values")
    rerun.add_argument("--wait", action="store_true",
                       help="wait for the new run to end, streaming each step's output to stderr; then print it")
    show = verbs.add_parser("show", help="a run: its status, experiment, pipeline and times")
    show.add_argument("run_id")
    steps = verbs.add_parser("steps", help="every step of a run: status, attempt, start, duration")
    steps.add_argument("run_id")
    logs = verbs.add_parser("logs", help="print a step's log (its STDOUT, or --kind STDERR)")
    logs.add_argument("run_id")
    logs.add_argument("step", help="step name or node id")
    logs.add_argument("--kind", default="STDOUT", choices=["STDOUT", "STDERR", "JobLog"])
    logs.add_argument("--attempt", type=int, help="the log of this attempt (1, 2, ...; `run steps` lists them); "
                      "default: the latest")
    listing = verbs.add_parser("list", help="list runs, newest first (the run-history view)")
    listing.add_argument("--experiment", help="one experiment (default: every experiment of the workspace)")
    listing.add_argument("--status", action="append", default=[], choices=HISTORY_STATUSES,
                         help="only runs with this status (repeat for several)")
    listing.add_argument("--top", type=int, default=20, help="at most this many runs (default 20)")
    download = verbs.add_parser("download", help="download a run's step outputs")
    download.add_argument("run_id")
    download.add_argument("--step", help="only this step (name or node id)")
    download.add_argument("--output", dest="output_name", metavar="OUTPUT", help="only this output")
    download.add_argument("-d", "--directory", default=".", help="where to put them: DIR/<step>/<output>/...")
    download.add_argument("--overwrite", action="store_true", help="replace files that exist")
    download.add_argument("--no-progress", action="store_true", help="no progress bar")
    cancel = verbs.add_parser("cancel", help="cancel a run")
    cancel.add_argument("run_id")
    wait = verbs.add_parser("wait", help="wait for a run to end, streaming each step's output to stderr")
    wait.add_argument("run_id")
    wait.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                      help="give up waiting after this long (exit status 5; the run goes on)")
    tag = verbs.add_parser("tag", help="set or remove a run's tags, add properties (SDK v1's run.tag())")
    tag.add_argument("run_id")
    tag.add_argument("tags", nargs="*", metavar="KEY=VALUE", help="tags to set (KEY alone: a tag without a value)")
    tag.add_argument("--remove", action="append", default=[], metavar="KEY", help="a tag to remove (repeat)")
    tag.add_argument("--property", action="append", default=[], metavar="KEY=VALUE",
                     help="a property to add (repeat): one the run has keeps its value")
    for sub in (submit, rerun, show, listing, steps, cancel, wait, tag):
        add_workspace_options(sub)
    add_workspace_options(logs, output=False)  # a log is text, printed as it is
    # `run download --output NAME` names a step output: the format is -o/--output-format there.
    add_workspace_options(download, output_long_name="--output-format")
    for sub in (submit, rerun, show, listing, steps, logs, download, cancel, wait, tag):
        sub.set_defaults(handler=_run)


# -- tables ------------------------------------------------------------------------------------------------
def _run_status(entity: Any) -> str:
    from pipelines.client.status import run_status

    return run_status(entity)


RUN_COLUMNS = [
    Column.key("Id"),
    status_column("Status", _run_status),
    Column.key("Experiment", "RunHistoryExperimentName"),
    Column.key("Pipeline", "PipelineId"),
    Column.key("Version", "PipelineVersion"),
    Column.key("Source", "RunSource"),
    Column("Reused", lambda e: f"{e.get('ReusedStepCount')} of {e.get('TotalRunSteps')} steps"
           if e.get("ReusedStepCount") else ""),
    Column.key("Rerun of", "RerunOf"),
    Column("Tags", lambda e: ", ".join(f"{k}={v}" if v else k for k, v in sorted((e.get("tags") or {}).items())),
           wrap=True),
    time_column("Created", "Status", "CreationTime"),
    duration_column("Duration", lambda e: (e.get("Status") or {}).get("CreationTime"),
                    lambda e: (e.get("Status") or {}).get("EndTime")),
    Column.key("Detail", "Status", "StatusDetail", wrap=True),
]


def _step_status(step: Any) -> str:
    from pipelines.client.status import step_status

    return step_status(step)


def attempts_text(step: Any) -> str:
    """The current attempt, and how the earlier ones ended: `2 (#1 lost: LeaseExpired)`."""
    earlier = [
        f"#{a.get('Attempt')} {str(a.get('Outcome') or '').lower()}" + (f": {a['Reason']}" if a.get("Reason") else "")
        for a in (step.get("Attempts") or [])[:-1]
    ]
    current = str(step.get("Attempt") or "")
    return f"{current} ({'; '.join(earlier)})" if earlier else current


STEP_COLUMNS = [
    Column.key("Step", "Name"),
    status_column("Status", _step_status),
    Column("Attempt", attempts_text, wrap=True),
    time_column("Started", "StartTime"),
    duration_column("Duration", lambda s: s.get("StartTime"), lambda s: s.get("EndTime")),
    Column.key("Exit code", "ExitCode"),
    Column.key("Detail", "StatusDetail", wrap=True),
]


def _history_columns(experiments: dict[str, str]) -> list[Column]:
    return [
        Column.key("Run", "runId"),
        Column("Experiment", lambda dto: experiments.get(dto.get("experimentId"), "")),
        status_column("Status", lambda dto: str(dto.get("status") or "")),
        time_column("Created", "createdUtc"),
        duration_column("Duration", lambda dto: dto.get("startTimeUtc"), lambda dto: dto.get("endTimeUtc")),
        Column.key("Description", "description", wrap=True),
    ]


def step_rows(steps: dict[str, Any]) -> list[dict[str, Any]]:
    """The AllNodes/Status answer as rows: started steps in the order they started, then the rest."""
    rows = [{"NodeId": node_id, **status} for node_id, status in steps.items()]
    return sorted(rows, key=lambda r: (r.get("StartTime") is None, str(r.get("StartTime") or ""),
                                       str(r.get("Name") or r["NodeId"])))


# -- the handler ------------------------------------------------------------------------------------------
def _run(args: argparse.Namespace) -> int:
    from pipelines.client import PipelineRun

    workspace = workspace_of(args)
    if args.verb == "submit":
        return _submit(workspace, args)
    if args.verb == "rerun":
        return _emit_run(PipelineRun(workspace, {"Id": args.run_id}).rerun(pairs(args.param, "--param")), args)
    if args.verb == "list":
        _list_runs(workspace, args)
        return 0
    run = PipelineRun(workspace, {"Id": args.run_id})
    if args.verb == "download":
        return _download(run, args)
    if args.verb == "show":
        emit(args, run.refresh().entity, RUN_COLUMNS)
    elif args.verb == "steps":
        emit(args, run.get_step_statuses(), STEP_COLUMNS, rows=step_rows)
    elif args.verb == "logs":
        return _logs(run, args)
    elif args.verb == "cancel":
        run.cancel()
        emit(args, run.entity, RUN_COLUMNS)
    elif args.verb == "tag":
        _tag(run, args)
    elif args.verb == "wait":
        status = _wait(run, args.timeout)
        emit(args, {"Id": run.id, "Status": status}, [Column.key("Id"), Column.key("Status", status=True)])
        return _exit_of(status)
    return 0


def _submit(workspace: Any, args: argparse.Namespace) -> int:
    from pipelines.client import PipelineEndpoint, PublishedPipeline

    body = data_assignments(args.datapath, args.dataset)
    options: dict[str, Any] = {}
    if "DataPathAssignments" in body:
        options["datapath_assignments"] = body["DataPathAssignments"]
    if "DataSetDefinitionValueAssignments" in body:
        options["dataset_assignments"] = body["DataSetDefinitionValueAssignments"]
    parameters = pairs(args.param, "--param")
    if args.regenerate_outputs:
        options["regenerate_outputs"] = True
    if args.pipeline_id:
        if args.version:
            raise UsageError("--version goes with --endpoint (a published pipeline has one version)")
        run = PublishedPipeline.get(workspace, args.pipeline_id).submit(args.experiment, parameters, **options)
    else:
        endpoint = PipelineEndpoint.get(workspace, name=args.endpoint)
        run = endpoint.submit(args.experiment, parameters, pipeline_version=args.version, **options)
    return _emit_run(run, args)


def _emit_run(run: Any, args: argparse.Namespace) -> int:
    """Print a run just started, or, with --wait, wait for it and print it as it ended."""
    if not args.wait:
        emit(args, run.entity, RUN_COLUMNS)
        return 0
    submitted = dict(run.entity)
    status = _wait(run, None)
    # The run as it ended, with what the submit answered (the assignments as sent) kept.
    emit(args, {**submitted, **run.entity}, RUN_COLUMNS)
    return _exit_of(status)


def _tag(run: Any, args: argparse.Namespace) -> None:
    if not (args.tags or args.remove or args.property):
        raise UsageError("give tags to set (KEY=VALUE), --remove KEY or --property KEY=VALUE")
    tags = {key: value or None for key, _, value in (item.partition("=") for item in args.tags)}
    if tags:
        run.set_tags(tags)
    if args.property:
        run.add_properties(pairs(args.property, "--property"))
    if args.remove:
        run.remove_tags(args.remove)
    emit(args, run.refresh().entity, RUN_COLUMNS)


def _wait(run: Any, timeout: float | None) -> str:
    try:
        return str(run.wait_for_completion(show_output=True, timeout_seconds=timeout, out=sys.stderr))
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; it goes on: pipelines run wait {run.id}") from None
    except KeyboardInterrupt:
        print(f"\nstopped waiting; run {run.id} goes on (pipelines run wait {run.id}, pipelines run cancel {run.id})",
              file=sys.stderr)
        raise


def _exit_of(status: str) -> int:
    from pipelines.cli import EXIT_OK, EXIT_RUN_FAILED

    return EXIT_OK if status == "Finished" else EXIT_RUN_FAILED


def _logs(run: Any, args: argparse.Namespace) -> int:
    from pipelines.client.status import STEP_ENDED, step_status

    node_id = run.find_step(args.step)
    text = run.get_log(node_id, args.kind, args.attempt)
    sys.stdout.write(text)
    if text.strip():
        return 0
    step = run.get_step_statuses().get(node_id, {})  # the status now, not when the step was found
    name = step.get("Name") or node_id
    word = step_status(step)
    reused = step.get("ReuseInfo") or {}
    if reused:
        print(f"step {name!r} did not run: it took the outputs of run {reused.get('PipelineRunId')}; its logs:"
              f" pipelines run logs {reused.get('PipelineRunId')} {reused.get('NodeId')}", file=sys.stderr)
        return 0
    if step.get("StartTime") is None and word not in STEP_ENDED:
        print(f"step {name!r} has not started ({word}): no {args.kind} yet", file=sys.stderr)
        return 0
    note = f"step {name!r} wrote nothing to {args.kind}"
    if word in ("Failed", "Canceled"):
        detail = step.get("StatusDetail")
        note += f"; it {word}" + (f": {detail}" if detail else "")
    if args.kind != "STDERR":
        note += f"\nits errors, if any: pipelines run logs {run.id} {args.step} --kind STDERR"
    print(note, file=sys.stderr)
    return 0


def _list_runs(workspace: Any, args: argparse.Namespace) -> None:
    """Pipeline runs as RunDto, newest first, from one experiment or from all of them."""
    from pipelines.client import Experiment

    if args.top < 1:
        raise UsageError("--top must be at least 1")
    status_filter = " or ".join(f"Status eq '{status}'" for status in args.status) or None
    experiments = [Experiment(workspace, args.experiment)] if args.experiment else Experiment.list(workspace)
    found: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for each in experiments:
        # Each experiment answers newest first: its first `top` are all it can add.
        runs = [run.dto for run in itertools.islice(each.get_runs(filter=status_filter), args.top)]
        for dto in runs:
            names[str(dto.get("experimentId"))] = each.name
        found += runs
    found.sort(key=lambda dto: str(dto.get("createdUtc") or ""), reverse=True)
    emit(args, found[: args.top], _history_columns(names))


def _download(run: Any, args: argparse.Namespace) -> int:
    """Every output of every finished step (or the one asked for) under DIR/<step>/<output>/."""
    from pathlib import Path

    from pipelines.errors import PipelinesError

    steps = run.get_children()
    if args.step:
        steps = [s for s in steps if args.step in (s.name, s.node_id)]
        if not steps:
            raise PipelinesError(f"run {run.id} has no step {args.step!r}")
    downloaded: list[dict[str, str]] = []
    for step in steps:
        outputs = step.get_outputs()
        if args.output_name:
            if args.output_name not in outputs and args.step:
                raise PipelinesError(f"step {step.name!r} has no output {args.output_name!r} written"
                                     f" (its outputs: {', '.join(sorted(outputs)) or 'none yet'})")
            outputs = {k: v for k, v in outputs.items() if k == args.output_name}
        for name, reference in sorted(outputs.items()):
            folder = reference.download(Path(args.directory) / str(step.name), overwrite=args.overwrite,
                                        show_progress=not args.no_progress)
            downloaded.append({"Step": str(step.name), "Output": name, "Folder": folder})
    if not downloaded:
        raise PipelinesError(f"run {run.id} has no output written{' by that step' if args.step else ''} yet")
    emit(args, downloaded)
    return 0
