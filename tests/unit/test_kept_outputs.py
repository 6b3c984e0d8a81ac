"""A successor's inputs copied from what its parent's worker kept (pipelines/worker/transfer.py)."""

from __future__ import annotations

from pathlib import Path

from pipelines.worker.transfer import KeptOutputs


def kept(tmp_path: Path) -> KeptOutputs:
    root = tmp_path / "kept"
    (root / "model" / "sub").mkdir(parents=True)
    (root / "model" / "weights.bin").write_bytes(b"\x00\x01")
    (root / "model" / "sub" / "card.txt").write_text("card")
    (root / "model" / "written-after-upload.txt").write_text("never uploaded")
    (root / "model" / "link").symlink_to(root / "model" / "weights.bin")
    return KeptOutputs("run1", "train", root, {"model": ("sub/card.txt", "weights.bin")})


def test_only_the_files_that_were_uploaded_are_copied(tmp_path: Path) -> None:
    target = tmp_path / "inputs" / "model"
    target.mkdir(parents=True)
    assert kept(tmp_path).copy("run1", "train", "model", target)
    copied = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert copied == ["sub/card.txt", "weights.bin"]
    assert (target / "weights.bin").read_bytes() == b"\x00\x01"
    assert not (target / "weights.bin").is_symlink()


def test_another_step_run_or_output_is_not_served_from_what_was_kept(tmp_path: Path) -> None:
    outputs = kept(tmp_path)
    target = tmp_path / "inputs"
    target.mkdir()
    assert not outputs.copy("run2", "train", "model", target)
    assert not outputs.copy("run1", "score", "model", target)
    assert not outputs.copy("run1", "train", "metrics", target)
    assert list(target.iterdir()) == []
