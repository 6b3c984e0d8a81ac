"""`publish`, `pipeline ...` and `endpoint ...`: the catalogue from the command line.

    pipelines publish ./my-pipeline --name My_Pipeline --version 1.0 --endpoint my-endpoint
    pipelines pipeline list
    pipelines endpoint versions my-endpoint
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pipelines.cli.common import UsageError, add_workspace_options, workspace_of
from pipelines.cli.output import Column, emit, entity_status_column, time_column
from pipelines.text import ENDPOINT_NAME, ENDPOINT_NAME_RULE

if TYPE_CHECKING:
    from pipelines.cli import Subparsers


def register(subparsers: Subparsers) -> None:
    publish = subparsers.add_parser("publish", help="publish a pipeline folder (its pipeline.py build())")
    publish.add_argument("folder", help="a folder holding pipeline.py with build() -> Pipeline")
    publish.add_argument("--name", required=True)
    publish.add_argument("--version", default=None, help='free text such as "1.0"')
    publish.add_argument("--description", default=None)
    publish.add_argument("--endpoint", default=None, help="also put it behind this endpoint, as its default")
    add_workspace_options(publish)
    publish.set_defaults(handler=_publish)

    pipeline = subparsers.add_parser("pipeline", help="published pipelines: show, list, disable, enable")
    verbs = pipeline.add_subparsers(dest="verb", metavar="<verb>", required=True)
    for verb, text in (("show", "print a published pipeline"), ("disable", "refuse new runs"),
                       ("enable", "accept runs again")):
        sub = verbs.add_parser(verb, help=text)
        sub.add_argument("id")
        add_workspace_options(sub)
        sub.set_defaults(handler=_pipeline)
    listing = verbs.add_parser("list", help="list published pipelines")
    listing.add_argument("--all", action="store_true", help="include disabled and deprecated ones")
    add_workspace_options(listing)
    listing.set_defaults(handler=_pipeline)

    endpoint = subparsers.add_parser("endpoint", help="pipeline endpoints: show, list, create, add, set-default, ...")
    verbs = endpoint.add_subparsers(dest="verb", metavar="<verb>", required=True)
    show = verbs.add_parser("show", help="print an endpoint (by name, or --id)")
    show.add_argument("name", nargs="?")
    show.add_argument("--id")
    listing = verbs.add_parser("list", help="list endpoints")
    listing.add_argument("--all", action="store_true")
    create = verbs.add_parser("create", help="create an endpoint in front of a published pipeline")
    create.add_argument("name")
    create.add_argument("--pipeline-id", required=True)
    create.add_argument("--description")
    _webhook_options(create)
    webhooks = verbs.add_parser("set-webhooks", help="replace the URLs that receive its runs' events (none: remove)")
    webhooks.add_argument("name")
    _webhook_options(webhooks)
    add = verbs.add_parser("add", help="add a published pipeline as the next version")
    add.add_argument("name")
    add.add_argument("pipeline_id")
    add.add_argument("--default", action="store_true", help="and make it the default version")
    default = verbs.add_parser("set-default", help="choose the default version")
    default.add_argument("name")
    default.add_argument("version")
    for verb, text in (("disable", "refuse runs"), ("enable", "accept runs"), ("archive", "mark Deprecated"),
                       ("versions", "list the versions")):
        sub = verbs.add_parser(verb, help=text)
        sub.add_argument("name")
    for sub in (show, listing, create, add, default, webhooks,
                *[verbs.choices[v] for v in ("disable", "enable", "archive", "versions")]):
        add_workspace_options(sub)
        sub.set_defaults(handler=_endpoint)


PIPELINE_COLUMNS = [
    Column.key("Id"),
    Column.key("Name"),
    Column.key("Version"),
    entity_status_column(),
    Column.key("Steps", "TotalRunSteps"),
    time_column("Created", "CreatedDate"),
    Column.key("Description", wrap=True),
]

def _webhook_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--webhook", action="append", default=[], metavar="URL",
                        help="an https URL that receives the events of its runs (repeat for more)")
    parser.add_argument("--secret-setting", action="append", default=[], metavar="SETTING",
                        help="the app setting holding the signing secret (PIPELINES_WEBHOOK_SECRET_...): one for"
                             " every --webhook, or one for all of them")


def webhooks_of(args: argparse.Namespace) -> list[dict[str, str]]:
    from pipelines.cli.common import UsageError

    urls, settings = list(args.webhook), list(args.secret_setting)
    if len(settings) == 1:
        settings *= len(urls)
    if len(settings) != len(urls):
        raise UsageError("give one --secret-setting for every --webhook, or one for all of them")
    return [{"Url": url, "SecretSetting": setting} for url, setting in zip(urls, settings, strict=True)]


ENDPOINT_COLUMNS = [
    Column.key("Name"),
    Column.key("Id"),
    Column.key("Default version", "DefaultVersion"),
    Column("Versions", lambda e: len(e.get("PipelineVersionList") or [])),
    Column("Webhooks", lambda e: ", ".join(w.get("Url", "") for w in e.get("Webhooks") or []), wrap=True),
    entity_status_column(),
    time_column("Created", "CreatedDate"),
    Column.key("Description", wrap=True),
]


def _publish(args: argparse.Namespace) -> int:
    from pipelines.client import publish_folder

    if args.endpoint is not None and not ENDPOINT_NAME.match(args.endpoint):
        # before anything is published: the pipeline would be, and the endpoint refused
        raise UsageError(f"--endpoint {args.endpoint!r}: {ENDPOINT_NAME_RULE}")
    published, endpoint = publish_folder(
        workspace_of(args), args.folder, name=args.name, version=args.version,
        description=args.description, endpoint=args.endpoint,
    )
    answer = published.entity if endpoint is None else {**published.entity, "PipelineEndpoint": endpoint.entity}
    columns = list(PIPELINE_COLUMNS)
    if endpoint is not None:
        columns[-1] = Column.key("Endpoint", "PipelineEndpoint", "Name")
    emit(args, answer, columns)
    return 0


def _pipeline(args: argparse.Namespace) -> int:
    from pipelines.client import PublishedPipeline

    workspace = workspace_of(args)
    if args.verb == "list":
        emit(args, [p.entity for p in PublishedPipeline.list(workspace, active_only=not args.all)], PIPELINE_COLUMNS)
        return 0
    pipeline = PublishedPipeline.get(workspace, args.id)
    if args.verb == "disable":
        pipeline.disable()
    elif args.verb == "enable":
        pipeline.enable()
    emit(args, pipeline.entity, PIPELINE_COLUMNS)
    return 0


def _endpoint(args: argparse.Namespace) -> int:
    from pipelines.client import PipelineEndpoint, PublishedPipeline

    workspace = workspace_of(args)
    if args.verb == "list":
        emit(args, [e.entity for e in PipelineEndpoint.list(workspace, active_only=not args.all)], ENDPOINT_COLUMNS)
        return 0
    if args.verb == "create":
        pipeline = PublishedPipeline.get(workspace, args.pipeline_id)
        created = PipelineEndpoint.publish(workspace, args.name, args.description, pipeline, webhooks_of(args))
        emit(args, created.entity, ENDPOINT_COLUMNS)
        return 0
    if args.verb == "show" and args.id:
        endpoint = PipelineEndpoint.get(workspace, id=args.id)
    else:
        endpoint = PipelineEndpoint.get(workspace, name=args.name)
    if args.verb == "add":
        pipeline = PublishedPipeline.get(workspace, args.pipeline_id)
        (endpoint.add_default if args.default else endpoint.add)(pipeline)
    elif args.verb == "set-default":
        endpoint.set_default_version(args.version)
    elif args.verb == "set-webhooks":
        endpoint.set_webhooks(webhooks_of(args))
    elif args.verb == "disable":
        endpoint.disable()
    elif args.verb == "enable":
        endpoint.enable()
    elif args.verb == "archive":
        endpoint.archive()
    elif args.verb == "versions":
        default = endpoint.default_version
        emit(args, endpoint.list_versions(), [
            Column.key("Version"), Column.key("Pipeline", "PipelineId"),
            Column("Default", lambda v: "default" if str(v.get("Version")) == default else ""),
        ])
        return 0
    emit(args, endpoint.entity, ENDPOINT_COLUMNS)
    return 0
