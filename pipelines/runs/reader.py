"""Reading runs the run-history way: one run, a run's children, an experiment's runs.

Pages are cut by position in a sort order and carry an opaque continuation
token bound to the query that made it (a token from another query, or one this
service did not issue, is a 400). Paging never reads every run:

- A filter that can only match runs that have not ended (`Status eq 'Running'`,
  the query a client makes to find what to cancel) reads the workspace's active
  runs: the `active` partition of `RunIndex`, as short as the work in flight.
- Any other query walks the experiment's index newest first (`RunIndex`,
  `{workspace}|experiment|{digest}`), reads the run rows a page needs, and stops
  at the page size or after `SCAN_LIMIT` index rows; a page that stopped early
  says so with a continuation token, as Table storage itself does. New runs sort
  before the position a token holds, so paging while runs are submitted shows no
  run twice and skips none.

A run's children are its steps, read with the run (one partition, at most 99
rows), in the order of the published definition unless another is asked for.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pipelines.errors import BadRequestError, NotFoundError
from pipelines.runs.engine import RunState
from pipelines.runs.experiments import Experiments, experiment_partition
from pipelines.runs.history import HistoryRecord, pipeline_record, split_run_id, step_record
from pipelines.runs.model import RUN_ROW, Run, run_partition
from pipelines.runs.query import (
    Order,
    matches,
    may_match_steps,
    only_unfinished,
    parse_filter,
    parse_order,
    pinned_runs,
)
from pipelines.runs.repository import ACTIVE, RunRepository
from pipelines.store import StorageAccount, Table, key, tokens

MAX_TOP = 1000
SCAN_LIMIT = 1000
_READERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="history-read")
# What an experiment's whole history can be ordered by: the index is in submission
# order, newest first. Runs start in the order they are submitted (their first steps
# are queued at submit), so newest started first is served as newest submitted first.
_HISTORY_ORDERS = (Order("CreatedUtc", True), Order("StartTimeUtc", True))


@dataclass
class Page:
    records: list[HistoryRecord]
    continuation: str | None


@dataclass(frozen=True)
class Query:
    """What a caller asked for, checked: the filter, the order (None: the route's
    default) and the page size."""

    filter: str | None
    order: Order | None
    top: int

    @classmethod
    def of(
        cls, filter: str | None, orderby: str | None, sortorder: str | None, top: int | None, default_top: int
    ) -> Query:
        parse_filter(filter)  # a malformed filter is a 400 before anything is read
        if top is not None and not 1 <= top <= MAX_TOP:
            raise BadRequestError(f"top must be a whole number from 1 to {MAX_TOP}", target="top")
        return cls(filter, parse_order(orderby, sortorder), top or default_top)

    def fingerprint(self, *where: str) -> str:
        order = f"{self.order.field} {self.order.descending}" if self.order else ""
        return tokens.scope(*where, self.filter or "", order)


# -- continuation tokens ----------------------------------------------------------------------------------
def _whole(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise tokens.forged()
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise tokens.forged()
    return value


def _sort_position(value: Any) -> list[Any]:
    """[missing, number or code points, run id]: a position in a sorted list of records (`Order.key`)."""
    ok = (
        isinstance(value, list)
        and len(value) == 3
        and value[0] in (0, 1)
        and (_number(value[1]) or (isinstance(value[1], list) and all(_number(p) for p in value[1])))
        and isinstance(value[2], str)
    )
    if not ok:
        raise tokens.forged()
    return list(value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _IndexRows:
    """An experiment's index rows, (row key, run id) newest first, fetched a page at a time."""

    def __init__(self, index: Table, condition: str, parameters: dict[str, Any], first_page: int) -> None:
        self.index, self.condition, self.parameters = index, condition, parameters
        self.page_size = first_page
        self.buffer: list[tuple[str, str]] = []
        self.continuation: str | None = None
        self.ended = False

    def _fill(self, wanted: int) -> None:
        while len(self.buffer) < wanted and not self.ended:
            rows, self.continuation = self.index.query_page(
                self.condition, parameters=self.parameters, page_size=self.page_size,
                continuation=self.continuation, select=["RowKey", "RunId"],
            )
            self.buffer += [(str(row["RowKey"]), str(row["RunId"])) for row in rows]
            self.ended = not self.continuation
            self.page_size = min(self.page_size * 2, 200)

    def take(self, count: int) -> list[tuple[str, str]]:
        self._fill(count)
        taken, self.buffer = self.buffer[:count], self.buffer[count:]
        return taken

    def peek(self) -> bool:
        """Whether another row follows (usually already read with the page)."""
        self._fill(1)
        return bool(self.buffer)


