"""Step folders removed behind the worker (pipelines/worker/remover.py): on real folders."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from pipelines.worker.remover import Remover


def a_tree(root: Path, files: int = 3) -> Path:
    (root / "code" / "lib").mkdir(parents=True)
    for n in range(files):
        (root / "code" / "lib" / f"{n}.py").write_text("x = 1\n")
    (root / "context.json").write_text("{}")
    return root


def test_the_folders_handed_over_are_removed_whole(tmp_path: Path) -> None:
    remover = Remover()
    first, second = a_tree(tmp_path / "a"), a_tree(tmp_path / "b", files=50)
    # WHEN two step folders are handed over
    remover.remove(first, second)
    # THEN both go, with everything under them, and nothing else does
    assert remover.wait(5)
    assert not first.exists() and not second.exists()
    assert tmp_path.exists()


def test_the_caller_goes_on_while_a_folder_is_being_removed(tmp_path: Path) -> None:
    # GIVEN a remover whose removals wait for a signal (each one then removes for real)
    go = threading.Event()
    removed: list[Path] = []

    def remove_tree(path: Path, **options: Any) -> None:
        go.wait(5)
        shutil.rmtree(path, **options)
        removed.append(path)

    remover = Remover(remove_tree)
    folders = [a_tree(tmp_path / name) for name in ("first", "second", "third")]
    # WHEN folders are handed over while the first removal is held
    remover.remove(folders[0])
    remover.remove(*folders[1:])
    # THEN the caller was not kept waiting, and nothing is reported done
    assert not remover.wait(0.05)
    assert all(folder.exists() for folder in folders)
    # AND once the removal goes on, they go in the order they were handed over
    go.set()
    assert remover.wait(5)
    assert removed == folders and not any(folder.exists() for folder in folders)


def test_a_folder_gone_already_is_not_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    remover = Remover()
    with caplog.at_level(logging.WARNING, logger="pipelines.worker"):
        remover.remove(tmp_path / "never-made")
        assert remover.wait(5)
    assert caplog.records == []


def test_what_cannot_be_removed_is_logged_and_the_rest_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a link where a folder should be (rmtree refuses to follow one), then a real folder
    target = a_tree(tmp_path / "target")
    link = tmp_path / "link"
    os.symlink(target, link)
    folder = a_tree(tmp_path / "folder")
    remover = Remover()
    with caplog.at_level(logging.WARNING, logger="pipelines.worker"):
        remover.remove(link, folder)
        assert remover.wait(5)
    # THEN the refusal is on the worker's log with the path, what the link points at stays,
    # and the next folder was still removed
    assert [r.getMessage() for r in caplog.records] == [f"could not remove {link} from a step's folder"]
    assert (target / "context.json").exists()
    assert not folder.exists()


def test_a_removal_that_raises_is_logged_and_the_next_folders_still_go(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a removal that raises for one folder (not through rmtree's error handler)
    broken = tmp_path / "broken"

    def remove_tree(path: Path, **options: Any) -> None:
        if path == broken:
            raise OSError("the disk went away")
        shutil.rmtree(path, **options)

    remover = Remover(remove_tree)
    later = a_tree(tmp_path / "later")
    with caplog.at_level(logging.WARNING, logger="pipelines.worker"):
        remover.remove(a_tree(broken), later)
        assert remover.wait(5)
    # THEN the failure is on the worker's log, and the thread went on with the next folder
    assert [r.getMessage() for r in caplog.records] == [f"could not remove the step folder {broken}"]
    assert not later.exists()


def test_without_a_thread_the_folders_are_removed_in_line_and_the_next_call_tries_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a process that cannot start a thread, once
    start = threading.Thread.start
    refusals = [RuntimeError("can't start new thread")]

    def refuse_once(thread: threading.Thread) -> None:
        if refusals:
            raise refusals.pop()
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", refuse_once)
    remover = Remover()
    first, second = a_tree(tmp_path / "first"), a_tree(tmp_path / "second")
    # WHEN a folder is handed over then, and another later
    with caplog.at_level(logging.WARNING, logger="pipelines.worker"):
        remover.remove(first)
    # THEN the first went at once, in line, and that was logged
    assert not first.exists()
    assert [r.getMessage() for r in caplog.records] == [
        "no thread to remove step folders behind the worker; removing them in line"]
    # AND the next one gets the thread
    remover.remove(second)
    assert remover.wait(5) and not second.exists()
