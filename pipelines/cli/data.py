"""`datastore ...` and `dataset ...`: a workspace's data from the command line.

    python -m pipelines datastore upload workspaceblobstore examples/batch_scoring/data \
        --target-path batch_scoring
    python -m pipelines dataset register train --path batch_scoring/train.csv --new-version
    python -m pipelines dataset show --name train
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pipelines.cli.common import UsageError, add_workspace_options, workspace_of
from pipelines.cli.output import Column, emit, time_column

if TYPE_CHECKING:
    from pipelines.cli import Subparsers

DEFAULT_DATASTORE = "workspaceblobstore"


def register(subparsers: Subparsers) -> None:
    _datastore_parser(subparsers)
    _dataset_parser(subparsers)


def _datastore_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("datastore", help="datastores: list, show, register, remove, upload")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)
    verbs.add_parser("list", help="list the datastores (workspaceblobstore first)")
    show = verbs.add_parser("show", help="print a datastore")
    show.add_argument("name")
    add = verbs.add_parser("register", help="register a blob container as a datastore")
    add.add_argument("name", help="datastore name: letters, digits and underscores")
    add.add_argument("--container", required=True, help="the blob container")
    add.add_argument(
        "--account-url",
        help="another account's blob URL (https://NAME.blob.core.windows.net),"
        " reached with the app's managed identity; default: the app's account",
    )
    add.add_argument("--description")
    add.add_argument("--overwrite", action="store_true", help="replace a registration with another container")
    add.add_argument(
        "--create", action="store_true", help="create the container in the app's account if missing"
    )
    remove = verbs.add_parser(
        "remove", help="forget a datastore (its files stay); refused while a pipeline uses it"
    )
    remove.add_argument("name")
    upload = verbs.add_parser("upload", help="upload a file or a folder to a datastore")
    upload.add_argument("name", help="datastore name")
    upload.add_argument("source", help="a local file or folder")
    upload.add_argument("--target-path", default=None, help="folder on the datastore (default: its root)")
    upload.add_argument(
        "--overwrite", action="store_true", help="replace files that exist (default: skip them)"
    )
    upload.add_argument("--quiet", action="store_true", help="no progress on stderr")
    for sub in verbs.choices.values():
        add_workspace_options(sub)
        sub.set_defaults(handler=_datastore)


def _dataset_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("dataset", help="datasets: list, show, register")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)
    listing = verbs.add_parser("list", help="every registration, by name, newest version first")
    listing.add_argument("--name", help="only the versions of this name")
    show = verbs.add_parser("show", help="print a dataset by id, or by --name (and --version)")
    show.add_argument("id", nargs="?")
    show.add_argument("--name")
    show.add_argument("--version", default="latest")
    add = verbs.add_parser("register", help="register a tabular (delimited files) or file dataset")
    add.add_argument("name")
    add.add_argument(
        "--path",
        action="append",
        required=True,
        metavar="PATH",
        help="a file, folder or glob on the datastore (repeat for several)",
    )
    add.add_argument("--datastore", default=DEFAULT_DATASTORE)
    add.add_argument("--type", choices=["tabular", "file"], default="tabular")
    add.add_argument("--separator", default=",")
    add.add_argument("--no-header", action="store_true", help="the files have no header row")
    add.add_argument("--encoding", default="utf8")
    add.add_argument("--description")
    add.add_argument(
        "--new-version", action="store_true", help="add a version if the name is taken (else 409)"
    )
    add.add_argument("--no-validate", action="store_true", help="do not check that every path matches a file")
    for sub in verbs.choices.values():
        add_workspace_options(sub)
        sub.set_defaults(handler=_dataset)


DATASTORE_COLUMNS = [
    Column.key("Name"),
    Column.key("Container", "ContainerName"),
    Column("Account", lambda d: d.get("AccountUrl") or "the app's"),
    Column("Default", lambda d: "default" if d.get("IsDefault") else ""),
    Column.key("Description", wrap=True),
]


def _paths(dataset: dict[str, object]) -> str:
    paths = dataset.get("Paths")
    if not isinstance(paths, list):
        return ""
    return ", ".join(f"{p.get('DataStoreName')}/{p.get('RelativePath')}" for p in paths if isinstance(p, dict))


DATASET_COLUMNS = [
    Column.key("Name"),
    Column.key("Version"),
    Column.key("Type", "DatasetType"),
    Column.key("Id"),
    Column("Paths", _paths, wrap=True),
    time_column("Created", "CreatedDate"),
]


def _datastore(args: argparse.Namespace) -> int:
    from pipelines.client import Datastore

    workspace = workspace_of(args)
    if args.verb == "list":
        emit(args, [store.entity for store in Datastore.list(workspace)], DATASTORE_COLUMNS)
    elif args.verb == "show":
        emit(args, Datastore.get(workspace, args.name).entity, DATASTORE_COLUMNS)
    elif args.verb == "register":
        store = Datastore.register(
            workspace,
            args.name,
            args.container,
            account_url=args.account_url,
            description=args.description,
            overwrite=args.overwrite,
            create_if_not_exists=args.create,
        )
        emit(args, store.entity, DATASTORE_COLUMNS)
    elif args.verb == "remove":
        store = Datastore.get(workspace, args.name)
        store.unregister()
        emit(args, store.entity, DATASTORE_COLUMNS)
    elif args.verb == "upload":
        store = Datastore.get(workspace, args.name)
        written = store.upload(
            args.source, target_path=args.target_path, overwrite=args.overwrite, show_progress=not args.quiet
        )
        emit(args, {"DataStoreName": store.name, "Uploaded": written}, [Column("Uploaded", lambda path: path)],
             rows=lambda answer: list(answer["Uploaded"]))
    return 0


def _dataset(args: argparse.Namespace) -> int:
    from pipelines.client import Dataset

    workspace = workspace_of(args)
    if args.verb == "list":
        emit(args, [dataset.entity for dataset in Dataset.list(workspace, name=args.name)], DATASET_COLUMNS)
        return 0
    if args.verb == "show":
        if bool(args.id) == bool(args.name):
            raise UsageError("give a dataset id, or --name (and --version)")
        found = (
            Dataset.get_by_id(workspace, args.id)
            if args.id
            else Dataset.get_by_name(workspace, args.name, args.version)
        )
        emit(args, found.entity, DATASET_COLUMNS)
        return 0
    paths = [(args.datastore, path) for path in args.path]
    validate = not args.no_validate
    definition = (
        Dataset.Tabular.from_delimited_files(
            paths,
            validate=validate,
            separator=args.separator,
            header=not args.no_header,
            encoding=args.encoding,
        )
        if args.type == "tabular"
        else Dataset.File.from_files(paths, validate=validate)
    )
    registered = definition.register(
        workspace, args.name, description=args.description, create_new_version=args.new_version
    )
    emit(args, registered.entity, DATASET_COLUMNS)
    return 0
