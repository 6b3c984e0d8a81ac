"""`python -m pipelines.devhost` as a process: Azurite, settings, signals, no process left behind;
and how it reads local.settings.json."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.devhost import azurite as azurite_mod
from pipelines.devhost.__main__ import load_local_settings
from tests.conftest import ROOT, unique_prefix
from tests.hosting import wait_for


# -- the command line ---------------------------------------------------------------------------------
def _cli_env(tmp_path: Any) -> dict[str, str]:
    env = dict(os.environ)  # the autouse fixture already removed ambient storage settings
    prefix = unique_prefix()
    env["PIPELINES_NAME_PREFIX"] = prefix
    env["PIPELINES_STEPS_QUEUE"] = f"{prefix}-steps"
    env["PIPELINES_DEV_KEY_DIR"] = str(tmp_path / "devkeys")  # not the developer's .devkeys
    return env


def _serve_until_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    def healthy() -> bool:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, timeout=40, interval=0.2)


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    return process.stdout.read().decode() if process.stdout else ""


def test_cli_starts_azurite_serves_and_stops_everything(tmp_path: Any) -> None:
    port = azurite_mod.free_port()
    ports = (azurite_mod.free_port(), azurite_mod.free_port(), azurite_mod.free_port())
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.devhost",
            "--port",
            str(port),
            "--azurite-ports",
            ",".join(map(str, ports)),
        ],
        cwd=ROOT,
        env=_cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _serve_until_healthy(process, f"http://127.0.0.1:{port}/health")
        if importlib.util.find_spec("pipelines.auth.devissuer") is not None:
            keys = httpx.get(f"http://127.0.0.1:{port}/.devissuer/keys", timeout=5)
            assert keys.status_code == 200 and keys.json()["keys"]
    finally:
        output = _stop(process)
    assert process.returncode == 0, output
    # No orphan: Azurite, in its own process group, went down with the host.
    emulator = azurite_mod.Azurite("127.0.0.1", *ports)
    wait_for(lambda: not any(azurite_mod._port_open("127.0.0.1", p) for p in emulator.ports), timeout=5)


def test_cli_uses_a_running_azurite_and_leaves_it_running(
    azurite: azurite_mod.Azurite, tmp_path: Any
) -> None:
    port = azurite_mod.free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.devhost",
            "--port",
            str(port),
            "--use-running-azurite",
            "--azurite-ports",
            ",".join(map(str, azurite.ports)),
        ],
        cwd=ROOT,
        env=_cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _serve_until_healthy(process, f"http://127.0.0.1:{port}/health")
    finally:
        output = _stop(process)
    assert process.returncode == 0, output
    assert azurite.answering()


def test_local_settings_fill_the_environment_as_core_tools_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a local.settings.json, one variable already set and one set but empty
    settings = tmp_path / "local.settings.json"
    names = ("DEVHOST_A", "DEVHOST_B", "DEVHOST_C")
    settings.write_text(json.dumps({"Values": {name: "file" for name in names}}))
    monkeypatch.setenv("DEVHOST_A", "environment")
    monkeypatch.setenv("DEVHOST_B", "")
    monkeypatch.delenv("DEVHOST_C", raising=False)
    # WHEN it is loaded
    load_local_settings(settings)
    # THEN what the environment already holds wins, unless it is empty
    assert [os.environ[name] for name in names] == ["environment", "file", "file"]
    for name in ("DEVHOST_B", "DEVHOST_C"):
        monkeypatch.delenv(name)
    # and without the file, the committed example is read
    example = tmp_path / "example.json"
    example.write_text(json.dumps({"Values": {"DEVHOST_C": "example"}}))
    load_local_settings(tmp_path / "missing.json", example)
    assert os.environ["DEVHOST_C"] == "example"


def test_a_signal_stops_the_host_with_a_long_step_running_and_the_step_with_it(tmp_path: Any) -> None:
    """As the Functions host ends its worker after its grace period, whatever still runs then."""
    # GIVEN the host with a published pipeline whose step sleeps for minutes, running
    port = azurite_mod.free_port()
    ports = (azurite_mod.free_port(), azurite_mod.free_port(), azurite_mod.free_port())
    env = _cli_env(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.devhost", "--port", str(port), "--azurite-ports", ",".join(map(str, ports))],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    pid_file = tmp_path / "step.pid"
    code = tmp_path / "long"
    code.mkdir()
    (code / "sleep.py").write_text(f"import os, pathlib, time\npathlib.Path({str(pid_file)!r}).write_text("
                                   "str(os.getpid()))\ntime.sleep(300)\n")
    (code / "pipeline.py").write_text(
        "from pathlib import Path\nfrom pipelines.authoring import Pipeline, PythonScriptStep\n"
        "def build():\n    return Pipeline(steps=[PythonScriptStep('sleep.py', name='sleep',"
        " source_directory=Path(__file__).parent)])\n")
    base = f"http://127.0.0.1:{port}"
    try:
        _serve_until_healthy(process, f"{base}/health")
        cli = [sys.executable, "-m", "pipelines", "--base-url", base]
        published = subprocess.run([*cli, "publish", str(code), "--name", "long", "-o", "json"], cwd=ROOT, env=env,
                                   capture_output=True, text=True, timeout=120)
        assert published.returncode == 0, published.stderr
        started = subprocess.run([*cli, "run", "submit", "--pipeline-id", json.loads(published.stdout)["Id"]],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stderr
        wait_for(pid_file.exists, timeout=60, interval=0.2)
        step_pid = int(pid_file.read_text())
        # WHEN the host is told to stop
        process.send_signal(signal.SIGINT)
        process.wait(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
    output = process.stdout.read().decode() if process.stdout else ""
    # THEN it stopped after its grace period, saying what it left, and the step's process is gone too
    assert process.returncode == 0, output
    assert "exiting with" in output, output

    def gone() -> bool:
        try:
            os.kill(step_pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, timeout=15, interval=0.2)
