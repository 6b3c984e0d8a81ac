"""An attempt's small logs kept on the step's row (`InlineLogs`): carried by the commit that records
how the attempt ended instead of written to Blob storage, read back by the log route per attempt,
and written to Blob storage after all when no commit of this worker records them. Against the
local host on Azurite, with step scripts in real child processes."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.authoring import Pipeline, PythonScriptStep
from pipelines.authoring.definition import PipelineDefinition, StepSpec
from pipelines.client import Workspace, publish
from pipelines.runs.logs import INLINE_LOG_BYTES, StepLogs, log_blob_name
from pipelines.runs.model import Run, TaskStatus, run_partition, step_row
from pipelines.store import StorageAccount, get_account
from pipelines.worker.executor import Executor, StepJob
from tests import pipelines_for_tests as make
from tests.service import Service

SNAPSHOT = "0" * 64


def talk_and_shout(folder: Path, marker: Path) -> Pipeline:
    """`talk` fails its first attempt and passes its second, printing a little each time;
    `shout` prints more than a row keeps."""
    make.write(folder, "talk.py", f"""
        marker = pathlib.Path({str(marker)!r})
        first = not marker.exists()
        marker.touch()
        print("first try" if first else "second try")
        print("careful", file=sys.stderr)
        sys.exit(1 if first else 0)
    """)
    make.write(folder, "shout.py", f"""
        print("x" * {INLINE_LOG_BYTES})
    """)
    return Pipeline(steps=[
        PythonScriptStep("talk.py", name="talk", source_directory=folder, max_retries=1),
        PythonScriptStep("shout.py", name="shout", source_directory=folder),
    ])


def blob_exists(account: StorageAccount, name: str) -> bool:
    return account.container("runs").info(name) is not None


def test_small_logs_go_on_the_row_per_attempt_and_large_ones_to_blobs(
    service: Service, workspace: Workspace, tmp_path: Path
) -> None:
    # GIVEN a step that prints a little and is retried once, and one that prints more than a row keeps
    published = publish(workspace, talk_and_shout(tmp_path / "code", tmp_path / "marker"), "Logs", None, "1.0")
    # WHEN the run ends
    run = published.submit("logs", {})
    assert run.wait_for_completion(show_output=False) == "Finished"
    account = get_account()
    nodes = {s["Name"]: node for node, s in service.steps(run.id).items()}
    talk = account.table("Runs").get_entity(run_partition("ws1", run.id), step_row(nodes["talk"]))
    shout = account.table("Runs").get_entity(run_partition("ws1", run.id), step_row(nodes["shout"]))
    # THEN each attempt of the small one has its logs on the row, and none in Blob storage
    assert '"1"' in talk["InlineLogs"] and '"2"' in talk["InlineLogs"]
    for attempt in (1, 2):
        for kind in ("STDOUT", "STDERR"):
            assert not blob_exists(account, log_blob_name("ws1", run.id, nodes["talk"], attempt, kind))
    # AND the log route answers each attempt's text from the row
    base = f"/PipelineRuns/{run.id}/Graph/Shareable"
    assert service.get(f"{base}/STDOUT", params={"nodeId": nodes["talk"]}).text == "second try\n"
    assert service.get(f"{base}/STDOUT", params={"nodeId": nodes["talk"], "attempt": "1"}).text == "first try\n"
    assert service.get(f"{base}/STDERR", params={"nodeId": nodes["talk"], "attempt": "1"}).text == "careful\n"
    # AND the large one is a blob, read back whole, and its row keeps no logs
    assert "InlineLogs" not in shout
    assert blob_exists(account, log_blob_name("ws1", run.id, nodes["shout"], 1, "STDOUT"))
    assert service.log(run.id, nodes["shout"]) == "x" * INLINE_LOG_BYTES + "\n"


def a_job(executor: Executor, tmp_path: Path, script: str) -> StepJob:
    spec = StepSpec.model_validate({"id": "s", "name": "s", "script_name": "main.py", "snapshot": SNAPSHOT})
    definition = PipelineDefinition.model_validate({"steps": [spec.model_dump()], "snapshot": SNAPSHOT})
    run = Run(id=uuid.uuid4().hex, workspace="ws", pipeline_id="p", graph_id="g", created=datetime.now(UTC))
    code = tmp_path / "snapshot"
    code.mkdir(exist_ok=True)
    (code / "main.py").write_text(script)
    executor.snapshots.path = lambda workspace, snapshot: code  # type: ignore[method-assign]
    return StepJob(run, definition, spec, 1, uuid.uuid4().hex, log_room=INLINE_LOG_BYTES)


def test_logs_taken_for_the_row_go_to_blobs_when_the_lease_is_lost_after_the_exit(
    account, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    account.ensure()
    executor = Executor(account)
    executor.account.settings.work_dir = str(tmp_path / "work")  # the settings are this test's (storage_env)
    # WHEN one step's worker still holds the step at the exit, and another's does not
    kept = a_job(executor, tmp_path, "print('kept')\n")
    outcome = executor.execute(kept, lambda: None)
    lost = a_job(executor, tmp_path, "print('lost')\n")
    gone = executor.execute(lost, lambda: None, exited=lambda exit_code: False)
    executor.close()
    # THEN the first's logs come with its outcome and are not written; the second's are written
    assert outcome is not None and outcome.status is TaskStatus.FINISHED and outcome.logs == {"STDOUT": b"kept\n"}
    assert not blob_exists(account, log_blob_name("ws", kept.run.id, "s", 1, "STDOUT"))
    assert gone is None
    assert StepLogs(account).read("ws", lost.run.id, "s", 1, "STDOUT") == "lost\n"


def test_logs_go_to_blobs_when_the_commit_does_not_record_the_attempt(
    service: Service, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a worker whose commits find the step no longer its own (as when another worker took
    # it over between the script's exit and the commit: the engine then records nothing)
    from pipelines.runs import engine

    recorded: list[str] = []

    def taken_over(state: engine.RunState, node_id: str, *args: Any, **kwargs: Any) -> tuple[None, engine.Transition]:
        recorded.append(node_id)
        return None, engine.Transition()

    monkeypatch.setattr(engine, "complete_and_continue", taken_over)
    make.write(tmp_path / "code", "say.py", """
        print("said before the take-over")
    """)
    published = publish(workspace, Pipeline(steps=[PythonScriptStep("say.py", name="say",
                                                                    source_directory=tmp_path / "code")]),
                        "Taken", None, "1.0")
    # WHEN its step runs and its commit records nothing
    run = published.submit("taken", {})
    [node] = service.steps(run.id)
    account = get_account()
    name = log_blob_name("ws1", run.id, node, 1, "STDOUT")
    deadline = time.monotonic() + 30
    while not blob_exists(account, name):
        assert time.monotonic() < deadline, f"the log never reached Blob storage (commits tried: {recorded})"
        time.sleep(0.1)
    # THEN the logs it had taken for the row were written to the blob instead
    assert recorded and StepLogs(account).read("ws1", run.id, node, 1, "STDOUT") == "said before the take-over\n"
    entity = account.table("Runs").get_entity(run_partition("ws1", run.id), step_row(node))
    assert "InlineLogs" not in entity
