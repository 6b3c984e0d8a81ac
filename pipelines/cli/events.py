"""`events tail` and `events list`: run events from the command line (docs/cli.md, "Run events").

    pipelines events tail                    # follow the local sink (make run's Azurite), one line an event
    pipelines events tail --json --once      # the raw CloudEvents waiting there, then stop
    pipelines events list RUN_ID             # a run's events and where each was delivered
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from pipelines.cli.common import add_workspace_options, workspace_of
from pipelines.cli.output import Column, emit, time_column

if TYPE_CHECKING:
    from pipelines.cli import Subparsers

DEFAULT_QUEUE = "pipeline-events"
POLL_SECONDS = 1.0


def register(subparsers: Subparsers) -> None:
    events = subparsers.add_parser("events", help="run events: follow the local sink, list a run's deliveries")
    verbs = events.add_subparsers(dest="verb", metavar="<verb>", required=True)
    tail = verbs.add_parser("tail", help="print run events as they arrive on a queue (the local sink)")
    tail.add_argument("--queue", default=None,
                      help=f"the queue (default: $PIPELINES_EVENTS_QUEUE, else {DEFAULT_QUEUE})")
    tail.add_argument("--connection-string", default=None,
                      help="storage connection string (default: $AzureWebJobsStorage, else the local Azurite)")
    tail.add_argument("--account-url", default=None,
                      help="https://ACCOUNT.queue.core.windows.net, reached with DefaultAzureCredential")
    tail.add_argument("--json", action="store_true", help="print each event's JSON (one line) as it came")
    tail.add_argument("--once", action="store_true", help="stop when the queue is empty instead of following it")
    tail.add_argument("--peek", action="store_true", help="print what is waiting, leave it there, and stop")
    tail.set_defaults(handler=_tail)
    listing = verbs.add_parser("list", help="a run's events and, for each sink, whether it was delivered")
    listing.add_argument("run_id")
    add_workspace_options(listing)
    listing.set_defaults(handler=_list)


def event_line(event: dict[str, Any]) -> str:
    """One line: time, type, status word, subject; a failed run's or step's error after it."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    assert isinstance(data, dict)
    status = data.get("runStatus") or ""
    line = f"{event.get('time') or '-'}  {event.get('type')}  {status}  {event.get('subject')}"
    error = data.get("error")
    if isinstance(error, dict) and error.get("message"):
        line += f"  ({error['message']})"
    return line


def _tail(args: argparse.Namespace) -> int:
    from pipelines.store.sink import EventQueue

    name = args.queue or os.environ.get("PIPELINES_EVENTS_QUEUE") or DEFAULT_QUEUE
    connection = args.connection_string or os.environ.get("AzureWebJobsStorage")
    queue = EventQueue(name, connection_string=connection, account_url=args.account_url)
    if not args.once and not args.peek:
        print(f"following queue {name} (Ctrl+C stops)", file=sys.stderr)
    while True:
        batch = queue.peek() if args.peek else queue.take()
        for event in batch:
            print(json.dumps(event, ensure_ascii=False, separators=(",", ":")) if args.json else event_line(event))
        sys.stdout.flush()
        if args.peek or (args.once and not batch):
            return 0
        if not batch:
            time.sleep(POLL_SECONDS)


EVENT_COLUMNS = [
    time_column("Time", "Time"),
    Column.key("Type"),
    Column("Deliveries", lambda e: "; ".join(
        f"{d['Sink']}: {d['Status']}" + (", calling now" if d.get("InProgress") else "")
        + (f" ({d['Error']})" if d.get("Error") else "")
        for d in e.get("Deliveries") or []), wrap=True),
    Column.key("Id"),
]


def _list(args: argparse.Namespace) -> int:
    from pipelines.client import PipelineRun

    emit(args, PipelineRun(workspace_of(args), {"Id": args.run_id}).get_events(), EVENT_COLUMNS)
    return 0
