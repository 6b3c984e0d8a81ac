"""The run-history vocabulary and filter language, without storage: status words, step run
ids, the OData subset as SDK v1 and compiled clients write it, and what a filter lets
the reader skip."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.errors import BadRequestError
from pipelines.runs.experiments import Experiment
from pipelines.runs.history import (
    HistoryRecord,
    pipeline_record,
    run_status_word,
    split_run_id,
    step_record,
    step_run_id,
    step_status_word,
)
from pipelines.runs.model import Run, RunStatus, Step, TaskStatus
from pipelines.runs.query import (
    EXPERIMENT_FIELDS,
    Order,
    matches,
    may_match_steps,
    only_unfinished,
    parse_filter,
    parse_order,
    pinned_runs,
)
from pipelines.runs.reader import Query
from pipelines.store.tokens import seal, unseal

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def a_run(**changes: object) -> Run:
    run = Run(id=str(uuid.uuid4()), workspace="ws", pipeline_id="p", graph_id="g", experiment_name="forecast",
              created=T0, run_number=7, tags={"team": "forecast", "path": "C:\\data\\new"},
              properties={"owner": "ana"})
    for name, value in changes.items():
        setattr(run, name, value)
    return run


def a_record(**changes: object) -> HistoryRecord:
    return pipeline_record(a_run(**changes))


# -- status words ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "cancel", "word"), [
    (RunStatus.NOT_STARTED, False, "NotStarted"),
    (RunStatus.RUNNING, False, "Running"),
    (RunStatus.RUNNING, True, "CancelRequested"),
    (RunStatus.NOT_STARTED, True, "CancelRequested"),
    (RunStatus.FINISHED, False, "Completed"),
    (RunStatus.FAILED, False, "Failed"),
    (RunStatus.CANCELED, True, "Canceled"),
])
def test_a_run_reads_the_same_word_in_both_families(status: RunStatus, cancel: bool, word: str) -> None:
    assert run_status_word(a_run(status=status, cancel_requested=cancel)) == word


def test_a_running_step_of_a_run_being_canceled_reads_cancel_requested() -> None:
    run = a_run(status=RunStatus.RUNNING, cancel_requested=True)
    assert step_status_word(Step("n1", "a", status=TaskStatus.RUNNING), run) == "CancelRequested"
    assert step_status_word(Step("n2", "b", status=TaskStatus.FINISHED), run) == "Completed"
    assert step_status_word(Step("n3", "c", status=TaskStatus.QUEUED), a_run()) == "Queued"


# -- ids -----------------------------------------------------------------------------------------------
def test_a_step_run_id_splits_back_into_its_run_and_node() -> None:
    run_id = str(uuid.uuid4())
    for node in ("a1b2c3d4", "with_underscore", "with-dash_and_1"):
        assert split_run_id(step_run_id(run_id, node)) == (run_id, node)
    assert split_run_id(run_id) == (run_id, None)
    assert split_run_id("not-a-uuid_node") == ("not-a-uuid_node", None)
    assert split_run_id(run_id + "_") == (run_id + "_", None)


def test_a_step_record_is_a_child_of_its_pipeline_run() -> None:
    run = a_run()
    record = step_record(run, Step("n1", "score", index=1, status=TaskStatus.FAILED, detail="exit code 2"))
    assert record.run_id == f"{run.id}_n1" and record.parent_run_id == record.root_run_id == run.id
    assert record.run_number == 9 and record.run_type == "azureml.StepRun"
    assert record.tags == {"azureml.nodeid": "n1", "azureml.pipeline": run.id}
    assert record.error is not None and record.error.message == "exit code 2"


# -- filters as clients write them ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("(ParentRunId eq null)", True),
    ("Status eq 'Running'", False),
    ("Status eq 'running' or Status eq 'NotStarted'", True),
    ("Status eq 'Completed' or Status eq 'Failed'", False),
    ("status eq NotStarted", True),
    ("(Status eq NotStarted) and (Tags/team eq \"forecast\")", True),
    ('(Tags/team eq "other")', False),
    # SDK v1's "has the tag" (Run.list(tags="k"), Experiment.get_runs(tags="k")): true only of a
    # tag the run has; nothing is true of one it does not have, `ne null` and `ne 'x'` included
    ("(Tags/missing ne null or Tags/missing eq null)", False),
    ("(Tags/team ne null or Tags/team eq null)", True),
    ("(Properties/owner ne null or Properties/owner eq null)", True),
    ("(Properties/missing ne null or Properties/missing eq null)", False),
    ("Tags/missing ne 'x'", False),
    ("Tags/team ne null", True),
    ("Tags/team eq null", False),
    ("(Properties/owner eq \"ana\")", True),
    ("((RunType eq azureml.PipelineRun or Properties/azureml.runsource eq azureml.PipelineRun)"
     " and (Tags/team eq \"forecast\"))", True),
    ("RunType eq 'azureml.StepRun'", False),
    ("CreatedUtc ge datetime'2026-11-01T00:00:00Z' and CreatedUtc lt datetime'2026-11-02T00:00:00'", True),
    ("CreatedUtc gt datetime'2026-11-01T12:00:00+00:00'", False),
    ("EndTimeUtc eq null and StartTimeUtc eq null", True),
    ("RunNumber gt 6 and RunNumber le 7", True),
    # a date or a number in a 'string' literal, as a client that quotes every value writes it
    ("CreatedUtc ge '2026-11-01T00:00:00Z' and CreatedUtc lt '2026-11-02T00:00:00'", True),
    ("CreatedUtc gt '2026-11-01T12:00:00+00:00'", False),
    ("RunNumber eq '7'", True),
    ("RunNumber eq '8'", False),
    ("Name eq 'it''s'", False),
    # SDK v1's created_after: the datetime as Python prints it, bare (T0 is 2026-11-01 12:00 UTC)
    ("(CreatedUtc ge 2026-11-01 00:00:00)", True),
    ("(CreatedUtc ge 2026-11-01 12:00:00.000001)", False),
    ("(CreatedUtc ge 2026-11-01 12:00:00+00:00) and (CreatedUtc lt 2026-11-01T13:00:00Z)", True),
    # SDK v1's target_name, bare
    ("(Target eq function-app)", True),
    ("(Target eq gpu-pool)", False),
    # SDK v1 writes tag values in double quotes as they are, nothing escaped
    ("(Tags/path eq \"C:\\data\\new\")", True),
    ("(Tags/day eq 2026-11-01 00:00:00)", False),  # a bare datetime compared with a tag: its text
])
def test_filters_as_sdk_v1_and_compiled_clients_write_them(text: str, expected: bool) -> None:
    assert matches(parse_filter(text), a_record()) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("(Tags/favorite ne null or Tags/favorite eq null)", True),
    ("Tags/favorite eq null", True),
    ("Tags/favorite ne null", False),
    ("Tags/favorite eq ''", True),
])
def test_a_tag_without_a_value_is_null_and_still_a_tag_the_run_has(text: str, expected: bool) -> None:
    # GIVEN a run tagged as SDK v1's run.tag("favorite") tags it: the key, no value
    record = a_record(tags={"favorite": ""})
    # THEN `eq null` is true of it, and "has the tag" too
    assert matches(parse_filter(text), record) is expected


@pytest.mark.parametrize(("text", "token"), [
    ("Status eq", "ends too early"),
    ("Colour eq 'red'", "'Colour'"),
    ("Status eq 'Sleeping'", "Sleeping"),
    ("CreatedUtc gt 'yesterday'", "'yesterday'"),
    ("CreatedUtc gt datetime'yesterday'", "yesterday"),
    ("Status eq 'Running' Status", "'Status'"),
    ("(Status eq Running", "ends too early"),
    ("Status like 'Run%'", "'like'"),
    ("not Status eq Running", "'not'"),
    ("RunNumber gt seven", "'seven'"),
    ("Tags/ eq 'x'", "'Tags/'"),
    ("Status eq 'Running' and", "ends too early"),
    ("Status eq \"unterminated", "'\"unterminated'"),
    ("(" * 40 + "Status eq Running" + ")" * 40, "nested too deeply"),
])
def test_a_filter_it_cannot_read_is_a_400_naming_the_token(text: str, token: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        parse_filter(text)
    assert raised.value.target == "filter"
    assert token in raised.value.message


def test_experiment_filters_have_their_own_fields() -> None:
    assert parse_filter("((name eq exp1) and (Tags/a eq b))", EXPERIMENT_FIELDS) is not None
    with pytest.raises(BadRequestError):
        parse_filter("Status eq Running", EXPERIMENT_FIELDS)


def test_an_experiment_has_no_tags_so_no_tag_filter_matches_it() -> None:
    # SDK v1's Experiment.list(workspace, tags="k") asks for the experiments that have the tag
    experiment = Experiment("id-1", "exp1", "default", T0)
    assert matches(parse_filter("(name eq exp1)", EXPERIMENT_FIELDS), experiment)
    assert not matches(parse_filter("(Tags/k ne null or Tags/k eq null)", EXPERIMENT_FIELDS), experiment)


# -- what a filter lets the reader skip --------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "unfinished"), [
    ("Status eq 'Running'", True),
    ("Status eq 'Running' or Status eq 'NotStarted' or Status eq Queued", True),
    ("(Status eq Running or Status eq CancelRequested) and Tags/a eq 'b'", True),
    ("Status ne 'Completed' and Status ne 'Failed' and Status ne 'Canceled'", True),
    ("Status eq 'Running' or Tags/a eq 'b'", False),
    ("Status ne 'Running'", False),
    ("Tags/a eq 'b'", False),
    (None, False),
])
def test_only_unfinished_knows_when_the_active_runs_suffice(text: str | None, unfinished: bool) -> None:
    assert only_unfinished(parse_filter(text)) is unfinished


def test_step_runs_are_read_only_when_the_filter_can_match_them() -> None:
    assert not may_match_steps(parse_filter("(ParentRunId eq null)"))
    assert not may_match_steps(parse_filter("RunType eq azureml.PipelineRun"))
    assert may_match_steps(parse_filter("RunType eq azureml.StepRun"))
    assert may_match_steps(parse_filter("(RootRunId eq r1 and RunId ne r1)"))
    assert may_match_steps(None)


def test_a_filter_on_one_run_pins_the_query_to_it() -> None:
    assert pinned_runs(parse_filter("(RootRunId eq r1 and RunId ne r1)")) == {"r1"}
    assert pinned_runs(parse_filter("RunId eq 'r2'")) == {"r2"}
    assert pinned_runs(parse_filter("RootRunId eq r1 or Status eq Running")) is None
    assert pinned_runs(parse_filter("Status eq Running")) is None


def test_runs_asked_for_by_id_pin_the_query_to_them() -> None:
    # SDK v1's get_runs_by_run_ids: bare ids joined by or, ordered by RunId desc
    assert pinned_runs(parse_filter("RunId eq r1 or RunId eq r2 or RunId eq r3")) == {"r1", "r2", "r3"}
    assert pinned_runs(parse_filter("(RunId eq 'r1' or RunId eq 'r2') and Status eq 'Completed'")) == {"r1", "r2"}
    # an or that lets another run through pins nothing
    assert pinned_runs(parse_filter("RunId eq r1 or RunId ne r2")) is None
    assert pinned_runs(parse_filter("RunId eq r1 or Status eq Running")) is None


def test_runs_are_ordered_by_id_either_way_and_the_order_survives_a_token() -> None:
    ids = ["ab", "abc", "b", "a", "ab_1"]
    records = [a_record(id=run_id) for run_id in ids]
    descending, ascending = parse_order("RunId desc"), parse_order("runid", "asc")
    assert descending == Order("RunId", True) and ascending == Order("RunId", False)
    assert [r.run_id for r in sorted(records, key=descending.key)] == sorted(ids, reverse=True)
    assert [r.run_id for r in sorted(records, key=ascending.key)] == sorted(ids)
    # the key goes into a continuation token as JSON and comes back comparable
    key = descending.key(records[1])
    assert json.loads(json.dumps(key)) == key


# -- order, paging tokens -----------------------------------------------------------------------------------------
def test_orders_put_runs_without_the_value_last() -> None:
    started = a_record(started=T0 + timedelta(minutes=1))
    later = a_record(started=T0 + timedelta(minutes=2))
    waiting = a_record()
    order = parse_order("StartTimeUtc desc")
    assert order == Order("StartTimeUtc", True)
    assert sorted([waiting, started, later], key=order.key) == [later, started, waiting]
    assert parse_order(None) is None
    assert parse_order("", "asc") == Order("CreatedUtc", False)
    for bad in ("Colour desc", "CreatedUtc sideways", "CreatedUtc desc, RunId"):
        with pytest.raises(BadRequestError):
            parse_order(bad)


def test_a_continuation_token_belongs_to_its_query() -> None:
    query = Query.of("Status eq Running", None, None, 10, 100)
    token = seal(query.fingerprint("ws", "runs", "x"), k="key", s=1)
    assert unseal(token, query.fingerprint("ws", "runs", "x")) == {
        "q": query.fingerprint("ws", "runs", "x"), "k": "key", "s": 1}
    with pytest.raises(BadRequestError, match="another query"):
        unseal(token, query.fingerprint("ws", "runs", "y"))
    for forged in ("!!!", "bm90IGpzb24", "WzFd"):  # not base64, not JSON, not an object
        with pytest.raises(BadRequestError, match="not one this service issued"):
            unseal(forged, "q")
    for top in (0, 1001):
        with pytest.raises(BadRequestError):
            Query.of(None, None, None, top, 100)
