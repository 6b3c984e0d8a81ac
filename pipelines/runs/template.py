"""A run to start later: its target and its submit request. What event triggers and
schedules keep, how it is checked when they are written, how it starts a run when
their moment comes, and what they record of each firing.

The request is checked at write time against the target's current parameters and
data inputs, as far as its values are known then (`RunTemplate.check`): an event
trigger's strings may hold placeholders (`Blanks`) that only an event fills.
A firing that starts no run (the target changed or was disabled, a placeholder
could not be filled, the submit was refused) is recorded on the resource
(`Firings`, written by `record_firing` with an ETag compare-and-swap).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from pydantic import TypeAdapter

from pipelines.auth.permissions import Principal
from pipelines.errors import (
    AlreadyExistsError,
    BadRequestError,
    ErrorDetail,
    EtagMismatchError,
    InvalidParameterError,
    NotFoundError,
    PipelinesError,
)
from pipelines.runs.data import resolve_datapath, resolve_dataset
from pipelines.runs.model import Run
from pipelines.runs.request import DataResolver, SubmitRequest, check_texts, invalid_assignments, resolve
from pipelines.runs.service import RunService, Target, request_fingerprint
from pipelines.store import StorageAccount, Table, etag_of
from pipelines.store.codec import parse_time, time_text

log = logging.getLogger("pipelines.runs")

SCALAR_TYPES = ("int", "float", "bool", "string")
# The target of RunService's 409s about an idempotency key (still in progress, or used
# with another body): that moment's run was started by another firing; this one is no skip.
IDEMPOTENCY_KEY = "Idempotency-Key"
# What a placeholder stands for while a request is checked: a valid value of the type.
_STAND_INS: dict[str, Any] = {"int": 0, "float": 0.0, "bool": False}
_ARTICLES = {"int": "an", "float": "a", "bool": "a"}
# Keys of a data reference that name what it points at: a placeholder there leaves
# nothing to look up before the event comes.
_IDENTITY_KEYS = frozenset({"datastorename", "id", "name", "version"})


class Blanks(Protocol):
    """What a template's strings may leave to be filled when it fires."""

    def holes(self, text: str) -> list[str]:
        """The placeholders in `text` (none: it is what it says)."""

    def whole_scalar(self, text: str) -> bool:
        """`text` is one placeholder whose value may be a number or a boolean."""

    def sample(self, text: str) -> str:
        """`text` with each placeholder replaced by a stand-in, to check what is known now."""


class NoBlanks:
    """A request sent as it is written (a schedule's)."""

    def holes(self, text: str) -> list[str]:
        return []

    def whole_scalar(self, text: str) -> bool:
        return False

    def sample(self, text: str) -> str:
        return text


NO_BLANKS = NoBlanks()


@dataclass
class RunTemplate:
    """One of `pipeline_id`, `endpoint_id`, `endpoint_name` (with an optional version),
    and the submit request to send."""

    pipeline_id: str | None = None
    endpoint_id: str | None = None
    endpoint_name: str | None = None
    pipeline_version: str | None = None
    request: SubmitRequest = field(default_factory=SubmitRequest)

    def target(self, runs: RunService, workspace: str) -> Target:
        """What the template runs now: 404 unknown, 409 disabled, as a submit would say."""
        if self.pipeline_id:
            return runs.pipeline_target(workspace, self.pipeline_id)
        if not (self.endpoint_id or self.endpoint_name):
            raise BadRequestError("a run template names no pipeline or endpoint", target="PipelineId")
        return runs.endpoint_target(
            workspace, endpoint_id=self.endpoint_id, name=self.endpoint_name, version=self.pipeline_version
        )

    def check(self, runs: RunService, workspace: str, blanks: Blanks = NO_BLANKS) -> Target:
        """The target as `target` finds it, and the request checked against its parameters
        and data inputs as a submit checks them (one 400, every bad key in Details).

        A value with placeholders is checked for what it can become: any text fills a
        string parameter; an int, float or bool parameter takes only a value that is one
        whole placeholder that may be a number (`blanks.whole_scalar`); a data reference
        is looked up with stand-ins in its path, or, when a placeholder names the datastore
        or the dataset, checked for its parameter's kind only. Data parameters left at
        their defaults are resolved when a run starts, as for any submit.
        """
        target = self.target(runs, workspace)
        definition = runs.pipelines.definition(target.pipeline)
        specs = {p.name: p for p in definition.parameters}
        problems: list[ErrorDetail] = []
        parameters: dict[str, Any] = {}
        for name, value in self.request.parameter_assignments.items():
            spec = specs.get(name)
            filled_later = isinstance(value, str) and bool(blanks.holes(value))
            if not filled_later or spec is None or spec.type not in SCALAR_TYPES:
                parameters[name] = value  # checked as a submit checks it
            elif spec.type == "string":
                parameters[name] = blanks.sample(value)
            elif blanks.whole_scalar(value):
                parameters[name] = _STAND_INS[spec.type]
            else:
                problems.append(ErrorDetail(
                    "InvalidParameter",
                    f"{name!r} is {_ARTICLES[spec.type]} {spec.type} parameter: a placeholder fills it"
                    " only as the whole value,"
                    f" from the event's data ({{data.<key>}}); not {value!r}",
                    f"ParameterAssignments.{name}",
                ))
        datapaths, unknown_datapaths = _probe(self.request.datapath_assignments, blanks)
        datasets, unknown_datasets = _probe(self.request.dataset_assignments, blanks)
        probe = replace(self.request, parameter_assignments=parameters,
                        datapath_assignments=datapaths, dataset_assignments=datasets)
        try:
            resolve(
                definition, probe,
                resolve_datapath=_known_only(runs.account, workspace, resolve_datapath, unknown_datapaths),
                resolve_dataset=_known_only(runs.account, workspace, resolve_dataset, unknown_datasets),
            )
        except (InvalidParameterError, NotFoundError) as exc:  # a kept request's bad keys are one 400
            problems = exc.details + problems
        if problems:
            raise invalid_assignments(problems)
        return target

    def start(
        self,
        runs: RunService,
        workspace: str,
        request: SubmitRequest,
        *,
        principal: Principal,
        run_source: str,
        idempotency_key: str,
        schedule_id: str | None = None,
        schedule: str | None = None,
    ) -> Run:
        """Submit `request` (this template's, filled in) once per `idempotency_key`; `schedule`:
        the schedule that starts it (its runs are listed by it)."""
        check_texts(request)  # what filled the placeholders may not fit
        fingerprint = request_fingerprint(run_source, idempotency_key, REQUEST_JSON.dump_json(request))
        request = replace(request, run_source=request.run_source or run_source,
                          schedule_id=request.schedule_id or schedule_id)
        return runs.submit(
            workspace, self.target(runs, workspace), request, principal=principal,
            idempotency_key=idempotency_key, fingerprint=fingerprint, schedule=schedule,
        )


