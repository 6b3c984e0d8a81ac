"""The rerun body, RegenerateOutputs on a submit, and a run's data as a rerun sends it again."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.errors import BadRequestError
from pipelines.runs.data import as_assignments
from pipelines.runs.model import Run
from pipelines.runs.request import parse_submit
from pipelines.runs.rerun import read_rerun


@pytest.mark.parametrize(("sent", "regenerate"), [(None, False), (True, True), ("TRUE", True), ("false", False)])
def test_regenerate_outputs_is_a_boolean_or_its_string(sent: object, regenerate: bool) -> None:
    body = {} if sent is None else {"RegenerateOutputs": sent}
    assert parse_submit(body).regenerate_outputs is regenerate


def test_regenerate_outputs_of_another_kind_or_a_near_miss_is_a_400_naming_it() -> None:
    with pytest.raises(BadRequestError) as raised:
        parse_submit({"RegenerateOutputs": "yes"})
    assert raised.value.target == "RegenerateOutputs"
    with pytest.raises(BadRequestError) as raised:
        parse_submit({"RegenerateOutput": True})
    assert "RegenerateOutputs" in raised.value.message


def test_a_rerun_body_gives_parameter_changes_and_names_what_it_ignored() -> None:
    assert read_rerun({}) == ({}, [])
    assert read_rerun({"parameterassignments": {"n": 4, "flag": "True"}, "Note": "x"}) == (
        {"n": 4, "flag": "True"}, ["Note"])


@pytest.mark.parametrize(("body", "target"), [
    ([], None),
    ({"ParameterAssignments": [1]}, "ParameterAssignments"),
    ({"ParameterAssignments": {"n": None}}, "ParameterAssignments.n"),
    ({"ParameterAssignments": {"n": {"a": 1}}}, "ParameterAssignments.n"),
    ({"ParamAssignments": {"n": 1}}, "ParamAssignments"),
])
def test_a_malformed_rerun_body_is_a_400_naming_the_key(body: Any, target: str | None) -> None:
    with pytest.raises(BadRequestError) as raised:
        read_rerun(body)
    assert raised.value.target == target


def test_a_runs_data_is_assigned_again_by_dataset_id_and_by_path() -> None:
    run = Run(
        id="r", workspace="ws", pipeline_id="p", graph_id="g",
        data_assignments={
            "scoring": {"kind": "dataset", "id": "0d3c", "name": "scores", "version": 2, "paths": []},
            "literal": {"kind": "datapath", "datastore": "store", "path": "in/x.csv"},
        },
        datapath_assignments={"raw": {"datastore": "workspaceblobstore", "path": "raw/2026"}},
    )
    datapaths, datasets = as_assignments(run)
    assert datapaths == {"raw": {"DataStoreName": "workspaceblobstore", "RelativePath": "raw/2026"}}
    assert datasets == {
        "scoring": {"SavedDataSetReference": {"Id": "0d3c"}},
        "literal": {"LiteralValue": {"DataStoreName": "store", "RelativePath": "in/x.csv"}},
    }
