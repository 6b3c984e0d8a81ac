"""The edge parsers of endpoint, datastore and dataset bodies: the keys they read are the documented
ones, and what they hand the services (no Azurite)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from pipelines.api import bodies
from pipelines.api.data import DataPathEntity
from pipelines.api.data_requests import (
    DATASET_KEYS,
    DATASTORE_KEYS,
    PATH_KEYS,
    dataset_registration,
    datastore_registration,
)
from pipelines.api.endpoint_requests import (
    CREATE_KEYS,
    UPDATE_KEYS,
    VERSION_KEYS,
    endpoint_change,
    new_endpoint,
)
from pipelines.api.wire_keys import WireObject
from pipelines.catalogue import KEEP, EndpointChange, VersionChange
from pipelines.data import DataPathRef
from pipelines.errors import BadRequestError, PipelinesError, PreconditionFailedError
from pipelines.vocabulary import EntityStatus


def aliases(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


@pytest.mark.parametrize(
    ("parsed", "documented"),
    [
        (CREATE_KEYS, bodies.CreateEndpointRequest),
        (UPDATE_KEYS, bodies.UpdateEndpointRequest),
        (VERSION_KEYS, bodies.PipelineVersionRequest),
        (DATASTORE_KEYS, bodies.DatastoreRequest),
        (DATASET_KEYS, bodies.DatasetRequest),
        (PATH_KEYS, DataPathEntity),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
def test_the_keys_parsed_are_the_keys_documented(parsed: tuple[str, ...], documented: type[BaseModel]) -> None:
    assert len(set(parsed)) == len(parsed)
    assert set(parsed) == aliases(documented)


def test_a_parser_reads_only_the_keys_it_declares() -> None:
    values = WireObject({"NAME": "a", "other": 1}, ("Name",))
    assert values.get("Name") == "a" and "Name" in values
    with pytest.raises(KeyError):
        values.get("other")


def refused(error: type[PipelinesError], call: object, *args: object, **kwargs: object) -> PipelinesError:
    assert callable(call)
    with pytest.raises(error) as raised:
        call(*args, **kwargs)
    return raised.value


# -- endpoints -------------------------------------------------------------------------------------------
def test_a_create_body_matches_keys_in_any_case_and_the_first_of_two_wins() -> None:
    new = new_endpoint({"name": "ep", "NAME": "other", "pipelineid": "p1", "Tags": {"a": 1, "b": "x"},
                        "PROPERTIES": None})
    assert (new.name, new.pipeline_id, new.description) == ("ep", "p1", None)
    assert new.tags == {"a": "1", "b": "x"} and new.properties == {}


@pytest.mark.parametrize(
    ("body", "target", "fragment"),
    [
        ({"Name": ["x"], "PipelineId": "p"}, "Name", "Name must start with a letter or digit"),
        ({"Name": "e", "PipelineId": 5}, "PipelineId", "PipelineId is required"),
        ({"Name": "e", "PipelineId": ""}, "PipelineId", "PipelineId is required"),
        ({"Name": "e", "PipelineId": "p", "Description": 5}, "Description", "4096 characters at most"),
        ({"Name": "e", "PipelineId": "p", "Properties": [1]}, "Properties", "must be an object of strings"),
        ({"Name": "e", "PipelineId": "p", "tags": "x"}, "tags", "must be an object of strings"),
    ],
)
def test_a_create_body_of_the_wrong_types_is_a_400(body: dict[str, object], target: str, fragment: str) -> None:
    error = refused(BadRequestError, new_endpoint, body)
    assert error.target == target and fragment in error.message


def test_an_update_keeps_what_it_does_not_name_and_clears_what_is_null() -> None:
    assert endpoint_change({"Url": "ignored"}, None) == EndpointChange()
    change = endpoint_change(
        {"description": None, "EntityStatus": None, "DefaultVersion": None, "TAGS": None, "Properties": {"k": [1]}},
        None,
    )
    assert change.description is None and change.tags == {} and change.properties == {"k": "[1]"}
    assert change.status is KEEP and change.default_version is KEEP and change.name is KEEP
    assert change.versions is KEEP


def test_an_update_reads_the_last_of_a_key_sent_twice_and_types_its_values() -> None:
    change = endpoint_change(
        {
            "Name": "a", "name": "b", "EntityStatus": "deprecated", "DefaultVersion": 1, "Id": "e1",
            "PipelineVersionList": [{"PipelineId": "p0", "Version": 0}, {"PipelineId": "p1", "Version": ""},
                                    {"PipelineId": "p2"}],
        },
        "W/etag-header",
    )
    assert change.name == "b" and change.status is EntityStatus.DEPRECATED and change.default_version == "1"
    assert change.versions == (VersionChange("0", "p0"), VersionChange(None, "p1"), VersionChange(None, "p2"))
    assert change.etag == "W/etag-header" and change.id == "e1"
    assert endpoint_change({"Etag": "W/same"}, "W/same").etag == "W/same"
    assert endpoint_change({"Etag": "W/body"}, None).etag == "W/body"
    assert endpoint_change({"Etag": ""}, None).etag is None


def test_an_update_whose_body_etag_and_if_match_differ_is_a_412() -> None:
    # one of the two is stale, whichever the stored one is
    error = refused(PreconditionFailedError, endpoint_change, {"Etag": "W/body"}, "W/header")
    assert error.status == 412 and error.target == "Etag"


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"Name": None}, "Name"),
        ({"Description": 5}, "Description"),
        ({"Properties": "x"}, "Properties"),
        ({"EntityStatus": "x"}, "EntityStatus"),
        ({"EntityStatus": True}, "EntityStatus"),
        ({"PipelineVersionList": None}, "PipelineVersionList"),
        ({"PipelineVersionList": []}, "PipelineVersionList"),
        ({"PipelineVersionList": [{"PipelineId": "p"}, None]}, "PipelineVersionList[1]"),
        ({"PipelineVersionList": [{"pipelineid": "p"}]}, "PipelineVersionList[0]"),  # item keys as written
        ({"Id": 5}, "Id"),
    ],
)
def test_an_update_of_the_wrong_types_is_a_400(body: dict[str, object], target: str) -> None:
    assert refused(BadRequestError, endpoint_change, body, None).target == target


def test_an_etag_that_is_no_text_is_a_wrong_type() -> None:
    # docs/contract.md §4: wrong types are a 400; a 412 is for an Etag that is text and stale
    assert refused(BadRequestError, endpoint_change, {"Etag": 5}, None).target == "Etag"


# -- datastores and datasets ---------------------------------------------------------------------------
def test_a_datastore_body_is_typed_and_named_by_the_path_or_the_body() -> None:
    given = datastore_registration(
        {"name": "s1", "containername": "c1", "AccountUrl": "", "Overwrite": "1"}, path_name=None,
        overwrite_query=None,
    )
    assert (given.name, given.container, given.account_url, given.overwrite) == ("s1", "c1", None, True)
    assert datastore_registration({"ContainerName": "c"}, path_name="p", overwrite_query="true").overwrite
    mismatch = refused(BadRequestError, datastore_registration, {"Name": "q", "ContainerName": "c"},
                       path_name="p", overwrite_query=None)
    assert mismatch.target == "Name" and "differs from the datastore in the path" in mismatch.message
    for body, target in (({"ContainerName": "c"}, "Name"), ({"Name": "s", "ContainerName": 5}, "ContainerName"),
                         ({"Name": "s", "ContainerName": "c", "AccountUrl": 5}, "AccountUrl"),
                         ({"Name": "s", "ContainerName": "c", "Description": 5}, "Description"),
                         ({"Name": "s", "ContainerName": "c", "CreateIfNotExists": "yes"}, "CreateIfNotExists")):
        error = refused(BadRequestError, datastore_registration, body, path_name=None, overwrite_query=None)
        assert error.target == target


def test_a_dataset_body_is_typed() -> None:
    given = dataset_registration({
        "name": "d", "DATASETTYPE": "Tabular", "Paths": {"datastorename": "s", "RelativePath": "a/*.csv"},
        "Separator": ";", "Encoding": "latin1", "Tags": {"n": 1, "b": True}, "Validate": "false",
    })
    assert (given.name, given.dataset_type, given.paths) == ("d", "tabular", (DataPathRef("s", "a/*.csv"),))
    assert given.options is not None and given.options.to_dict() == {
        "separator": ";", "header": True, "encoding": "iso8859-1"}
    assert given.tags == {"n": "1", "b": "True"} and given.create_new_version and not given.validate
    files = dataset_registration({"Name": "d", "DatasetType": "file", "Paths": [], "Header": "ignored"})
    assert files.dataset_type == "file" and files.options is None and files.paths == ()


@pytest.mark.parametrize(
    ("body", "target", "fragment"),
    [
        ({"DatasetType": "Tabular", "Header": "yes"}, "Header", "Header must be true"),
        ({"DatasetType": "Tabular", "Separator": 1}, "Separator", "Separator must be one character"),
        ({"DatasetType": "Tabular", "Separator": ";;"}, "Separator", "Separator must be one character"),
        ({"DatasetType": "Tabular", "Encoding": 8}, "Encoding", "Encoding must be a text encoding"),
        ({"Paths": "x"}, "Paths", "Paths must be a list"),
        ({"Paths": [1]}, "Paths[0]", "each path is"),
        ({"Paths": [{"DataStoreName": None, "RelativePath": "a"}]}, "Paths[0]", "datastore None is not registered"),
        ({"Paths": [{"DataStoreName": "s", "RelativePath": 5}]}, "Paths[0]", "RelativePath: a path must be a string"),
        ({"Paths": [{"DataStoreName": "s"}, {"RelativePath": "a"}]}, "Paths[0]", "2 dataset paths are invalid"),
        ({"CreateNewVersion": 2}, "CreateNewVersion", "must be true or false"),
        ({"Name": 5}, "Name", "a dataset name is 1 to 255"),
        ({"DatasetType": "table"}, "DatasetType", "DatasetType must be Tabular or File"),
        ({"Description": 5}, "Description", "Description must be a string of at most 4096 characters"),
        ({"Tags": [1]}, "Tags", "Tags must be an object of at most 50 strings"),
        ({"Tags": {"k": {"a": 1}}}, "Tags.k", "Tags.k must be a short string"),
    ],
)
def test_a_dataset_body_of_the_wrong_types_is_a_400(body: dict[str, object], target: str, fragment: str) -> None:
    whole: dict[str, object] = {"Name": "d", "DatasetType": "File", "Paths": [{"DataStoreName": "s",
                                                                                "RelativePath": "a"}]}
    error = refused(BadRequestError, dataset_registration, {**whole, **body})
    assert error.target == target and fragment in error.message