REQUEST_JSON: TypeAdapter[SubmitRequest] = TypeAdapter(SubmitRequest)
TEMPLATE_JSON: TypeAdapter[RunTemplate] = TypeAdapter(RunTemplate)


def _has_holes(value: Any, blanks: Blanks) -> bool:
    if isinstance(value, str):
        return bool(blanks.holes(value))
    if isinstance(value, list):
        return any(_has_holes(item, blanks) for item in value)
    if isinstance(value, Mapping):
        return any(_has_holes(item, blanks) for item in value.values())
    return False


def _names_holes(value: Any, blanks: Blanks) -> bool:
    """A placeholder names what a data reference points at (its datastore, dataset, version)."""
    if isinstance(value, Mapping):
        return any(
            (str(k).lower() in _IDENTITY_KEYS and _has_holes(v, blanks)) or _names_holes(v, blanks)
            for k, v in value.items()
        )
    return False


def _sampled(value: Any, blanks: Blanks) -> Any:
    if isinstance(value, str):
        return blanks.sample(value)
    if isinstance(value, list):
        return [_sampled(item, blanks) for item in value]
    if isinstance(value, Mapping):
        return {k: _sampled(v, blanks) for k, v in value.items()}
    return value


def _probe(assignments: Mapping[str, Any], blanks: Blanks) -> tuple[dict[str, Any], set[str]]:
    """Data assignments as they can be checked now, and the names that cannot be looked up."""
    probe: dict[str, Any] = {}
    unknown: set[str] = set()
    for name, value in assignments.items():
        if _names_holes(value, blanks):
            unknown.add(name)
        probe[name] = _sampled(value, blanks)
    return probe, unknown


def _known_only(
    account: StorageAccount, workspace: str, resolver: Callable[..., Any], unknown: set[str]
) -> DataResolver:
    def resolved(name: str, kind: str, value: Any) -> Any:
        return None if name in unknown else resolver(account, workspace, name, kind, value)

    return resolved


# -- what firing did ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FiringError:
    """Why a firing started no run: the error a submit would have answered, and which firing."""

    code: str
    message: str
    time: datetime
    details: tuple[ErrorDetail, ...] = ()
    event_id: str | None = None
    fire_time: datetime | None = None

    @classmethod
    def of(
        cls,
        error: PipelinesError,
        *,
        at: datetime,
        event_id: str | None = None,
        fire_time: datetime | None = None,
    ) -> FiringError:
        return cls(error.code, describe(error), at, tuple(error.details), event_id, fire_time)


def describe(error: PipelinesError) -> str:
    """The error's message, naming every key its details name."""
    extra = [d.message for d in error.details if d.message != error.message]
    return error.message + (": " + "; ".join(extra) if extra else "")


def keys_of(error: PipelinesError) -> str:
    """The keys an error names, for a log line."""
    found = [d.target for d in error.details if d.target] or ([error.target] if error.target else [])
    return ", ".join(found) or "-"


_ERROR_JSON: TypeAdapter[FiringError] = TypeAdapter(FiringError)


