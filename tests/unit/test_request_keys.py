"""The submit body's keys: near misses of known keys refused, other unknown keys listed (no Azurite)."""

from __future__ import annotations

import json

import pytest

from pipelines.api.automation_contract import ignored_keys_header
from pipelines.errors import BadRequestError
from pipelines.runs.body_keys import edit_distance, near_miss
from pipelines.runs.devops import BODY_KEY
from pipelines.runs.request import SUBMIT_KEYS, parse_submit, read_submit
from tests.service import VECTORS


@pytest.mark.parametrize(("sent", "meant"), [
    ("ParamAssignments", "ParameterAssignments"),       # a word cut short
    ("ParamsAssignments", "ParameterAssignments"),
    ("parameter_assignments", "ParameterAssignments"),  # another spelling of the same words
    ("PARAMETERASSIGNMENT", "ParameterAssignments"),
    ("ParameterAsignments", "ParameterAssignments"),
    ("ExperimentNmae", "ExperimentName"),               # neighbours swapped: one edit
    ("ExpName", "ExperimentName"),
    ("DataSetDefinitionValueAssignment", "DataSetDefinitionValueAssignments"),
    ("Tag", "Tags"),
    ("Descripton", "Description"),
    ("ContinueOnStepFailure", None),                    # three letters short of the key: not a near miss
    ("Flags", None),                                     # two edits from Tags, but Tags is short
    ("args", None),
    ("GraphId", None),
    ("StepTags", None),
    ("PipelineId", None),
    ("EnforceRerun", None),
    ("tags", None),                                      # a known key, in any case, is no near miss
])
def test_near_misses(sent: str, meant: str | None) -> None:
    assert near_miss(sent, SUBMIT_KEYS) == meant


def test_edit_distance_counts_a_swap_of_neighbours_once() -> None:
    assert edit_distance("abcd", "abcd") == 0
    assert edit_distance("abcd", "abdc") == 1
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3


def test_every_near_miss_is_in_one_400_and_other_unknown_keys_are_listed() -> None:
    with pytest.raises(BadRequestError) as refused:
        read_submit({"ParamAssignments": {}, "Tag": {}, "Tags": {}, "Extra": 1})
    assert {d.target for d in refused.value.details} == {"ParamAssignments", "Tag"}
    parsed = read_submit({"ParameterAssignments": {"a": 1}, "Extra": 1, "clientInfo": {"x": 1}})
    assert parsed.ignored_keys == ["Extra", "clientInfo"]
    assert parsed.request.parameter_assignments == {"a": 1}


@pytest.mark.parametrize("name", sorted(p.name for p in VECTORS.glob("*.json")))
def test_the_request_vectors_have_no_near_miss(name: str) -> None:
    body = json.loads((VECTORS / name).read_text())
    if "ExperimentName" in body or name == "empty.json":  # the request bodies, not the answers
        # every key known; AzDevOpsCallBackInfo is read by the submit routes themselves (runs/devops.py)
        assert [key for key in read_submit(body).ignored_keys if key != BODY_KEY] == []


def test_the_ignored_keys_header_cannot_carry_a_line_break() -> None:
    assert ignored_keys_header([]) == {}
    header = ignored_keys_header(["a b", "x\r\nSet-Cookie: y", "ü,"])
    assert header == {"x-ms-ignored-keys": "a%20b,x%0D%0ASet-Cookie%3A%20y,%C3%BC%2C"}
    many = ignored_keys_header([f"key{i:04}" for i in range(1000)])["x-ms-ignored-keys"]
    assert len(many) <= 2048 and many.startswith("key0000,key0001,") and many.split(",")[-1].startswith("key")


@pytest.mark.parametrize(("sent", "allowed"), [(True, True), ("true", True), ("False", False), (None, False)])
def test_allow_step_reruns_is_a_boolean_or_its_string(sent: object, allowed: bool) -> None:
    body = {} if sent is None else {"AllowStepReruns": sent}
    assert parse_submit(body).allow_step_reruns is allowed


def test_allow_step_reruns_of_another_kind_is_a_400_naming_it() -> None:
    with pytest.raises(BadRequestError) as raised:
        parse_submit({"AllowStepReruns": "yes"})
    assert raised.value.target == "AllowStepReruns"


@pytest.mark.parametrize(("sent", "kept"), [
    ("nightly", "nightly"), (5, "5"), (2.5, "2.5"), ("", ""),
    ({"a": 1}, None), ([1], None), (True, None), ("x" * 4097, None),
])
def test_keys_taken_with_any_value_are_never_an_error(sent: object, kept: str | None) -> None:
    # ScheduleId and DisplayName: "any | accepted; stored or ignored, never an error"
    parsed = read_submit({"ScheduleId": sent, "displayName": sent, "EnableNotification": sent,
                          "AzDevOpsCallBackInfo": sent})
    assert (parsed.request.schedule_id, parsed.request.display_name) == (kept, kept)
    # what is not kept is named as ignored, not dropped silently; AzDevOpsCallBackInfo is left to the
    # submit routes, which read it beside the request (a schedule's or trigger's Request does not)
    not_kept = [] if kept is not None else ["ScheduleId", "DisplayName"]
    assert sorted(parsed.ignored_keys) == sorted([*not_kept, BODY_KEY])


def test_a_key_sent_twice_in_different_cases_is_read_from_the_last_and_the_other_named_ignored() -> None:
    # GIVEN a body with both spellings of Tags (the contract matches keys in any case)
    parsed = read_submit(json.loads('{"Tags": {"a": "1"}, "tags": {"b": "2"}, "Extra": 1}'))
    # THEN the last one is read, and the first is named with the keys nothing read
    assert parsed.request.tags == {"b": "2"}
    assert parsed.ignored_keys == ["Tags", "Extra"]
