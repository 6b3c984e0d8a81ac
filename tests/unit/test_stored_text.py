"""The rules of text the service keeps (pipelines.text): Unicode only, and Azure ML's rules for an
experiment name, a run's description and its tags; the submit names the key and the rule."""

from __future__ import annotations

import json

import pytest

from pipelines.errors import BadRequestError
from pipelines.runs.request import parse_submit
from pipelines.store.codec import json_text
from pipelines.text import (
    EXPERIMENT_NAME_RULE,
    MAX_TAGS_STORED,
    description_problem,
    experiment_name_problem,
    stored_json_length,
    tags_problems,
    unpaired_surrogate,
)


@pytest.mark.parametrize("name", ["a", "A", "0", "My_Pipeline", "nightly-run-2", "a" + "b" * 254])
def test_azure_ml_experiment_names_are_valid(name: str) -> None:
    assert experiment_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "is empty"),
        ("_a", "starts with '_'"),
        ("-a", "starts with '-'"),
        ("a.b", "holds '.'"),
        ("../../x", "holds '.'"),
        ("a/b", "holds '/'"),
        ("a b", "holds ' '"),
        ("é", "holds 'é'"),  # SDK v1's \w takes Unicode letters; a path segment here is ASCII
        ("a\x00b", "holds U+0000, a control character"),
        ("abc\n", "holds U+000A, a control character"),  # SDK v1's `$` let a final line break through
        ("a\x85", "holds U+0085, a control character"),
        ("\ud800", "holds an unpaired surrogate"),
        ("e" * 256, "is 256 characters long"),
    ],
)
def test_other_experiment_names_are_refused_saying_why_and_the_rule(name: str, why: str) -> None:
    problem = experiment_name_problem(name)
    assert problem is not None and problem.startswith(why) and problem.endswith(EXPERIMENT_NAME_RULE)


def test_a_description_is_free_text_of_5000_characters_at_most() -> None:
    assert description_problem("line one\n\tline two\r\n" + "x" * 4980) is None
    assert description_problem("x" * 5000) is None
    assert "is 5,001 characters long" in (description_problem("x" * 5001) or "")
    for control in ("\x00", "\x07", "\x1b", "\x7f", "\x9f"):
        assert "a control character" in (description_problem(f"a{control}b") or ""), repr(control)
    assert "unpaired surrogate" in (description_problem("ok \udfff") or "")


def test_tags_follow_azure_ml_limits_each_naming_its_tag() -> None:
    assert tags_problems({"team": "forecast", "note": "two\nlines", "k" * 100: "v" * 1000}) == []
    assert tags_problems({"": "v"}) == [("Tags", tags_problems({"": "v"})[0][1])]
    assert "the tag key '' is empty" in tags_problems({"": "v"})[0][1]
    [(target, message)] = tags_problems({"a\x00": "v"})
    assert target == "Tags.a\x00" and "U+0000" in message and "a tag key is 1 to 100 characters" in message
    [(target, message)] = tags_problems({"k" * 101: "v"})
    assert target == "Tags." + "k" * 100 + "..." and "is 101 characters long" in message
    [(target, message)] = tags_problems({"k": "v" * 1001})
    assert target == "Tags.k" and "a tag value is at most 1,000 characters" in message
    [(target, message)] = tags_problems({"k": "a\x00"})
    assert target == "Tags.k" and "U+0000" in message
    [(target, message)] = tags_problems({f"k{i}": "v" for i in range(51)})
    assert target == "Tags" and "holds 51 tags" in message


def test_tags_that_fit_one_by_one_must_fit_one_table_property_together() -> None:
    # GIVEN 40 tags of 1,000 characters: each within Azure ML's limits, together over 64 KiB as JSON
    tags = {f"k{i:02}": "v" * 1000 for i in range(40)}
    [(target, message)] = tags_problems(tags)
    assert target == "Tags" and "one Table storage property" in message
    # AND what the rule measures is what a run row keeps (pipelines.store.codec.json_text)
    for sample in (tags, {"é": "ü\n\"\\", "😀": "\U0001f600" * 3}):
        assert stored_json_length(sample) == len(json_text(sample).encode("utf-16-le")) // 2
    assert tags_problems({f"k{i:02}": "v" * 600 for i in range(50)}) == []  # 30,4xx characters: they fit
    assert stored_json_length({f"k{i:02}": "v" * 600 for i in range(50)}) <= MAX_TAGS_STORED


def test_the_one_surrogate_check_names_where_in_json() -> None:
    assert unpaired_surrogate({"a": ["ok", {"b": "\ud800"}]}) == "a[1].b"
    assert unpaired_surrogate({"\udfff": 1}) == "$ (a key)"
    assert unpaired_surrogate("\ud83d\ude00".encode("utf-16", "surrogatepass").decode("utf-16")) is None
    assert unpaired_surrogate(json.loads('"\\ud83d\\ude00"')) is None  # a pair json.loads joined is text
    assert unpaired_surrogate("x\ud83d", "ExperimentName") == "ExperimentName"


@pytest.mark.parametrize(
    ("body", "target", "rule"),
    [
        ({"ExperimentName": "a\x00b"}, "ExperimentName", EXPERIMENT_NAME_RULE),
        ({"ExperimentName": "../../x"}, "ExperimentName", EXPERIMENT_NAME_RULE),
        ({"ExperimentName": "\ud800"}, "ExperimentName", EXPERIMENT_NAME_RULE),
        ({"ExperimentName": "x" * 256}, "ExperimentName", EXPERIMENT_NAME_RULE),
        ({"Description": "x" * 5001}, "Description", "a description is at most 5,000 characters"),
        ({"Tags": {"a\x00b": "v"}}, "Tags.a\x00b", "a tag key is 1 to 100 characters"),
        ({"tags": {"k": 5, "v": "x" * 1001}}, "Tags.v", "a tag value is at most 1,000 characters"),
    ],
)
def test_a_submit_names_the_key_and_the_rule(body: dict[str, object], target: str, rule: str) -> None:
    with pytest.raises(BadRequestError) as refused:
        parse_submit(body)
    assert refused.value.target == target and rule in refused.value.message
    assert [(d.target, rule in d.message) for d in refused.value.details] == [(target, True)]


def test_every_problem_of_a_submit_is_reported_at_once() -> None:
    with pytest.raises(BadRequestError) as refused:
        parse_submit({"ExperimentName": "a b", "Description": "\x00", "Tags": {"": "v", "k": "\x01"}})
    assert [d.target for d in refused.value.details] == ["ExperimentName", "Description", "Tags", "Tags.k"]


def test_an_empty_experiment_name_is_as_absent_and_valid_texts_pass() -> None:
    request = parse_submit({"ExperimentName": "", "Description": "two\nlines", "Tags": {"k": 1, "b": True}})
    assert request.experiment_name is None and request.tags == {"k": "1", "b": "True"}
