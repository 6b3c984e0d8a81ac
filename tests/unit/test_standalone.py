"""The repository stands alone: nothing in it reads or points at the folder beside
the checkout that held the product brief, which a clean clone does not have.

Every file git tracks, and every untracked file git does not ignore, is read as
text; a line naming that folder fails the test with its file and line number.
The request vectors the tests post live in `tests/data/vectors/`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.service import VECTORS

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()
# Built, not written, so that this file does not match itself.
NEEDLE = "..".__add__("/shared")

# Every vector a test reads: tests/integration/test_vectors.py (CASES, EXPECTED) and
# tests/integration/test_data_http.py (the two data swaps).
VECTOR_FILES = {
    "README.md",
    "csharp-sample.json",
    "datapath-swap.json",
    "dataset-swap.json",
    "devops-task.json",
    "empty.json",
    "endpoint-guide.json",
    "expected-run-entity.json",
    "java-sample.txt",
    "python-guide.json",
    "sdk-v1.json",
}


def repository_files() -> list[str]:
    """Tracked files, and untracked files that .gitignore does not exclude."""
    tracked = ["git", "ls-files", "-z"]
    untracked = ["git", "ls-files", "-z", "--others", "--exclude-standard"]
    names: set[str] = set()
    for command in (tracked, untracked):
        result = subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
        names.update(name for name in result.stdout.decode("utf-8").split("\0") if name)
    return sorted(names)


def read_text(path: Path) -> str | None:
    """The file's text; None for a binary file or one that is gone (deleted, not yet staged)."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def test_no_file_points_outside_the_repository() -> None:
    # GIVEN every file of the working tree that git would commit
    files = repository_files()
    assert files, "git ls-files listed nothing: is this a git checkout?"

    # WHEN each text file is searched for the brief folder's path
    found = []
    for name in files:
        if name == THIS:
            continue
        text = read_text(ROOT / name)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if NEEDLE in line:
                found.append(f"{name}:{number}: {line.strip()}")

    # THEN none names it
    assert not found, f"{len(found)} line(s) point at {NEEDLE}:\n" + "\n".join(found)


def test_the_request_vectors_are_in_the_repository() -> None:
    # GIVEN the folder the tests read the vectors from
    assert VECTORS == ROOT / "tests" / "data" / "vectors"
    assert VECTORS.is_dir()

    # WHEN it is listed
    present = {path.name for path in VECTORS.iterdir() if path.is_file()}

    # THEN every vector the tests use is there
    missing = VECTOR_FILES - present
    assert not missing, f"missing from {VECTORS.relative_to(ROOT)}: {sorted(missing)}"
    assert len([name for name in present if name.endswith((".json", ".txt"))]) >= 10


def test_every_json_vector_parses() -> None:
    # GIVEN the .json vectors (the .txt ones are raw bodies, kept byte for byte, not parsed here)
    vectors = sorted(VECTORS.glob("*.json"))
    assert vectors

    # WHEN each is parsed, THEN it is a JSON object
    for path in vectors:
        value = json.loads(path.read_bytes())
        assert isinstance(value, dict), f"{path.name} is not a JSON object"

