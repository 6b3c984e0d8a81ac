"""Small outputs kept on the step's row (`InlineOutputs`): written by the commit that records the
step Finished instead of uploaded, read back by the outputs routes, a successor on another
worker and a later run that reuses the step. Against the local host on Azurite, with step
scripts in real child processes."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pipelines.authoring import Pipeline, PipelineData, PythonScriptStep
from pipelines.authoring.definition import PipelineDefinition, StepSpec
from pipelines.client import PipelineRun, Workspace, publish
from pipelines.runs.logs import StepLogs, output_prefix
from pipelines.runs.model import Run, TaskStatus, run_partition, step_row
from pipelines.store import StorageAccount, get_account
from pipelines.worker.executor import Executor, StepJob
from pipelines.worker.transfer import INLINE_MAX_BYTES, read_small, upload_folder
from tests import pipelines_for_tests as make
from tests.service import Service

SNAPSHOT = "0" * 64
SMALL = {"a.txt": b"hello", "sub/b.json": b'{"n": 1}'}


def two_steps(folder: Path) -> Pipeline:
    """`small` writes SMALL; `large` copies what it read and pads it over the inline limit."""
    make.write(folder, "small.py", """
        p = argparse.ArgumentParser(); p.add_argument("--out"); a = p.parse_args()
        pathlib.Path(a.out, "sub").mkdir()
        pathlib.Path(a.out, "a.txt").write_bytes(b"hello")
        pathlib.Path(a.out, "sub", "b.json").write_bytes(b'{"n": 1}')
    """)
    make.write(folder, "large.py", f"""
        p = argparse.ArgumentParser(); p.add_argument("--inp"); p.add_argument("--out"); a = p.parse_args()
        read = pathlib.Path(a.inp, "a.txt").read_bytes() + pathlib.Path(a.inp, "sub", "b.json").read_bytes()
        pathlib.Path(a.out, "big.bin").write_bytes(read + b"." * {INLINE_MAX_BYTES})
    """)
    small, large = PipelineData("small"), PipelineData("large")
    return Pipeline(steps=[
        PythonScriptStep("small.py", name="small", arguments=["--out", small], outputs=[small],
                         source_directory=folder),
        PythonScriptStep("large.py", name="large", arguments=["--inp", small, "--out", large], inputs=[small],
                         outputs=[large], source_directory=folder),
    ])


def blobs_under(account: StorageAccount, prefix: str) -> list[str]:
    return [blob.name[len(prefix):] for blob in account.container("runs").listing(prefix)]


def test_small_outputs_go_on_the_step_row_and_read_back_as_uploaded_ones_do(
    service: Service, workspace: Workspace, tmp_path: Path
) -> None:
    # GIVEN a step whose outputs are small, and a successor whose output is over the limit
    published = publish(workspace, two_steps(tmp_path / "code"), "Inline", None, "1.0")
    # WHEN a run finishes
    run = published.submit("inline", {})
    assert run.wait_for_completion(show_output=False) == "Finished"
    account = get_account()
    nodes = {s["Name"]: node for node, s in service.steps(run.id).items()}
    # THEN the small output is on its step's row, and nothing of it is in Blob storage
    row = account.table("Runs").get_entity(run_partition("ws1", run.id), step_row(nodes["small"]))
    assert "InlineOutputs" in row and "InlineOutputs" not in account.table("Runs").get_entity(
        run_partition("ws1", run.id), step_row(nodes["large"]))
    assert blobs_under(account, output_prefix("ws1", run.id, nodes["small"], "small")) == []
    # AND the large one was uploaded, made from what its step read of the small one
    large = account.container("runs").read(output_prefix("ws1", run.id, nodes["large"], "large") + "big.bin")
    assert large == b'hello{"n": 1}' + b"." * INLINE_MAX_BYTES
    # AND the outputs routes list and serve the inline files as they serve uploaded ones
    base = f"/PipelineRuns/{run.id}/Steps/{nodes['small']}/Outputs/small"
    listing = service.get(base).json()
    assert [(f["Path"], f["Size"]) for f in listing["Files"]] == [("a.txt", 5), ("sub/b.json", 8)]
    assert listing["FileCount"] == 2 and listing["TotalSizeInBytes"] == 13
    whole = service.get(base + "/files/sub/b.json")
    assert (whole.status_code, whole.content) == (200, b'{"n": 1}') and whole.headers["ETag"]
    part = service.get(base + "/files/a.txt", headers={"Range": "bytes=1-3"})
    assert (part.status_code, part.content, part.headers["Content-Range"]) == (206, b"ell", "bytes 1-3/5")
    assert service.get(base + "/files/nope.txt").status_code == 404
    paged = service.get(base, params={"top": "1"}).json()
    assert [f["Path"] for f in paged["Files"]] == ["a.txt"] and paged["ContinuationToken"]
    rest = service.get(base, params={"top": "1", "continuationToken": paged["ContinuationToken"]}).json()
    assert [f["Path"] for f in rest["Files"]] == ["sub/b.json"] and rest["ContinuationToken"] is None
    # AND the client downloads them as SDK v1 did
    [small_run] = [s for s in PipelineRun.get(workspace, run.id).get_children() if s.name == "small"]
    folder = Path(small_run.get_output_data("small").download(tmp_path / "down", show_progress=False))
    assert {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == SMALL


def test_a_later_run_that_reuses_the_step_takes_its_inline_outputs(
    service: Service, workspace: Workspace, tmp_path: Path
) -> None:
    # GIVEN a run whose small step finished with its outputs on its row
    published = publish(workspace, two_steps(tmp_path / "code"), "Inline", None, "1.0")
    first = published.submit("inline", {})
    assert first.wait_for_completion(show_output=False) == "Finished"
    # WHEN a second run of the same pipeline reuses both steps
    second = published.submit("inline", {})
    assert second.wait_for_completion(show_output=False) == "Finished"
    steps = service.steps(second.id)
    nodes = {s["Name"]: node for node, s in steps.items()}
    row = get_account().table("Runs").get_entity(run_partition("ws1", second.id), step_row(nodes["small"]))
    assert row.get("ReusedFrom"), "the step ran again instead of being reused"
    # THEN its outputs read back from the reusing run as from the first
    base = f"/PipelineRuns/{second.id}/Steps/{nodes['small']}/Outputs/small"
    assert [f["Path"] for f in service.get(base).json()["Files"]] == ["a.txt", "sub/b.json"]
    assert service.get(base + "/files/a.txt").content == b"hello"


def test_a_successor_on_another_worker_stages_an_inline_input_from_the_row(account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # GIVEN a step whose input is an upstream step's inline output, on a worker that kept nothing
    account.ensure()
    executor = Executor(account)
    executor.account.settings.work_dir = str(tmp_path / "work")  # the settings are this test's (storage_env)
    spec = StepSpec.model_validate({
        "id": "b", "name": "b", "script_name": "main.py", "snapshot": SNAPSHOT,
        "inputs": [{"name": "inp", "kind": "step_output", "source_step": "a", "source_output": "o"}],
        "arguments": [{"kind": "input", "name": "inp"}],
    })
    definition = PipelineDefinition.model_validate({"steps": [spec.model_dump()], "snapshot": SNAPSHOT})
    run = Run(id=uuid.uuid4().hex, workspace="ws", pipeline_id="p", graph_id="g", created=datetime.now(UTC))
    inline = {"a": {"o": {"x.txt": b"from the row", "d/y.txt": b"nested", "../escape.txt": b"never"}}}
    job = StepJob(run, definition, spec, 1, uuid.uuid4().hex, inline)
    code = tmp_path / "snapshot"
    code.mkdir()
    (code / "main.py").write_text(
        "import pathlib, sys\n"
        "root = pathlib.Path(sys.argv[1])\n"
        "print(sorted(p.relative_to(root).as_posix() for p in root.rglob('*') if p.is_file()))\n"
        "print((root / 'x.txt').read_text(), (root / 'd' / 'y.txt').read_text())\n"
    )
    executor.snapshots.path = lambda workspace, snapshot: code  # type: ignore[method-assign]
    # WHEN it runs
    outcome = executor.execute(job, lambda: None)
    executor.close()
    # THEN the script read the files from the row, and no name left its input folder
    assert outcome is not None and outcome.status is TaskStatus.FINISHED, outcome
    logs = StepLogs(account).read("ws", run.id, "b", 1, "STDOUT")
    assert logs == "['d/y.txt', 'x.txt']\nfrom the row nested\n"
    # (os.walk passes over a folder the worker's remover takes away meanwhile; rglob would raise)
    assert not any("escape.txt" in files for _, _, files in os.walk(tmp_path / "work"))


def test_the_summary_of_inline_outputs_is_the_one_their_upload_would_give(account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # GIVEN an output folder with files in subfolders
    account.ensure()
    folder = tmp_path / "out"
    (folder / "d" / "e").mkdir(parents=True)
    (folder / "z.txt").write_bytes(b"z" * 100)
    (folder / "d" / "e" / "f.bin").write_bytes(bytes(range(256)))
    (folder / "d" / "a b.txt").write_text("space")
    # WHEN it is read for the row, and uploaded
    small = read_small({"out": folder})
    uploaded = upload_folder(account.container("runs"), f"ws/{uuid.uuid4().hex}/n/outputs/out/", folder, first=True)
    # THEN both summaries are equal (a reuse key built from either is the same), and the bytes are the files'
    assert small is not None
    summaries, inline = small
    assert summaries["out"] == uploaded.summary
    assert sorted(inline["out"]) == sorted(uploaded.files)
    assert hashlib.sha256(inline["out"]["d/e/f.bin"]).digest() == hashlib.sha256(bytes(range(256))).digest()