@dataclass(frozen=True)
class Author:
    """Who wrote a trigger or a schedule, from the caller's token: the object id (or the
    application's id), its tenant and its name, as SDK v1's `CreatedBy` holds them."""

    object_id: str
    tenant_id: str | None = None
    name: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Author:
        return cls(principal.identity, principal.tenant_id, principal.name)

    def fields(self, prefix: str) -> dict[str, Any]:
        """Entity properties `{prefix}By`, `{prefix}ByTenant`, `{prefix}ByName` ("" when unknown)."""
        return {f"{prefix}By": self.object_id, f"{prefix}ByTenant": self.tenant_id or "",
                f"{prefix}ByName": self.name or ""}

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any], prefix: str) -> Author | None:
        """None on a row written before authors were kept."""
        object_id = entity.get(f"{prefix}By")
        if not object_id:
            return None
        return cls(str(object_id), entity.get(f"{prefix}ByTenant") or None, entity.get(f"{prefix}ByName") or None)


@dataclass(frozen=True)
class Firings:
    """What a trigger's or schedule's firings did, kept on its row.

    `last_fired`: when the last firing happened (a schedule: its fire time), whether
    it started a run or not; `last_run_id`: the run of the last firing that started
    one; `last_error`: why the last firing that started none did not (kept after later
    runs: it is history, and its time says whether it is older than `last_fired`);
    `skipped_count`: how many firings started no run.
    """

    last_fired: datetime | None = None
    last_run_id: str | None = None
    last_error: FiringError | None = None
    skipped_count: int = 0

    def handled(self, moment: datetime) -> Firings:
        return replace(self, last_fired=_latest(self.last_fired, moment))

    def ran(self, moment: datetime, run_id: str) -> Firings:
        return replace(self, last_fired=_latest(self.last_fired, moment), last_run_id=run_id)

    def skipped(self, moment: datetime, error: FiringError) -> Firings:
        return replace(self, last_fired=_latest(self.last_fired, moment), last_error=error,
                       skipped_count=self.skipped_count + 1)

    def fields(self) -> dict[str, Any]:
        """Entity properties (a None is not written: a merge keeps what was there)."""
        return {
            "LastFired": time_text(self.last_fired),
            "LastRunId": self.last_run_id,
            "LastError": _ERROR_JSON.dump_json(self.last_error).decode() if self.last_error else None,
            "SkippedCount": self.skipped_count,
        }

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any]) -> Firings:
        error = entity.get("LastError")
        return cls(
            last_fired=parse_time(entity.get("LastFired")),
            last_run_id=entity.get("LastRunId"),
            last_error=_ERROR_JSON.validate_json(error) if error else None,
            skipped_count=int(entity.get("SkippedCount") or 0),
        )


def _latest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


MAX_RECORD_TRIES = 30


def record_firing(
    table: Table, partition: str, row: str, change: Callable[[Firings], Firings | None]
) -> bool:
    """Apply `change` to the row's firings with an ETag compare-and-swap, again from
    fresh values while another writer wins: concurrent firings lose no count.
    `change` answers None when there is nothing to record (another instance did).
    False when nothing was written (the row is gone, or nothing to record)."""
    for attempt in range(MAX_RECORD_TRIES):
        entity = table.get(partition, row)
        if entity is None:
            return False
        updated = change(Firings.from_entity(entity))
        if updated is None:
            return False
        try:
            table.merge({"PartitionKey": partition, "RowKey": row, **updated.fields()}, etag_of(entity))
            return True
        except EtagMismatchError:
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
    log.error("%s %s: gave up recording a firing after %d tries", table.name, row, MAX_RECORD_TRIES)
    return False


MAX_PUT_TRIES = 10


def save_definition(
    table: Table, partition: str, row: str, fields: Mapping[str, Any], stamp: datetime, author: Author,
    *, create_only: bool = False,
) -> None:
    """Create the row, or replace its definition (`fields`, every one a value, never None)
    and keep what it recorded of its firings, and when and by whom it was created; `author`
    is its writer, the last one (`Modified*`) and, on a new row, its creator (`Created*`).
    `create_only`: a row that exists is left as it is (AlreadyExistsError)."""
    modified = {"Modified": time_text(stamp), **author.fields("Modified")}
    for _ in range(MAX_PUT_TRIES):
        if create_only or table.get(partition, row) is None:
            try:
                table.insert({"PartitionKey": partition, "RowKey": row, **fields,
                              "Created": time_text(stamp), **author.fields("Created"), **modified})
                return
            except AlreadyExistsError:
                if create_only:
                    raise
                continue  # created meanwhile: replace it
        try:
            # Unconditional: the firing columns are not in it, so a firing recorded
            # meanwhile is kept (its own write is the conditional one).
            table.merge({"PartitionKey": partition, "RowKey": row, **fields, **modified})
            return
        except EtagMismatchError:
            continue  # deleted meanwhile: create it
    raise PipelinesError(f"{table.name} {row}: the row kept changing while it was written")
