"""Datastores and datasets without HTTP: path rules, globs, the runtime's readers, the registry on Azurite."""

from __future__ import annotations

import concurrent.futures
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.data import DataPathRef, Datasets, Datastores
from pipelines.data.references import DataError, References
from pipelines.data.staging import DataStager
from pipelines.errors import ConflictError
from pipelines.runtime import StagedInput, TabularDataset


def test_another_account_is_reached_with_the_managed_identity(account) -> None:
    # GIVEN a datastore on another account
    stores = Datastores(account)
    store = stores.register(
        "ws1", "lake", container="raw-data", account_url="https://lakeacct.blob.core.windows.net"
    )
    # WHEN its location is built (no call to Azure is made)
    location = stores.location(stores.get("ws1", "lake"))
    # THEN the client points at that account and container with DefaultAzureCredential, and no key is kept
    from azure.identity import DefaultAzureCredential

    assert store.kind == "account"
    assert location.container.client.url == "https://lakeacct.blob.core.windows.net/raw-data"
    assert isinstance(location.container.client.credential, DefaultAzureCredential)
    assert location.prefix == ""


# -- the runtime's readers -------------------------------------------------------------------------


# -- the registry on Azurite -----------------------------------------------------------------------
def upload(account, workspace: str, path: str, text: str) -> None:
    account.container("workspaceblobstore").write(f"{workspace}/{path}", text.encode(), overwrite=True)


def test_concurrent_registrations_of_one_name_get_distinct_versions(account) -> None:
    # GIVEN a file and eight registrations of one name racing
    upload(account, "ws1", "d/x.csv", "a\n1\n")
    registry = Datasets(account)

    def register(_: int) -> int:
        return registry.register(
            "ws1", name="race", dataset_type="tabular", paths=[DataPathRef("workspaceblobstore", "d/x.csv")]
        ).version

    # WHEN they run at once
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(register, range(8)))
    # THEN each got its own version, and the latest is the highest
    assert sorted(versions) == list(range(1, 9))
    assert registry.get_by_name("ws1", "race").version == 8
    assert registry.get_by_name("ws1", "race", 3).version == 3
    listed, _ = registry.list("ws1", name="race", page_size=100, continuation=None)
    assert [d.version for d in listed] == list(range(8, 0, -1))


def test_the_latest_as_a_run_saw_it_never_changes(account) -> None:
    # GIVEN version 1, then a moment (a run's creation), then version 2
    upload(account, "ws1", "d/x.csv", "a\n1\n")
    registry = Datasets(account)
    first = registry.register(
        "ws1", name="full", dataset_type="tabular", paths=[DataPathRef("workspaceblobstore", "d/x.csv")]
    )
    moment = datetime.now(UTC)
    registry.register("ws1", name="full", dataset_type="tabular", paths=[DataPathRef("workspaceblobstore", "d/x.csv")])
    # WHEN the worker resolves the default "latest full" for a run created at that moment
    resolved = References(account, "ws1").recorded({"id": None, "name": "full", "version": None}, as_of=moment)
    # THEN it is version 1, whatever was registered after
    assert (resolved["id"], resolved["version"]) == (first.id, 1)
    assert registry.get_by_name("ws1", "full").version == 2


def test_create_new_version_false_refuses_a_taken_name(account) -> None:
    # GIVEN a registered name / WHEN registered again without asking for a new version / THEN 409
    upload(account, "ws1", "d/x.csv", "a\n1\n")
    registry = Datasets(account)
    registry.register(
        "ws1", name="once", dataset_type="file", paths=[DataPathRef("workspaceblobstore", "d")],
        create_new_version=False,
    )
    with pytest.raises(ConflictError):
        registry.register(
            "ws1",
            name="once",
            dataset_type="file",
            paths=[DataPathRef("workspaceblobstore", "d")],
            create_new_version=False,
        )


def test_staging_downloads_a_dataset_and_writes_what_the_runtime_reads(account, tmp_path: Path) -> None:
    # GIVEN a dataset over a glob on workspaceblobstore (the workspace's folder of the container)
    for name in ("in/2026/01.csv", "in/2026/02.csv", "in/2025/01.csv", "in/notes.txt"):
        upload(account, "ws1", name, "v\n" + name + "\n")
    upload(account, "ws2", "in/2026/99.csv", "v\nother workspace\n")
    dataset = Datasets(account).register(
        "ws1", name="logs", dataset_type="tabular", paths=[DataPathRef("workspaceblobstore", "in/*/0?.csv")]
    )
    # WHEN the worker stages it
    staged = DataStager(account, "ws1").stage(dataset.resolution(), tmp_path / "logs")
    # THEN the matching files of this workspace are on disk, in name order, ready for the runtime
    assert staged.files == ["2025/01.csv", "2026/01.csv", "2026/02.csv"]
    as_written = json.loads(json.dumps(asdict(staged)))  # as written, read back
    table = TabularDataset("logs", StagedInput.from_json(as_written))
    assert [row[0] for row in table.to_csv_rows()] == ["in/2025/01.csv", "in/2026/01.csv", "in/2026/02.csv"]
    # a datapath to one file hands over the file itself; nothing there is an error
    single = DataStager(account, "ws1").stage(
        {"kind": "datapath", "datastore": "workspaceblobstore", "path": "in/notes.txt"}, tmp_path / "one"
    )
    assert Path(single.path).read_text() == "v\nin/notes.txt\n"
    with pytest.raises(DataError, match="nothing found"):
        DataStager(account, "ws1").stage(
            {"kind": "datapath", "datastore": "workspaceblobstore", "path": "in/none.csv"}, tmp_path / "none"
        )
