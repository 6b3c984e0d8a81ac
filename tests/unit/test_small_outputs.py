"""Which outputs are small enough for the step's row (`read_small`), how the row keeps them
(`Step.inline_outputs`), and what a successor writes from it (`write_files`)."""

from __future__ import annotations

from pathlib import Path

from pipelines.runs.model import Step, parse_inline
from pipelines.worker.transfer import INLINE_MAX_BYTES, INLINE_MAX_FILES, read_small, write_files
from tests.unit.test_engine import Row


def outputs(tmp_path: Path, files: dict[str, bytes]) -> dict[str, Path]:
    """One output folder, `out`, holding `files`."""
    folder = tmp_path / "out"
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return {"out": folder}


def test_outputs_up_to_the_limit_are_read_whole_with_their_summaries(tmp_path: Path) -> None:
    small = read_small(outputs(tmp_path, {"a": b"x" * (INLINE_MAX_BYTES - 1), "d/b": b"y"}))
    assert small is not None
    summaries, inline = small
    assert inline == {"out": {"a": b"x" * (INLINE_MAX_BYTES - 1), "d/b": b"y"}}
    assert (summaries["out"].files, summaries["out"].bytes) == (2, INLINE_MAX_BYTES)


def test_outputs_over_the_byte_limit_are_uploaded(tmp_path: Path) -> None:
    assert read_small(outputs(tmp_path, {"a": b"x" * INLINE_MAX_BYTES, "b": b"y"})) is None


def test_outputs_of_too_many_files_are_uploaded(tmp_path: Path) -> None:
    many = {f"f{i}": b"" for i in range(INLINE_MAX_FILES + 1)}
    assert read_small(outputs(tmp_path, many)) is None
    assert read_small(outputs(tmp_path / "fewer", dict(list(many.items())[:INLINE_MAX_FILES]))) is not None


def test_outputs_whose_paths_make_the_row_too_long_are_uploaded(tmp_path: Path) -> None:
    deep = "/".join(["d" * 200] * 12)
    assert read_small(outputs(tmp_path, {f"{deep}/{i}": b"" for i in range(12)})) is None


def test_empty_outputs_are_kept_as_empty(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    small = read_small({"empty": folder})
    assert small is not None and small[1] == {"empty": {}} and small[0]["empty"].files == 0


def test_the_row_keeps_the_bytes_exactly() -> None:
    step = Step(node_id="n", name="n", inline_outputs={"o": {"a.bin": bytes(range(256)), "b": b""}, "p": {}})
    assert Step.from_entity(Row(step.to_entity("ws|r"))).inline_outputs == step.inline_outputs
    assert Step(node_id="n", name="n").to_entity("ws|r")["InlineOutputs"] is None


def test_an_unreadable_row_property_reads_as_no_inline_outputs() -> None:
    for text in ("not json", '{"o": {"a": "not base64!"}}', '["a"]', '{"o": 3}'):
        assert parse_inline(text) == {}, text


def test_names_that_would_leave_the_folder_are_not_written(tmp_path: Path) -> None:
    target = tmp_path / "inp"
    target.mkdir()
    count = write_files({"ok.txt": b"1", "d/e.txt": b"2", "../out.txt": b"3", "d/": b"4", "/abs.txt": b"5"}, target)
    assert count == 2
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "inp/d/e.txt", "inp/ok.txt"]
