"""Datastores and datasets without HTTP: path rules, globs, the runtime's readers, the registry on Azurite."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pipelines.data.datasets import MAX_VERSION, name_row
from pipelines.data.datastores import normalise_account_url
from pipelines.data.patterns import PatternError, check_pattern, compile_pattern, expand, literal_prefix
from pipelines.data.staging import _local_names
from pipelines.data.tabular import TabularOptions, normalise_encoding
from pipelines.errors import BadRequestError
from pipelines.runs.data import safe_relative_path
from pipelines.runtime import FileDataset, Run, StagedInput, StepContext, TabularDataset

ESCAPES = [
    "../secret.csv",
    "a/../../b",
    "/etc/passwd",
    "%2e%2e/secret",
    "a/%2E%2E/%2e%2e/b",
    "%252e%252e/secret",
    "%2fetc/passwd",
    "..\\up.csv",
    "C:/data.csv",
    "https://evil.example/x.csv",
    "file:///etc/passwd",
    "a\nb",
    "",
]


# -- one path rule everywhere ----------------------------------------------------------------------
@pytest.mark.parametrize("path", ESCAPES)
def test_submit_paths_and_dataset_globs_refuse_the_same_escapes(path: str) -> None:
    # GIVEN a path that leaves the datastore (or is no path at all)
    # WHEN the submit check and the dataset check see it
    # THEN both refuse it: one rule (pipelines.authoring.paths) serves both
    with pytest.raises(BadRequestError) as refused:
        safe_relative_path(path, target="DataPathAssignments.x")
    assert refused.value.target == "DataPathAssignments.x"
    with pytest.raises(PatternError):
        check_pattern(path)


def test_paths_come_back_canonical() -> None:
    # GIVEN / WHEN / THEN: harmless '.' and '//' are dropped; malformed globs are refused
    assert safe_relative_path("./incoming//2026/data.csv", target="x") == "incoming/2026/data.csv"
    assert check_pattern("logs/**/part-[0-9].csv") == "logs/**/part-[0-9].csv"
    for bad in ("a/b**/c", "a/[x", "a/]x["):
        with pytest.raises(PatternError):
            check_pattern(bad)


# -- globs -----------------------------------------------------------------------------------------
def test_globs_match_segment_by_segment() -> None:
    # GIVEN blobs in folders
    names = ["a/x.csv", "a/y.txt", "a/b/x.csv", "a/b/c/x.csv", "ab/x.csv", "a/part-1.csv", "a/part-x.csv"]

    def under(prefix: str) -> list[str]:
        return [n for n in names if n.startswith(prefix)]

    # WHEN globs are expanded
    # THEN '*' stays in its folder, '**' crosses folders, '[...]' is a class,
    # and a plain path is a file or a folder
    assert expand("a/*.csv", lambda p: p in names, under) == ["a/part-1.csv", "a/part-x.csv", "a/x.csv"]
    assert expand("a/**/x.csv", lambda p: p in names, under) == ["a/b/c/x.csv", "a/b/x.csv", "a/x.csv"]
    assert expand("a/part-[0-9].csv", lambda p: p in names, under) == ["a/part-1.csv"]
    assert expand("a/b", lambda p: p in names, under) == ["a/b/c/x.csv", "a/b/x.csv"]
    assert expand("a/x.csv", lambda p: p in names, under) == ["a/x.csv"]
    assert expand("missing", lambda p: p in names, under) == []
    assert literal_prefix("a/b/*/c.csv") == "a/b/"
    assert not compile_pattern("a/?.csv").fullmatch("a/bc.csv")


def test_local_names_keep_the_structure_under_the_shared_folder() -> None:
    # GIVEN matched blobs / WHEN they get local names / THEN relative to the folder they share
    assert _local_names([("s", "in/2026/a.csv")]) == ["a.csv"]
    assert _local_names([("s", "in/x/a.csv"), ("s", "in/y/a.csv")]) == ["x/a.csv", "y/a.csv"]
    assert _local_names([("s", "top.csv"), ("s", "in/a.csv")]) == ["top.csv", "in/a.csv"]
    assert _local_names([("s", "a.csv"), ("t", "a.csv")]) == ["s/a.csv", "t/a.csv"]


# -- registry keys and options ---------------------------------------------------------------------
def test_version_rows_sort_newest_first() -> None:
    # GIVEN rows of versions 1, 2, 10 and 11 of one name
    rows = [name_row("train", v) for v in (1, 2, 10, 11)]
    # WHEN sorted as Table storage sorts RowKeys
    # THEN the newest comes first, so "the latest" is a top=1 query
    assert sorted(rows) == [name_row("train", v) for v in (11, 10, 2, 1)]
    assert name_row("train", MAX_VERSION) < name_row("train", 1)


def test_tabular_options_and_encodings() -> None:
    # GIVEN / WHEN / THEN: defaults, the old SDK's encoding names, and refusals
    assert TabularOptions.checked().to_dict() == {"separator": ",", "header": True, "encoding": "utf-8"}
    assert normalise_encoding("iso88591") == "iso8859-1"
    assert normalise_encoding("utf8") == "utf-8"
    for bad in ({"separator": ";;"}, {"separator": "\n"}, {"encoding": "klingon"}, {"encoding": ""}):
        with pytest.raises(BadRequestError):
            TabularOptions.checked(**bad)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://myacct.blob.core.windows.net", "https://myacct.blob.core.windows.net"),
        ("https://MyAcct.blob.core.windows.net/", "https://myacct.blob.core.windows.net"),
        ("https://gov1.blob.core.usgovcloudapi.net", "https://gov1.blob.core.usgovcloudapi.net"),
        ("https://acct2.z12.blob.storage.azure.net", "https://acct2.z12.blob.storage.azure.net"),
    ],
)
def test_account_urls_of_azure_storage_are_accepted(url: str, expected: str) -> None:
    # GIVEN / WHEN / THEN: a storage blob endpoint comes back in one canonical form
    assert normalise_account_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://myacct.blob.core.windows.net",
        "https://evil.example.com",
        "https://myacct.blob.core.windows.net.evil.com",
        "https://myacct.blob.core.windows.net/container",
        "https://u:p@myacct.blob.core.windows.net",
        "https://myacct.blob.core.windows.net:8443",
        "https://myacct.blob.core.windows.net/?sv=1",
    ],
)
def test_account_urls_elsewhere_are_refused(url: str) -> None:
    # GIVEN / WHEN / THEN: the app sends its managed identity's token to this host: only storage may get it
    with pytest.raises(BadRequestError):
        normalise_account_url(url)


# -- the runtime's readers -------------------------------------------------------------------------
def write(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)


def test_a_tabular_dataset_reads_every_file_as_one_table(tmp_path: Path) -> None:
    # GIVEN two staged files with a header each, as the worker leaves them
    write(tmp_path / "in" / "a.csv", "x,y\n1,2\n3,4\n")
    write(tmp_path / "in" / "b" / "c.csv", "x,y\n5,6\n")
    entry = {
        "kind": "dataset",
        "type": "tabular",
        "root": str(tmp_path / "in"),
        "path": str(tmp_path / "in"),
        "files": ["a.csv", "b/c.csv"],
        "dataset": {"id": "i", "name": "n", "version": 2},
        "options": {"separator": ",", "header": True, "encoding": "utf-8"},
    }
    # WHEN the script reads it
    data = Run(StepContext.from_json({"input_datasets": {"scoring": entry}})).input_datasets["scoring"]
    # THEN one table, one header, in the dataset's order; the identity is the registration's
    assert isinstance(data, TabularDataset)
    assert data.columns == ["x", "y"]
    assert data.to_csv_rows() == [["1", "2"], ["3", "4"], ["5", "6"]]
    assert data.to_records()[2] == {"x": "5", "y": "6"}
    assert (data.name, data.version, data.id) == ("n", 2, "i")
    assert data.files() == [str(tmp_path / "in" / "a.csv"), str(tmp_path / "in" / "b" / "c.csv")]


def test_separator_encoding_and_no_header(tmp_path: Path) -> None:
    # GIVEN a latin-1 file separated by ';' without a header
    write(tmp_path / "d" / "x.csv", "é;1\nü;2\n", encoding="latin-1")
    entry = {
        "kind": "dataset",
        "type": "tabular",
        "root": str(tmp_path / "d"),
        "path": str(tmp_path / "d"),
        "files": ["x.csv"],
        "options": {"separator": ";", "header": False, "encoding": "iso8859-1"},
    }
    # WHEN it is read / THEN columns are named Column1, Column2 (the old SDK's names)
    data = TabularDataset("t", StagedInput.from_json(entry))
    assert data.to_records() == [{"Column1": "é", "Column2": "1"}, {"Column1": "ü", "Column2": "2"}]


def test_pandas_is_imported_only_when_asked(tmp_path: Path) -> None:
    # GIVEN a staged table
    write(tmp_path / "d" / "x.csv", "a,b\n1,2\n")
    entry = {"root": str(tmp_path / "d"), "path": str(tmp_path / "d"), "files": ["x.csv"]}
    data = TabularDataset("t", StagedInput.from_json(entry))
    # WHEN the frame is asked for
    # THEN pandas reads it when installed; without pandas the error says what needs nothing
    if importlib.util.find_spec("pandas") is None:
        with pytest.raises(ImportError, match="to_records"):
            data.to_pandas_dataframe()
    else:
        assert list(data.to_pandas_dataframe()["b"]) == [2]


def test_a_file_dataset_lists_downloads_and_mounts(tmp_path: Path) -> None:
    # GIVEN a staged file dataset
    write(tmp_path / "in" / "img" / "1.png", "one")
    write(tmp_path / "in" / "img" / "2.png", "two")
    entry = {
        "kind": "dataset",
        "type": "file",
        "root": str(tmp_path / "in"),
        "path": str(tmp_path / "in"),
        "files": ["img/1.png", "img/2.png"],
    }
    # WHEN the script lists, copies and "mounts" it
    data = Run(StepContext.from_json({"input_datasets": {"images": entry}})).input_datasets["images"]
    # THEN it sees the files, in order, wherever it asks for them
    assert type(data) is FileDataset
    assert data.to_path() == ["img/1.png", "img/2.png"]
    copied = data.download(tmp_path / "copy")
    assert [Path(p).read_text() for p in copied] == ["one", "two"]
    with pytest.raises(FileExistsError):
        data.download(tmp_path / "copy")
    with data.mount() as mounted:
        assert Path(mounted.mount_point, "img", "2.png").read_text() == "two"
    assert Path(data, "img", "1.png").read_text() == "one"  # os.PathLike: the staged folder


def test_the_public_names_exist() -> None:
    # GIVEN / WHEN / THEN: every name in __all__ of the data package, the runtime and the client is real
    import pipelines.client
    import pipelines.data
    import pipelines.runtime

    for module in (pipelines.data, pipelines.runtime, pipelines.client):
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)
    assert {"Dataset", "Datastore"} <= set(pipelines.client.__all__)
