"""Code snapshots: deterministic zips out, hostile zips refused."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import warnings
import zipfile
from pathlib import Path

import pytest

from pipelines.authoring import build_snapshot, extract_snapshot, validate_snapshot
from pipelines.authoring.snapshot import snapshot_files
from pipelines.errors import BadRequestError, PayloadTooLargeError

LIMIT = 10 * 1024 * 1024


def write(root: Path, relative: str, content: str | bytes = "x = 1\n") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write(root, "main.py", "print('main')\n")
    write(root, "lib/util.py", "def f():\n    return 1\n")
    write(root, "data/table.csv", "a,b\n1,2\n")
    return root


def zip_of(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on the duplicates we build on purpose
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return buffer.getvalue()


def check(data: bytes, **kwargs: int) -> list[str]:
    return validate_snapshot(data, hashlib.sha256(data).hexdigest(), LIMIT, **kwargs)


# -- building ------------------------------------------------------------------------


def test_same_files_same_bytes(project: Path, tmp_path: Path) -> None:
    # GIVEN the same folder zipped twice, and a copy elsewhere
    first, digest = build_snapshot(project)
    second, again = build_snapshot(project)
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(project, copy)
    # THEN the bytes and the hash agree
    assert first == second and digest == again == hashlib.sha256(first).hexdigest()
    assert build_snapshot(copy) == (first, digest)


def test_mtime_and_permissions_do_not_change_the_hash(project: Path) -> None:
    _, before = build_snapshot(project)
    os.utime(project / "main.py", (1_000_000_000, 1_000_000_000))
    (project / "lib" / "util.py").chmod(0o755)
    _, after = build_snapshot(project)
    assert before == after


def test_content_changes_the_hash(project: Path) -> None:
    _, before = build_snapshot(project)
    write(project, "main.py", "print('main!')\n")
    _, after = build_snapshot(project)
    assert before != after
    write(project, "main.py", "print('main')\n")
    assert build_snapshot(project)[1] == before
    write(project, "new.py", "")
    assert build_snapshot(project)[1] != before


def test_zip_entries_are_normalised(project: Path) -> None:
    data, _ = build_snapshot(project)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == ["data/table.csv", "lib/util.py", "main.py"]
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert not info.is_dir()


def test_caches_and_environments_are_excluded(project: Path) -> None:
    for relative in (
        "__pycache__/main.cpython-311.pyc",
        "lib/__pycache__/x.pyc",
        "stray.pyc",
        ".git/HEAD",
        ".venv/bin/python",
        "node_modules/a/index.js",
        ".ipynb_checkpoints/n.ipynb",
        "lib/.ipynb_checkpoints/n.ipynb",
    ):
        write(project, relative)
    assert snapshot_files(project) == ["data/table.csv", "lib/util.py", "main.py"]


def test_amlignore(project: Path) -> None:
    write(project, "notes.md")
    write(project, "lib/notes.md")
    write(project, "keep.md")
    write(project, "out/result.bin")
    write(project, "lib/out/kept.py")
    write(project, "secrets.env")
    write(project, ".amlignore", "# comments and blanks are skipped\n\n*.md\n!keep.md\n/out/\n*.env\n")
    assert snapshot_files(project) == [
        ".amlignore",
        "data/table.csv",
        "keep.md",
        "lib/out/kept.py",
        "lib/util.py",
        "main.py",
    ]


def test_gitignore_is_used_without_amlignore(project: Path) -> None:
    write(project, ".gitignore", "data/\n")
    assert snapshot_files(project) == [".gitignore", "lib/util.py", "main.py"]
    # .amlignore wins when both exist, as in the old SDK
    write(project, ".amlignore", "lib/util.py\n")
    assert snapshot_files(project) == [".amlignore", ".gitignore", "data/table.csv", "main.py"]


def test_symlinks_are_refused(project: Path, tmp_path: Path) -> None:
    outside = write(tmp_path, "secret.txt", "top secret")
    (project / "leak.txt").symlink_to(outside)
    with pytest.raises(BadRequestError, match="symbolic link") as excinfo:
        build_snapshot(project)
    assert excinfo.value.target == "leak.txt"


def test_symlinks_inside_are_refused_too(project: Path) -> None:
    (project / "alias.py").symlink_to(project / "main.py")
    (project / "lib_link").symlink_to(project / "lib")
    with pytest.raises(BadRequestError, match="symbolic link"):
        build_snapshot(project)


def test_ignored_symlinks_are_skipped(project: Path, tmp_path: Path) -> None:
    (project / "leak.txt").symlink_to(write(tmp_path, "secret.txt"))
    write(project, ".amlignore", "leak.txt\n")
    assert "leak.txt" not in snapshot_files(project)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match="is not a folder"):
        build_snapshot(tmp_path / "nope")


def test_own_snapshots_pass_validation(project: Path) -> None:
    data, digest = build_snapshot(project)
    assert validate_snapshot(data, digest, LIMIT) == ["data/table.csv", "lib/util.py", "main.py"]


# -- refusing hostile zips ------------------------------------------------------------


def symlink_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("entries", "entry", "fragment"),
    [
        ([("../evil.py", b"x")], "../evil.py", "'..' segment"),
        ([("a/../../evil.py", b"x")], "a/../../evil.py", "'..' segment"),
        ([("/abs.py", b"x")], "/abs.py", "is absolute"),
        ([("C:\\x.py", b"x")], "C:\\x.py", "backslash"),
        ([("C:/x.py", b"x")], "C:/x.py", "drive letter"),
        ([("a\\..\\b.py", b"x")], "a\\..\\b.py", "backslash"),
        ([("%2e%2e/evil.py", b"x")], "%2e%2e/evil.py", "'..' segment"),
        ([("./a.py", b"x")], "./a.py", "not a canonical relative path"),
        ([(symlink_entry("link"), b"/etc/passwd")], "link", "symbolic link"),
        ([("a.py", b"1"), ("a.py", b"2")], "a.py", "appears twice"),
        ([("a", b"1"), ("a/b.py", b"2")], "a", "both a file and a folder"),
        ([("bomb.bin", bytes(5 * 1024 * 1024))], "bomb.bin", "expands more than"),
    ],
)
def test_hostile_entries(
    entries: list[tuple[str | zipfile.ZipInfo, bytes]], entry: str, fragment: str
) -> None:
    data = zip_of(entries)
    with pytest.raises(BadRequestError) as excinfo:
        check(data)
    assert excinfo.value.target == entry
    assert fragment in excinfo.value.message


@pytest.mark.parametrize("raw", [b"\x00", b"\x1b", b"\n", b"\x7f"])
def test_a_control_character_in_a_raw_entry_name_is_refused(raw: bytes) -> None:
    # GIVEN a zip whose central directory names an entry "run.py<NUL>.sh" (zipfile reads it as
    # "run.py"; other unzip tools may read the whole name), built by patching the name's bytes
    data = zip_of([("run.pyX.sh", b"print('hi')")]).replace(b"run.pyX.sh", b"run.py" + raw + b".sh")
    assert data.count(b"run.py" + raw + b".sh") == 2  # local header and central directory
    # WHEN it is checked THEN it is refused, naming the rule
    with pytest.raises(BadRequestError) as excinfo:
        check(data)
    assert "control character" in excinfo.value.message


def test_total_expansion_is_bounded() -> None:
    # Each entry compresses modestly, but together they expand past the limit.
    data = zip_of([(f"f{i}.bin", os.urandom(64 * 1024)) for i in range(10)])
    with pytest.raises(PayloadTooLargeError, match="expands to more than"):
        check(data, max_uncompressed_bytes=300 * 1024)


def test_size_over_limit() -> None:
    data = zip_of([("a.py", os.urandom(4096))])
    with pytest.raises(PayloadTooLargeError):
        validate_snapshot(data, hashlib.sha256(data).hexdigest(), 1024)


def test_hash_mismatch(project: Path) -> None:
    data, digest = build_snapshot(project)
    with pytest.raises(BadRequestError, match="sha256"):
        validate_snapshot(data, "0" * 64, LIMIT)
    with pytest.raises(BadRequestError, match="not a sha256"):
        validate_snapshot(data, "not-a-hash", LIMIT)
    assert validate_snapshot(data, digest.upper(), LIMIT)  # hex case is not meaningful


def test_garbage_bytes() -> None:
    garbage = b"this is not a zip file at all" * 10
    with pytest.raises(BadRequestError, match="not a zip"):
        check(garbage)


def test_corrupt_entry_is_caught() -> None:
    data = bytearray(zip_of([("a.txt", b"hello world " * 100)]))
    # Flip a byte of the compressed data (after the 30-byte local header and the name).
    data[30 + len("a.txt") + 5] ^= 0xFF
    with pytest.raises(BadRequestError, match="corrupt|shorter|larger"):
        check(bytes(data))


# -- extraction ---------------------------------------------------------------------


def test_extract(project: Path, tmp_path: Path) -> None:
    data, digest = build_snapshot(project)
    dest = tmp_path / "out"
    names = extract_snapshot(data, dest, expected_sha256=digest)
    assert names == ["data/table.csv", "lib/util.py", "main.py"]
    assert (dest / "lib" / "util.py").read_text() == (project / "lib" / "util.py").read_text()
    assert stat.S_IMODE((dest / "main.py").stat().st_mode) == 0o644


def test_extract_revalidates(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with pytest.raises(BadRequestError, match="'..' segment"):
        extract_snapshot(zip_of([("ok.py", b"x"), ("../evil.py", b"x")]), dest)
    assert not (tmp_path / "evil.py").exists()
    assert not dest.exists() or not any(dest.iterdir())


def test_extract_checks_the_hash_when_given(project: Path, tmp_path: Path) -> None:
    data, _ = build_snapshot(project)
    with pytest.raises(BadRequestError, match="sha256"):
        extract_snapshot(data, tmp_path / "out", expected_sha256="1" * 64)


def test_extract_needs_an_empty_folder(project: Path, tmp_path: Path) -> None:
    data, _ = build_snapshot(project)
    dest = tmp_path / "out"
    write(dest, "main.py", "planted")
    with pytest.raises(BadRequestError, match="not empty"):
        extract_snapshot(data, dest)
    assert (dest / "main.py").read_text() == "planted"
