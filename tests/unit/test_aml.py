"""What SDK v1's own clients read to make their objects (pipelines/api/aml.py), without storage."""

from __future__ import annotations

import pytest

from pipelines.api.aml import DATA_TYPES, blob_endpoint


def test_the_data_types_are_the_eleven_sdk_v1_requires_and_only_any_directory_is_a_folder() -> None:
    # azureml-pipeline-core 1.60.0, _AevaDataTypeProvider.ensure_default_datatypes: it creates any it misses
    required = {"AnyFile", "AzureBlobReference", "AzureDataLakeReference", "AzureFilesReference",
                "AzureSqlDatabaseReference", "AzurePostgresDatabaseReference", "AzureDataLakeGen2Reference",
                "AzureMLDataset", "AzureMySqlDatabaseReference", "DBFSReference", "AnyDirectory"}
    assert {t.id for t in DATA_TYPES} == required and len(DATA_TYPES) == len(required)
    assert [t.id for t in DATA_TYPES if t.is_directory] == ["AnyDirectory"]
    wire = DATA_TYPES[0].model_dump()
    assert wire == {"Id": "AnyFile", "Name": "AnyFile", "Description": "AnyFile", "IsDirectory": False,
                    "ParentDataTypeIds": [], "EntityStatus": "Active"}


@pytest.mark.parametrize(("url", "expected"), [
    ("https://acct.blob.core.windows.net/", ("acct", "core.windows.net", "https")),
    ("https://acct.blob.core.usgovcloudapi.net", ("acct", "core.usgovcloudapi.net", "https")),
    ("http://127.0.0.1:10000/devstoreaccount1", ("devstoreaccount1", "127.0.0.1:10000", "http")),
])
def test_a_blob_account_url_is_named_as_azure_ml_names_a_datastores_account(
    url: str, expected: tuple[str, str, str]
) -> None:
    assert blob_endpoint(url) == expected
