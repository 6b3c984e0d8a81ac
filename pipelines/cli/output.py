"""How commands print what they answer, as the Azure CLI does.

`-o/--output table|json|yaml|tsv` picks the form: by default a table on a terminal
and JSON otherwise (a pipe, a file, `$(...)`), or `$PIPELINES_OUTPUT` when set.
`--query` is a JMESPath expression applied to the JSON answer before formatting,
so `--query "[].Id" -o tsv` gives ids one per line for a shell loop.

JSON and YAML show the answer as the service sent it (status codes as integers,
as the wire has them); a table shows chosen columns with statuses in words,
coloured on a terminal. A table after `--query` shows what the query kept.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

FORMATS = ("table", "json", "yaml", "tsv")
ENV_OUTPUT = "PIPELINES_OUTPUT"

STATUS_STYLES = {
    "Finished": "green", "Completed": "green", "Active": "green", "Healthy": "green",
    "Failed": "bold red", "Disabled": "red", "Unhealthy": "bold red",
    "Running": "cyan", "Queued": "yellow", "Preparing": "yellow", "NotStarted": "dim", "Bypassed": "dim",
    "Canceled": "magenta", "CancelRequested": "magenta", "Deprecated": "yellow", "PartiallyExecuted": "yellow",
}

__all__ = [
    "Column",
    "duration_column",
    "entity_status_column",
    "time_column",
    "FORMATS",
    "add_output_options",
    "emit",
    "format_duration",
    "format_time",
    "output_format",
    "status_column",
]


def _compiled_query(text: str) -> Any:
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.compile(text)
    except JMESPathError as exc:
        where = getattr(exc, "lex_position", None)
        reason = getattr(exc, "msg", None) or str(exc).splitlines()[0]
        at = f" at column {where + 1}" if isinstance(where, int) else ""
        raise argparse.ArgumentTypeError(f"{text!r} is not a JMESPath expression: {reason}{at}") from None


def add_output_options(parser: argparse.ArgumentParser, *, long_name: str = "--output") -> None:
    """`-o/--output` and `--query`; a command whose `--output` means something else
    (`run download --output NAME`) passes another `long_name` for the format."""
    group = parser.add_argument_group("output")
    group.add_argument(
        "-o", long_name, dest="output", choices=FORMATS, default=None,
        help=f"table, json, yaml or tsv (default: ${ENV_OUTPUT}, else table on a terminal and json otherwise)",
    )
    group.add_argument(
        "--query", type=_compiled_query, default=None, metavar="JMESPATH",
        help='a JMESPath expression applied to the JSON answer before formatting, e.g. "[].Id"',
    )


def output_format(args: argparse.Namespace, stream: Any = None) -> str:
    chosen = getattr(args, "output", None) or os.environ.get(ENV_OUTPUT, "").strip().lower()
    if chosen in FORMATS:
        return str(chosen)
    stream = stream or sys.stdout
    return "table" if getattr(stream, "isatty", lambda: False)() else "json"


# -- table columns ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """A table column: its header and how to get its cell from one item of the answer."""

    header: str
    get: Callable[[Any], Any]
    status: bool = False  # colour the cell as a status word
    wrap: bool = False  # free text, folded to fit; other cells (ids, times) are kept on one line

    @classmethod
    def key(cls, header: str, *path: str, status: bool = False, wrap: bool = False) -> Column:
        """The value at `path` (keys, nested), or empty."""
        keys = path or (header,)

        def get(item: Any) -> Any:
            value = item
            for key in keys:
                value = value.get(key) if isinstance(value, dict) else None
            return value

        return cls(header, get, status, wrap)


def status_column(header: str, word: Callable[[Any], str]) -> Column:
    return Column(header, word, status=True)


def entity_status_column() -> Column:
    from pipelines.client.status import entity_status

    return status_column("Status", lambda item: entity_status(item.get("EntityStatus")))


def format_time(value: Any) -> str:
    """A wire time as `2026-11-27 10:30:05` (UTC), or empty."""
    from pipelines.client.status import parse_time

    moment = parse_time(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def format_duration(seconds: float | None) -> str:
    """7s, 3m 07s, 1h 02m; empty when unknown."""
    if seconds is None:
        return ""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole // 60 % 60:02d}m"


def duration_column(header: str, start: Callable[[Any], Any], end: Callable[[Any], Any]) -> Column:
    """From start to end, or to now while it has not ended."""
    from pipelines.client.status import seconds_between

    return Column(header, lambda item: format_duration(seconds_between(start(item), end(item))))


def time_column(header: str, *path: str) -> Column:
    getter = Column.key(header, *path).get
    return Column(header, lambda item: format_time(getter(item)))


# -- printing ---------------------------------------------------------------------------------------------
def emit(args: argparse.Namespace, value: Any, columns: Sequence[Column] | None = None,
         rows: Callable[[Any], list[Any]] | None = None) -> None:
    """Print `value` (the JSON answer) as the options ask. The table form shows `columns`
    of each item of `value` (or of `rows(value)`, when the answer is not a list of items)."""
    query = getattr(args, "query", None)
    if query is not None:
        value = query.search(value)
        columns = rows = None  # the query chose what to show
    form = output_format(args)
    out = sys.stdout
    if form == "json":
        out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    elif form == "yaml":
        import yaml

        out.write(yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False))
    elif form == "tsv":
        for line in _tsv_lines(rows(value) if rows is not None else value):
            out.write(line + "\n")
    else:
        _table(rows(value) if rows is not None else value, columns)
    out.flush()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _tsv_lines(value: Any) -> list[str]:
    """As `az -o tsv`: one line per item, its scalar values separated by tabs (nested ones left out)."""
    items = value if isinstance(value, list) else [value]
    lines: list[str] = []
    for item in items:
        if isinstance(item, dict):
            cells = [_cell(v) for v in item.values() if not isinstance(v, (dict, list))]
        elif isinstance(item, list):
            cells = [_cell(v) for v in item if not isinstance(v, (dict, list))]
        else:
            cells = [_cell(item)]
        lines.append("\t".join(c.replace("\t", " ").replace("\n", " ") for c in cells))
    return lines


def _generic_columns(rows: list[Any]) -> list[Column]:
    """For an answer reshaped by --query: a column per scalar key, in first-seen order."""
    if rows and not any(isinstance(row, dict) for row in rows):
        return [Column("Result", lambda row: row)]
    headers: dict[str, None] = {}
    for row in rows:
        if isinstance(row, dict):
            for key, cell in row.items():
                if not isinstance(cell, (dict, list)):
                    headers.setdefault(str(key))
    return [Column.key(header) for header in headers]


def _table(value: Any, columns: Sequence[Column] | None) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if value is None or value == [] or value == {}:
        return
    if not isinstance(value, (dict, list)):
        sys.stdout.write(_cell(value) + "\n")
        return
    rows = value if isinstance(value, list) else [value]
    chosen = list(columns) if columns else _generic_columns(rows)
    terminal = sys.stdout.isatty()
    # Off a terminal a table is as wide as it needs (no folding at 80 columns), without colour
    # and without the padding after the last cell.
    buffer = None if terminal else io.StringIO()
    console = Console(file=buffer or sys.stdout, highlight=False, width=None if terminal else 100_000,
                      color_system=None if buffer else "auto")

    def cell(column: Column, row: Any) -> Text:
        text = _cell(column.get(row))
        return Text(text, style=STATUS_STYLES.get(text, "")) if column.status else Text(text)

    if isinstance(value, dict):
        # One item (a `show`): a field per line reads better than one wide row.
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for column in chosen:
            table.add_row(column.header, cell(column, value))
    else:
        # A rule under the header (in ASCII off a terminal).
        rule = box.SIMPLE_HEAD if terminal else box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n")
        table = Table(box=rule, pad_edge=False, show_edge=False, header_style="bold")
        for column in chosen:
            table.add_column(column.header, overflow="fold", no_wrap=not column.wrap)
        for row in rows:
            table.add_row(*(cell(column, row) for column in chosen))
    console.print(table)
    if buffer is not None:
        sys.stdout.write("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))