class HistoryReader:
    def __init__(self, account: StorageAccount) -> None:
        self.repository = RunRepository(account)
        self.index = Table(account.table("RunIndex"))
        self.experiments = Experiments(account)
        self.default_top = account.settings.page_size_default

    # -- one run ------------------------------------------------------------------------------------------
    def find(self, workspace: str, run_id: str, experiment: str | None = None) -> tuple[HistoryRecord, RunState]:
        """A pipeline run or a step run by its id, with the pipeline run's state."""
        pipeline_run_id, node_id = split_run_id(run_id)
        try:
            state = self.repository.load(workspace, pipeline_run_id)
        except NotFoundError:
            raise NotFoundError(f"run {run_id!r} was not found", target=run_id) from None
        if node_id is None:
            record = pipeline_record(state.run)
        elif node_id in state.steps:
            record = step_record(state.run, state.steps[node_id])
        else:
            raise NotFoundError(f"run {run_id!r} was not found", target=run_id)
        if experiment is not None and record.experiment_name != experiment:
            raise NotFoundError(f"run {run_id!r} was not found in experiment {experiment!r}", target=run_id)
        return record, state

    # -- a run's children ------------------------------------------------------------------------------------
    def children(self, workspace: str, experiment: str | None, run_id: str, query: Query, token: str | None) -> Page:
        """A pipeline run's step runs; a step run has none. Offsets are stable here: a
        run's steps are all written with it, and none is added later."""
        parent, state = self.find(workspace, run_id, experiment)
        fingerprint = query.fingerprint(workspace, "children", run_id)
        position = tokens.unseal(token, fingerprint)
        offset = _whole(position.get("o")) if position else 0
        if parent.node_id is not None:
            return Page([], None)
        tree = parse_filter(query.filter)
        steps = sorted(state.steps.values(), key=lambda s: s.index)
        records = [r for r in (step_record(state.run, s) for s in steps) if matches(tree, r)]
        if query.order is not None:
            order = query.order
            records.sort(key=lambda r: (order.key(r), r.index))
        end = offset + query.top
        return Page(records[offset:end], tokens.seal(fingerprint, o=end) if end < len(records) else None)

    # -- an experiment's runs ----------------------------------------------------------------------------------
    def query(self, workspace: str, experiment: str, query: Query, token: str | None) -> Page:
        tree = parse_filter(query.filter)
        fingerprint = query.fingerprint(workspace, "runs", experiment)
        position = tokens.unseal(token, fingerprint)
        with_steps = may_match_steps(tree)
        pinned = pinned_runs(tree)
        if pinned is not None:
            run_ids = sorted({split_run_id(run_id)[0] for run_id in pinned})
        elif only_unfinished(tree):
            run_ids = self._active_run_ids(workspace)
        else:
            order = query.order or _HISTORY_ORDERS[0]
            if order not in _HISTORY_ORDERS:
                raise BadRequestError(
                    f"an experiment's whole history is listed newest first (CreatedUtc desc or StartTimeUtc desc);"
                    f" {order.field} {'desc' if order.descending else 'asc'} needs a filter on unfinished"
                    " statuses or on one run",
                    target="orderby",
                )
            return self._from_history(workspace, experiment, query, tree, with_steps, fingerprint, position)
        records = [
            record
            for group in self._groups(workspace, run_ids, with_steps)
            for record in group
            if record.experiment_name == experiment and matches(tree, record)
        ]
        order = query.order or _HISTORY_ORDERS[0]
        records.sort(key=lambda r: [*order.key(r), r.run_id])
        if position is not None:
            after = _sort_position(position.get("a"))
            records = [r for r in records if [*order.key(r), r.run_id] > after]
        page = records[: query.top]
        more = len(records) > query.top
        return Page(page, tokens.seal(fingerprint, a=[*order.key(page[-1]), page[-1].run_id]) if more else None)

    def _from_history(self, workspace: str, experiment: str, query: Query, tree: Any, with_steps: bool,
                      fingerprint: str, position: dict[str, Any] | None) -> Page:
        """Walk the experiment's index newest first from the token's position: {k: the
        index row to start at, s: how many of its records were already answered}.

        Index rows are read a page at a time, one more than the page needs (so whether
        more remain is known without another query); runs are read only for the rows
        the page still has room for, side by side."""
        start = _text(position.get("k")) if position else None
        skip = _whole(position.get("s")) if position else 0
        partition = experiment_partition(workspace, experiment)
        rows = self._index_rows(partition, start, query.top + 1)
        found: list[HistoryRecord] = []
        scanned = 0
        while len(found) < query.top and scanned < SCAN_LIMIT:
            batch = rows.take(min(query.top - len(found), SCAN_LIMIT - scanned))
            if not batch:
                return Page(found, None)
            groups = self._groups(workspace, [run_id for _, run_id in batch], with_steps)
            for at, ((row_key, _), group) in enumerate(zip(batch, groups, strict=True)):
                scanned += 1
                records = [r for r in group if matches(tree, r)]
                already = skip if row_key == start else 0
                records = records[already:]
                room = query.top - len(found)
                found.extend(records[:room])
                if len(records) > room:
                    return Page(found, tokens.seal(fingerprint, k=row_key, s=already + room))
                if len(found) >= query.top or scanned >= SCAN_LIMIT:
                    # The page ends on this row's last record: more follow if a row of this batch
                    # is left, or one after it.
                    more = at + 1 < len(batch) or rows.peek()
                    return Page(found, tokens.seal(fingerprint, k=row_key, s=already + len(records)) if more else None)
        return Page(found, None)

    def _index_rows(self, partition: str, start: str | None, first: int) -> _IndexRows:
        condition = "PartitionKey eq @pk" + (" and RowKey ge @start" if start else "")
        return _IndexRows(self.index, condition, {"pk": partition, "start": start or ""}, min(first, 200))

    def _active_run_ids(self, workspace: str) -> list[str]:
        prefix = key(workspace, "")
        rows = self.index.query_all(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": ACTIVE, "low": prefix, "high": prefix[:-1] + "}"},  # '}' follows '|'
        )
        return [str(row["RowKey"]).partition("|")[2] for row in rows]

    def _groups(self, workspace: str, run_ids: list[str], with_steps: bool) -> list[list[HistoryRecord]]:
        """Each run's records (the run, then its steps when asked), read side by side;
        an empty group for a run that is not there (an index row whose submit failed)."""

        def read(run_id: str) -> list[HistoryRecord]:
            if with_steps:
                try:
                    state = self.repository.load(workspace, run_id)
                except NotFoundError:
                    return []
                steps = sorted(state.steps.values(), key=lambda s: s.index)
                return [pipeline_record(state.run)] + [step_record(state.run, s) for s in steps]
            entity = self.repository.runs.get(run_partition(workspace, run_id), RUN_ROW)
            return [pipeline_record(Run.from_entity(entity))] if entity is not None else []

        return list(_READERS.map(read, run_ids))
