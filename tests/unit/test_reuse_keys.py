"""Reuse keys: every ingredient that can change a step's outputs changes its key; what is only
a label or an order without meaning does not. And the content digest of a data input."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pipelines.authoring.definition import PipelineDefinition, parse_definition
from pipelines.data.digests import content_digest
from pipelines.runs.reuse_keys import ENVIRONMENT, NoKey, step_key

BASE: dict[str, Any] = {
    "parameters": [
        {"name": "n", "type": "int", "default": 3},
        {"name": "label", "type": "string", "default": "x"},
        {"name": "unused", "type": "float", "default": 0.5},
        {"name": "raw", "type": "datapath", "default": {"datastore": "workspaceblobstore", "path": "raw"}},
    ],
    "steps": [
        {"id": "a", "name": "a", "script_name": "a.py", "snapshot": "a" * 64, "outputs": [{"name": "first"}],
         "arguments": [{"kind": "literal", "value": "--n"}, {"kind": "parameter", "name": "n"},
                       {"kind": "output", "name": "first"}]},
        {"id": "b", "name": "b", "script_name": "b.py", "snapshot": "b" * 64,
         "inputs": [{"name": "first", "kind": "step_output", "source_step": "a", "source_output": "first"},
                    {"name": "raw", "kind": "datapath", "parameter": "raw"}],
         "outputs": [{"name": "second"}],
         "arguments": [{"kind": "input", "name": "first"}, {"kind": "input", "name": "raw"},
                       {"kind": "literal", "value": "--label"}, {"kind": "parameter", "name": "label"},
                       {"kind": "output", "name": "second"}]},
    ],
    "edges": [{"from_step": "a", "from_output": "first", "to_step": "b", "to_input": "first"}],
    "snapshot": "c" * 64,
}
INPUTS = {"first": "1" * 64, "raw": "2" * 64}
PARAMETERS = {"n": 3, "label": "x", "unused": 0.5}


def definition(change: Any = None) -> PipelineDefinition:
    document = copy.deepcopy(BASE)
    if change is not None:
        change(document)
    return parse_definition(document)


def key_of(
    document: PipelineDefinition | None = None,
    parameters: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
    node: str = "b",
    environment: str = ENVIRONMENT,
) -> str:
    graph = document or definition()
    step = next(s for s in graph.steps if s.id == node)
    return step_key(step, graph, PARAMETERS if parameters is None else parameters,
                    INPUTS if inputs is None else inputs, environment)


def test_the_key_is_stable_for_the_same_ingredients() -> None:
    assert key_of() == key_of(definition())
    assert len(key_of()) == 64


def _set(step: int, field: str, value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        document["steps"][step][field] = value
    return change


@pytest.mark.parametrize(("what", "change"), [
    ("the code snapshot", _set(1, "snapshot", "d" * 64)),
    ("the script", _set(1, "script_name", "other.py")),
    ("a fresh interpreter", _set(1, "fresh_interpreter", True)),
    ("a literal argument", lambda d: d["steps"][1]["arguments"].__setitem__(2, {"kind": "literal", "value": "-l"})),
    ("the arguments' order", lambda d: d["steps"][1]["arguments"].reverse()),
    ("an output's name", lambda d: d["steps"][1].__setitem__("outputs", [{"name": "renamed"}])
     or d["steps"][1]["arguments"].__setitem__(4, {"kind": "output", "name": "renamed"})),
    ("an input's mode", lambda d: d["steps"][1]["inputs"][1].__setitem__("mode", "download")),
])
def test_each_ingredient_of_the_step_changes_the_key(what: str, change: Any) -> None:
    assert key_of(definition(change)) != key_of(), what


@pytest.mark.parametrize(("what", "parameters"), [
    ("a parameter in the step's arguments", {**PARAMETERS, "label": "y"}),
    ("a parameter the step does not pass (its script sees every one)", {**PARAMETERS, "unused": 0.75}),
    ("a parameter left at its default, then given", {k: v for k, v in PARAMETERS.items() if k != "label"}
     | {"label": "z"}),
])
def test_parameter_values_change_the_key(what: str, parameters: dict[str, Any]) -> None:
    assert key_of(parameters=parameters) != key_of(), what


def test_a_parameter_given_its_default_value_is_the_same_as_left_at_its_default() -> None:
    assert key_of(parameters={"n": 3}) == key_of(parameters={"n": 3, "label": "x", "unused": 0.5})
    # and a value is compared as the step receives it: "3" for the int parameter is 3
    assert key_of(parameters={**PARAMETERS, "n": "3"}) == key_of()


@pytest.mark.parametrize("name", ["first", "raw"])
def test_an_input_with_other_content_changes_the_key(name: str) -> None:
    assert key_of(inputs={**INPUTS, name: "9" * 64}) != key_of()


def test_the_environment_is_part_of_the_key() -> None:
    assert key_of(environment="python 3.99; pipelines 9") != key_of()


def test_named_things_whose_order_means_nothing_do_not_change_it() -> None:
    # GIVEN the same parameters and inputs listed in another order
    reordered = definition(lambda d: (d["parameters"].reverse(), d["steps"][1]["inputs"].reverse()))
    # THEN the key is the same
    assert key_of(reordered, parameters=dict(reversed(list(PARAMETERS.items())))) == key_of()


def test_labels_are_not_ingredients() -> None:
    # The step's name (and so its node's label) and the pipeline's other steps do not change it.
    renamed = definition(lambda d: (d["steps"][1].__setitem__("name", "renamed"),
                                    d["steps"][0].__setitem__("script_name", "z.py")))
    assert key_of(renamed) == key_of()


def test_a_step_without_the_digest_of_an_input_has_no_key() -> None:
    with pytest.raises(NoKey):
        key_of(inputs={"first": "1" * 64})


FILES = [("workspaceblobstore", "raw/a.csv", 10, '"0x1"'), ("workspaceblobstore", "raw/b.csv", 20, '"0x2"')]
DATAPATH = {"kind": "datapath", "datastore": "workspaceblobstore", "path": "raw"}


def test_a_data_digest_changes_with_a_file_written_again() -> None:
    again = [FILES[0], ("workspaceblobstore", "raw/b.csv", 20, '"0x3"')]
    assert content_digest(DATAPATH, again) != content_digest(DATAPATH, FILES)


def test_a_data_digest_changes_with_a_file_added_or_a_size() -> None:
    assert content_digest(DATAPATH, [*FILES, ("workspaceblobstore", "raw/c.csv", 1, '"0x4"')]) != \
        content_digest(DATAPATH, FILES)
    assert content_digest(DATAPATH, [FILES[0]]) != content_digest(DATAPATH, FILES)


def test_a_data_digest_ignores_listing_order_and_a_file_named_twice() -> None:
    assert content_digest(DATAPATH, [FILES[1], FILES[0], FILES[1]]) == content_digest(DATAPATH, FILES)


def test_a_datasets_reading_options_and_type_are_in_its_digest() -> None:
    tabular = {"kind": "dataset", "type": "tabular", "options": {"separator": ","}}
    assert content_digest({**tabular, "options": {"separator": ";"}}, FILES) != content_digest(tabular, FILES)
    assert content_digest({**tabular, "type": "file"}, FILES) != content_digest(tabular, FILES)
    assert content_digest(tabular, FILES) != content_digest(DATAPATH, FILES)
