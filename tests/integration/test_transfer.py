"""Outputs up and down between a step's folder and Blob storage (pipelines/worker/transfer.py),
against the tests' Azurite."""

from __future__ import annotations

from pathlib import Path

from pipelines.worker.transfer import download_prefix, upload_folder


def folder_with(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_later_attempt_replaces_what_an_earlier_one_left(account, tmp_path: Path) -> None:
    container = account.container("runs")
    prefix = "ws/run-t/node/outputs/out/"
    # GIVEN a first attempt that uploaded two files (its worker was lost before its result)
    first = upload_folder(container, prefix, folder_with(tmp_path / "a1", {"x.txt": "1", "sub/y.txt": "2"}),
                          first=True)
    assert first.files == ("sub/y.txt", "x.txt") and first.summary.files == 2
    # WHEN the next attempt uploads what it wrote
    second = upload_folder(container, prefix, folder_with(tmp_path / "a2", {"x.txt": "one"}))
    # THEN the output is that attempt's alone
    assert second.files == ("x.txt",) and second.summary.bytes == 3
    target = tmp_path / "down"
    target.mkdir()
    assert download_prefix(container, prefix, target) == 1
    assert (target / "x.txt").read_text() == "one" and not (target / "sub").exists()


def test_several_files_go_up_side_by_side_and_the_digest_names_them_all(account, tmp_path: Path) -> None:
    container = account.container("runs")
    files = {f"part-{i:02}.txt": str(i) * (i + 1) for i in range(12)}
    uploaded = upload_folder(container, "ws/run-t2/node/outputs/out/", folder_with(tmp_path / "many", files),
                             first=True)
    assert uploaded.files == tuple(sorted(files)) and uploaded.summary.bytes == sum(len(v) for v in files.values())
    # the digest covers names, sizes and contents: one byte changed changes it
    again = upload_folder(container, "ws/run-t3/node/outputs/out/",
                          folder_with(tmp_path / "other", {**files, "part-00.txt": "1"}), first=True)
    assert again.summary.sha256 != uploaded.summary.sha256
