"""What the fault suite is made of: its scale, host processes, an API client that counts
answers, duplicate queue messages, and the figures (step scripts and their marker lines:
`tests.reliability.marks`).

Everything is real: Azurite (started by the suite), development hosts as child processes
on 127.0.0.1 (`python -m pipelines.devhost`), step scripts run by the hosts' workers, and
tokens signed by the development issuer and checked by the hosts' validator.

"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from azure.storage.queue import QueueClient

from pipelines.auth import devissuer
from pipelines.devhost.azurite import Azurite, free_port
from pipelines.runs.model import StepMessage

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = "ws1"
WS_PATH = (
    "/pipelines/v1.0/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"
    "/providers/Microsoft.MachineLearningServices/workspaces/" + WORKSPACE
)
ALL_ROLES = ("Pipelines.Read", "Pipelines.Submit", "Pipelines.Publish", "Pipelines.Admin")
RUN_ENDED = (2, 3, 4)  # Failed, Finished, Canceled
FINISHED = 3
CANCELED = 4

# Issue 13, item 2: from a host's SIGKILL to every run it held finished, with the default lease.
RECOVERY_LIMIT_SECONDS = 30.0


# -- scale --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    name: str
    duplicate_runs: int  # diamond runs whose every step message is sent again
    duplicate_copies: int  # extra copies of each message, at each of three moments
    kill_rounds: int  # host SIGKILLs, each with runs mid-step and one mid-commit
    # runs whose step is mid-step when the host dies: with the one mid-commit, at most 3, as
    # a host takes a new batch of messages only while 2 or fewer run (host.json newBatchThreshold)
    kill_held_runs: int
    outages: tuple[tuple[str, float], ...]  # ("restart" | "pause", seconds storage is away)
    outage_runs: int
    # When storage goes away: once any of the runs has a step running, so that some step
    # messages are being delivered at that moment (a delivery that fails then comes back only
    # when the sweeper sends the step again, 5 leases later), or once every run has one
    # running. "mixed": two outages from "any", two from "every", and so on.
    outage_start: str
    diamonds: int  # diamond runs submitted at once
    load_clients: int
    load_seconds: float
    load_pause_seconds: float  # each client's pause between two submits
    cancel_runs: int


SHORT = Scale(
    name="short", duplicate_runs=3, duplicate_copies=2, kill_rounds=1, kill_held_runs=2,
    outages=(("restart", 6.0), ("pause", 6.0)), outage_runs=3, outage_start="every", diamonds=8,
    load_clients=16, load_seconds=8.0, load_pause_seconds=1.0, cancel_runs=1,
)
LONG = Scale(
    name="long", duplicate_runs=20, duplicate_copies=4, kill_rounds=6, kill_held_runs=2,
    outages=(("restart", 5.0), ("pause", 5.0), ("restart", 12.0), ("pause", 12.0), ("restart", 25.0),
             ("pause", 25.0)),
    outage_runs=6, outage_start="mixed", diamonds=80, load_clients=16, load_seconds=120.0,
    load_pause_seconds=0.25, cancel_runs=5,
)


# Read once, when the suite is collected (each test then runs without the PIPELINES_* settings).
_SCALE_NAME = os.environ.get("PIPELINES_RELIABILITY_SCALE", "")


def scale() -> Scale:
    name = _SCALE_NAME.strip().lower() or "short"
    if name not in ("short", "long"):
        raise ValueError(f"PIPELINES_RELIABILITY_SCALE must be short or long, not {name!r}")
    return SHORT if name == "short" else LONG


# -- figures -----------------------------------------------------------------------------------------

COLUMNS = (
    ("scenario", "scenario"), ("runs", "runs"), ("executions per step", "executions"),
    ("stranded", "stranded"), ("recovery s", "recovery_s"), ("non-2xx", "non_2xx"),
    ("unrecorded", "unrecorded"), ("took s", "seconds"),
)


@dataclass
class Figures:
    """What every scenario measured, printed as one table at the end of the session."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    scale: str = ""

    def record(self, scenario: str, **values: Any) -> None:
        self.rows.setdefault(scenario, {"scenario": scenario}).update(values)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def to_json(self) -> dict[str, Any]:
        return {"scale": self.scale, "scenarios": list(self.rows.values()), "notes": list(self.notes)}

    def merge(self, other: Mapping[str, Any]) -> None:
        """What another process recorded (`to_json`'s shape), added to these figures."""
        self.scale = self.scale or str(other.get("scale") or "")
        for row in other.get("scenarios", []):
            self.record(str(row["scenario"]), **{k: v for k, v in row.items() if k != "scenario"})
        self.notes.extend(other.get("notes", []))

    def table(self) -> list[str]:
        def cell(value: Any) -> str:
            if value is None:
                return "-"
            if isinstance(value, float):
                return f"{value:.1f}"
            if isinstance(value, Mapping):
                return " ".join(f"{k}:{v}" for k, v in value.items()) or "0"
            return str(value)

        cells = [[title for title, _ in COLUMNS]]
        for row in self.rows.values():
            cells.append([cell(row.get(name)) for _, name in COLUMNS])
        widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
        lines = ["  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)) for line in cells]
        lines.insert(1, "  ".join("-" * width for width in widths))
        for row in self.rows.values():
            extra = {k: v for k, v in row.items() if k not in {name for _, name in COLUMNS}}
            if extra:
                lines.append(f"{row['scenario']}: " + ", ".join(f"{k}={cell(v)}" for k, v in extra.items()))
        lines += [f"note: {text}" for text in self.notes]
        return lines


FIGURES = Figures()


# -- host processes ----------------------------------------------------------------------------------


def host_environment(azurite: Azurite, prefix: str, work_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a host process: this test's storage names, the development issuer,
    and nothing of the suite's own PIPELINES_* settings (the lease stays the default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AzureWebJobsStorage", "PIPELINES_"))}
    env.update({
        "AzureWebJobsStorage": azurite.connection_string,
        "PIPELINES_NAME_PREFIX": prefix,
        "PIPELINES_STEPS_QUEUE": f"{prefix}-steps",
        "PIPELINES_DEV_ISSUER": "true",
        "PIPELINES_WORK_DIR": str(work_dir),
        **extra,
    })
    return env


@dataclass
class HostProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL, no chance to clean up: what a crashed or evicted instance gets."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass


def start_host(env: Mapping[str, str], azurite: Azurite, log: Path, timeout: float = 60.0) -> HostProcess:
    """`python -m pipelines.devhost` on a free port of 127.0.0.1, against `azurite`; returns once
    `/health` answers 200."""
    port = free_port()
    argv = [sys.executable, "-m", "pipelines.devhost", "--port", str(port), "--use-running-azurite",
            "--azurite-ports", ",".join(str(p) for p in azurite.ports)]
    with open(log, "ab") as sink:
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            argv, cwd=ROOT, env=dict(env), stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    host = HostProcess(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(host.base_url + "/health", timeout=2).status_code == 200:
                return host
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise AssertionError(f"the host exited with {process.returncode}: {log.read_text()[-3000:]}")
        time.sleep(0.2)
    host.stop()
    raise AssertionError(f"the host did not answer within {timeout:.0f}s: {log.read_text()[-3000:]}")


# -- the API, with every answer counted --------------------------------------------------------------


def token() -> str:
    return devissuer.mint(list(ALL_ROLES))


class Api:
    """Calls to a host in workspace ws1 with a real signed token; counts every status code
    (and calls that got no answer at all) by method and path shape."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self._token = token()
        self._lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.no_answer = 0
        self.unexpected: list[str] = []  # 5xx other than 503, with what was called

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        url = path if path.startswith("http") else self.base_url + WS_PATH + path
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            response = httpx.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except httpx.HTTPError as exc:
            with self._lock:
                self.no_answer += 1
                self.unexpected.append(f"{method} {path}: no answer ({type(exc).__name__})")
            return None
        with self._lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 500 and response.status_code != 503:
                self.unexpected.append(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call that must succeed (outside a fault): its JSON body."""
        response = self.call(method, path, **kwargs)
        assert response is not None and response.status_code == 200, (
            method, path, None if response is None else (response.status_code, response.text[:500]))
        return response.json()

    def submit(self, pipeline_id: str, parameters: Mapping[str, Any] | None = None) -> httpx.Response | None:
        # RegenerateOutputs: the suite counts executions, so every step of every run must run
        # (identical runs would otherwise take the first one's outputs: step reuse).
        body = {"ExperimentName": "reliability", "ParameterAssignments": dict(parameters or {}),
                "RegenerateOutputs": True}
        return self.call("POST", f"/PipelineRuns/PipelineSubmit/{pipeline_id}", json=body)

    def submit_ok(self, pipeline_id: str, parameters: Mapping[str, Any] | None = None) -> str:
        response = self.submit(pipeline_id, parameters)
        assert response is not None and response.status_code == 200, (
            None if response is None else (response.status_code, response.text[:500]))
        return str(response.json()["Id"])

    def run_status(self, run_id: str) -> int | None:
        response = self.call("GET", f"/PipelineRuns/{run_id}")
        if response is None or response.status_code != 200:
            return None
        return int(response.json()["Status"]["StatusCode"])

    def steps(self, run_id: str) -> dict[str, Any]:
        return dict(self.ok("POST", f"/PipelineRuns/{run_id}/Graph/AllNodes/Status"))

    def non_2xx(self) -> dict[str, int]:
        with self._lock:
            found = {str(code): count for code, count in sorted(self.statuses.items()) if not 200 <= code < 300}
            if self.no_answer:
                found["no answer"] = self.no_answer
            return found


def wait_runs(api: Api, run_ids: Iterable[str], timeout: float,
              ended_after: dict[str, float] | None = None) -> tuple[dict[str, int], float]:
    """Poll until every run has ended or `timeout` passes: (last status of each run, seconds waited).
    `ended_after`, if given, gets the seconds after which each run was seen ended."""
    started = time.monotonic()
    last: dict[str, int] = {run_id: -1 for run_id in run_ids}
    open_runs = set(last)
    while open_runs and time.monotonic() - started < timeout:
        for run_id in sorted(open_runs):
            status = api.run_status(run_id)
            if status is not None:
                last[run_id] = status
                if status in RUN_ENDED:
                    open_runs.discard(run_id)
                    if ended_after is not None:
                        ended_after[run_id] = round(time.monotonic() - started, 1)
        if open_runs:
            time.sleep(0.2)
    return last, time.monotonic() - started


def attempts_summary(steps: Mapping[str, Any]) -> str:
    """A run's steps and their attempts in one line, for a note about a slow or odd run."""
    parts = []
    for status in sorted(steps.values(), key=lambda s: str(s.get("Name"))):
        attempts = [
            f"#{a.get('Attempt')} {a.get('Outcome')}{'/' + a['Reason'] if a.get('Reason') else ''}"
            f" {str(a.get('StartTime'))[11:19]}-{str(a.get('EndTime'))[11:19]}"
            for a in status.get("Attempts") or []
        ]
        parts.append(f"{status.get('Name')} [{status.get('Status')}]: {', '.join(attempts) or 'no attempts'}")
    return "; ".join(parts)


def publish(api: Api, pipeline: Any, name: str) -> str:
    from pipelines.client import Workspace
    from pipelines.client import publish as client_publish

    workspace = Workspace(base_url=api.base_url, resource_group="rg", name=WORKSPACE,
                          token_provider=lambda: api._token)
    return str(client_publish(workspace, pipeline, name).id)


# -- duplicate deliveries --------------------------------------------------------------------------------


def steps_queue(connection: str, prefix: str) -> QueueClient:
    return QueueClient.from_connection_string(connection, f"{prefix}-steps")


def step_message(run_id: str, node_id: str, attempt: int) -> str:
    """A step message as the app sends one: its JSON, base64-encoded (host.json messageEncoding)."""
    payload = StepMessage(WORKSPACE, run_id, node_id, attempt).to_payload()
    return base64.b64encode(json.dumps(payload).encode()).decode("ascii")


def send_copies(queue: QueueClient, run_id: str, node_id: str, attempt: int, copies: int) -> int:
    for _ in range(copies):
        queue.send_message(step_message(run_id, node_id, attempt))
    return copies


def wait_queue_empty(queue: QueueClient, timeout: float) -> None:
    """Until no message is left (visible or not): every delivery has been handled."""
    deadline = time.monotonic() + timeout
    while queue.get_queue_properties().approximate_message_count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the steps queue still holds messages after {timeout}s")
        time.sleep(0.2)
