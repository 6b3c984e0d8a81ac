"""The warm step launcher keeps every guarantee of a fresh process per step (issue 14).

Real processes throughout: scripts run through `pipelines.worker.process.run_step`
as the executor runs them, forked from this test process's warm launcher or,
with `fresh_interpreter=True`, in a new interpreter; the end-to-end tests at the
bottom go through the local host and Azurite.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.authoring import Pipeline, PythonScriptStep
from pipelines.client import publish
from pipelines.worker import launcher
from pipelines.worker.executor import WITHHELD_FROM_STEPS
from pipelines.worker.process import HeldChild, ProcessResult, hold_step, run_step
from tests.service import ROOT
from tests.workers import alive

SECRETS = {
    "AzureWebJobsStorage": "DefaultEndpointsProtocol=http;AccountName=leak;AccountKey=c2VjcmV0",
    "PIPELINES_AUTH_TENANT_IDS": "11111111-1111-1111-1111-111111111111",
    "IDENTITY_ENDPOINT": "http://169.254.0.1/msi",
}


class Sink:
    def __init__(self) -> None:
        self.data = b""
        self.lock = threading.Lock()

    def append(self, data: bytes) -> None:
        with self.lock:
            self.data += data

    @property
    def text(self) -> str:
        return self.data.decode()


def step_env() -> dict[str, str]:
    """What the executor gives a step: the worker's environment without the app's secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(WITHHELD_FROM_STEPS)}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_dead(*pids: int, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still alive: {[pid for pid in pids if alive(pid)]}"
        time.sleep(0.05)


def cancel_once_written(path: Path) -> Callable[[], str | None]:
    """A `should_stop` that cancels the step once it has written its line to `path` (a file that
    exists may still be empty: the script is stopped between its open and its write)."""
    return lambda: "canceled" if path.exists() and path.read_text().endswith("\n") else None


def wait_for(path: Path, seconds: float = 30.0) -> str:
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text().endswith("\n")):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
    return path.read_text()


@pytest.fixture
def new_launcher() -> Iterator[launcher.WarmLauncher]:
    """This process's launcher, started afresh by the test's first step."""
    shared = launcher.shared()
    shared.stop()
    yield shared
    shared.stop()


@pytest.fixture
def secrets_in_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def run(
    folder: Path,
    body: str,
    arguments: list[str] | None = None,
    *,
    fresh: bool = False,
    timeout: float = 60,
    should_stop: Callable[[], str | None] = lambda: None,
    cwd: Path | None = None,
) -> tuple[ProcessResult, Sink, Sink]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(textwrap.dedent(body))
    out, err = Sink(), Sink()
    result = run_step(
        "main.py", arguments or [], cwd=str(cwd or folder), env=step_env(), timeout=timeout, stdout=out, stderr=err,
        should_stop=should_stop, fresh_interpreter=fresh,
    )
    return result, out, err


# -- what the script sees ------------------------------------------------------------------------


def test_a_forked_script_runs_as_main_with_its_argv_folder_and_path(tmp_path: Path, new_launcher) -> None:
    code = tmp_path / "code"
    (code / "helper.py").parent.mkdir(parents=True)
    (code / "helper.py").write_text("VALUE = 'beside the script'\n")
    result, out, err = run(code, """
        import os, sys
        import helper
        print(__name__, sys.argv, os.getcwd(), sys.path[0], helper.VALUE, sep="|")
        print("launched by", os.getppid(), "in group", os.getpgid(0), "session", os.getsid(0), "pid", os.getpid())
    """, ["--flag", "two words", ""])
    assert result.exit_code == 0, err.text
    first, second = out.text.splitlines()
    assert first.split("|") == ["__main__", str(["main.py", "--flag", "two words", ""]), str(code), str(code),
                                "beside the script"]
    # forked by the launcher (not this process), in a session and group of its own
    words = second.split()
    assert int(words[2]) == new_launcher.pid != os.getpid()
    assert words[5] == words[7] == words[9]


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
def test_a_step_holds_no_descriptor_but_its_own_three(tmp_path: Path, new_launcher, fresh: bool) -> None:
    # the launcher's sockets, other steps' pipes and the worker's files stay out of the script
    result, out, err = run(tmp_path / "code", """
        import os
        print(sorted(int(fd) for fd in os.listdir("/proc/self/fd")))  # 3: the listing's own
        print(os.readlink("/proc/self/fd/0"), os.readlink("/proc/self/fd/1")[:5], os.readlink("/proc/self/fd/2")[:5])
    """, fresh=fresh)
    assert result.exit_code == 0, err.text
    assert out.text.splitlines() == ["[0, 1, 2, 3]", "/dev/null pipe: pipe:"]


def test_the_launcher_is_one_thread_and_forks_children_that_differ(tmp_path: Path, new_launcher) -> None:
    outs = [run(tmp_path / f"code{i}", "import random, uuid; print(random.random(), uuid.uuid4())")[1].text
            for i in range(2)]
    assert os.listdir(f"/proc/{new_launcher.pid}/task") == [str(new_launcher.pid)]
    # each child is seeded afresh (random reseeds after a fork), as a new interpreter would be
    assert outs[0].split()[0] != outs[1].split()[0] and outs[0].split()[1] != outs[1].split()[1]


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
def test_the_step_sees_its_environment_and_none_of_the_apps_secrets(
    tmp_path: Path, new_launcher, secrets_in_worker, fresh: bool
) -> None:
    # GIVEN a worker whose own environment holds the app's storage connection, auth settings
    # and identity endpoint (set before the launcher starts)
    assert os.environ["AzureWebJobsStorage"] == SECRETS["AzureWebJobsStorage"]
    result, out, err = run(tmp_path / "code", """
        import os
        names = ("AzureWebJobs", "PIPELINES_AUTH_", "IDENTITY_")
        print("environ", sorted(k for k in os.environ if k.startswith(names)))
        # the process's initial environment block too (a forked child's is the launcher's)
        block = open("/proc/self/environ", "rb").read().decode().split("\\0")
        print("block", sorted(e.split("=")[0] for e in block if e.startswith(names)))
        print("unbuffered", os.environ.get("PYTHONUNBUFFERED"))
    """, fresh=fresh)
    assert result.exit_code == 0, err.text
    assert out.text.splitlines() == ["environ []", "block []", "unbuffered 1"]
    # AND the launcher itself holds none of them
    if not fresh:
        block = Path(f"/proc/{new_launcher.pid}/environ").read_bytes().decode().split("\0")
        assert not [e for e in block if e.startswith(tuple(SECRETS))]
        assert not [v for v in SECRETS.values() if v in "\0".join(block)]


EXITS = [
    ("pass", 0, ""),
    ("import sys; sys.exit(3)", 3, ""),
    ("import sys; sys.exit('bad input: no rows')", 1, "bad input: no rows\n"),
    ("raise ValueError('boom')", 1, "ValueError: boom"),
    ("exit()", 0, ""),
    ("import sys; sys.exit(None)", 0, ""),
    ("import os; os._exit(7)", 7, ""),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", -9, ""),
    ("raise KeyboardInterrupt", -2, "KeyboardInterrupt"),
]


def python_script(folder: Path) -> subprocess.CompletedProcess[str]:
    """`python main.py` in `folder`, as a step's script would run by hand: the reference."""
    return subprocess.run(  # noqa: S603 - the test's own interpreter on the test's own script
        [sys.executable, "main.py"], cwd=folder, env=step_env(), capture_output=True, text=True,
        timeout=60, check=False,
    )


AS_PYTHON_RUNS_IT = {
    "its module": """
        import sys, __main__
        print(__name__, __file__, type(__loader__).__name__, __package__, __spec__, __cached__, sys.argv[0])
        print(__main__.__dict__ is globals(), sys.modules["__main__"] is __main__)
    """,
    "an exception's traceback": """
        def inner():
            raise ValueError("boom")
        def outer():
            inner()
        outer()
    """,
    "a syntax error": "print('fine')\ndef broken(:\n",
    "sys.exit with text": "import sys\nsys.exit('bad input: no rows')\n",
}


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
@pytest.mark.parametrize("body", list(AS_PYTHON_RUNS_IT.values()), ids=list(AS_PYTHON_RUNS_IT))
def test_the_script_runs_as_python_script_runs_it(tmp_path: Path, new_launcher, fresh: bool, body: str) -> None:
    # GIVEN a script, run by hand with `python main.py` in its folder
    folder = tmp_path / "code"
    result, out, err = run(folder, body, fresh=fresh)
    reference = python_script(folder)
    # THEN the step sees and prints what that run does: its module, its traceback from its
    # own frame on (none of the launcher's), its syntax error, its exit code
    assert (result.exit_code, out.text, err.text) == (reference.returncode, reference.stdout, reference.stderr)


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
def test_a_script_that_cannot_be_read_exits_as_python_script_does(tmp_path: Path, new_launcher, fresh: bool) -> None:
    folder = tmp_path / "code"
    folder.mkdir()
    out, err = Sink(), Sink()
    result = run_step("missing.py", [], cwd=str(folder), env=step_env(), timeout=60, stdout=out, stderr=err,
                      should_stop=lambda: None, fresh_interpreter=fresh)
    assert result.exit_code == 2
    assert err.text.endswith(f"can't open file {str(folder / 'missing.py')!r}: [Errno 2] No such file or directory\n")


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
@pytest.mark.parametrize(("body", "code", "stderr"), EXITS, ids=[e[0] for e in EXITS])
def test_exit_codes_are_those_of_python_script(
    tmp_path: Path, new_launcher, fresh: bool, body: str, code: int, stderr: str
) -> None:
    result, _, err = run(tmp_path / "code", body, fresh=fresh)
    assert result.exit_code == code, err.text
    assert stderr in err.text
    if code == 1 and "Error" in stderr:
        assert err.text.startswith("Traceback (most recent call last):")
    if stderr.endswith("\n"):
        assert err.text == stderr  # sys.exit("text"): the text alone, no traceback


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
def test_the_interpreter_ends_as_it_ends_python_script(tmp_path: Path, new_launcher, fresh: bool) -> None:
    # A non-daemon thread is waited for, atexit runs, and files left open are flushed: text,
    # binary, and a class of the script's own built on io's.
    result, out, err = run(tmp_path / "code", """
        import atexit, io, threading, time
        atexit.register(lambda: print("atexit ran", flush=True))
        left_open = open("left-open.txt", "w")
        left_open.write("flushed at exit")
        left_binary = open("left-open.bin", "wb")
        left_binary.write(b"bytes at exit")
        class Upper(io.BufferedWriter):
            def write(self, data):
                return super().write(bytes(data).upper())
        left_own = Upper(io.FileIO("left-open.own", "w"))
        left_own.write(b"shouted at exit")
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread done", flush=True))).start()
        print("main done", flush=True)
    """, fresh=fresh)
    assert result.exit_code == 0, err.text
    assert out.text.splitlines() == ["main done", "thread done", "atexit ran"]
    assert (tmp_path / "code" / "left-open.txt").read_text() == "flushed at exit"
    assert (tmp_path / "code" / "left-open.bin").read_bytes() == b"bytes at exit"
    assert (tmp_path / "code" / "left-open.own").read_bytes() == b"SHOUTED AT EXIT"


def test_stdout_and_stderr_reach_their_sinks_with_what_the_script_started(tmp_path: Path, new_launcher) -> None:
    result, out, err = run(tmp_path / "code", """
        import subprocess, sys
        print("to stdout")
        print("to stderr", file=sys.stderr)
        grandchild = "import sys; print('grandchild out'); print('grandchild err', file=sys.stderr)"
        subprocess.run([sys.executable, "-c", grandchild])
        sys.stdout.write("x" * 200_000 + "\\n")
    """)
    assert result.exit_code == 0, err.text
    lines = out.text.splitlines()
    assert lines[:2] == ["to stdout", "grandchild out"] and lines[2] == "x" * 200_000
    assert err.text.splitlines() == ["to stderr", "grandchild err"]
    assert result.stderr_tail.splitlines() == ["to stderr", "grandchild err"]


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
def test_the_turnover_hooks_come_at_the_start_and_when_the_output_ends(
    tmp_path: Path, new_launcher, fresh: bool
) -> None:
    # GIVEN a script that prints, works a while, and prints its last line right before it exits
    (tmp_path / "code").mkdir()
    script = "print('first', flush=True)\nimport time; time.sleep(0.7)\nprint('last')\n"
    (tmp_path / "code" / "main.py").write_text(script)
    events: list[str | bytes] = []  # "start", "end", and each chunk of stdout as it was read
    out = Sink()
    recording = type("Recording", (), {"append": lambda self, data: (events.append(data), out.append(data))})()
    result = run_step(
        "main.py", [], cwd=str(tmp_path / "code"), env=step_env(), timeout=60, stdout=recording, stderr=Sink(),
        should_stop=lambda: None, fresh_interpreter=fresh,
        on_start=lambda: events.append("start"), on_end=lambda: events.append("end"),
    )
    # THEN the start came once, while the script ran (the pumps start first: a chunk read at
    # once may come before it), each chunk went on as it was read (the first line while the
    # script still ran: it was read before the last line was printed; a print may reach the
    # pipe as two writes, its text and its newline), and the end (the exit's signal to hold
    # log writes) once the output ended: each pump says its own pipe ended, side by side, so
    # stderr's end may come before stdout's last chunk; the last end comes after every chunk
    assert result.exit_code == 0 and out.text == "first\nlast\n"
    assert events.count("start") == 1 and events.index("start") < events.index("end")
    chunks = [e for e in events if isinstance(e, bytes)]
    last = next(i for i, chunk in enumerate(chunks) if b"last" in chunk)
    assert b"".join(chunks[:last]) == b"first\n"
    assert events.count("end") == 2 and events[-1] == "end"


# -- stopping a step -----------------------------------------------------------------------------

SLEEPER_WITH_A_GRANDCHILD = """
    import os, subprocess, sys, time
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open(sys.argv[1], "w") as pids:
        pids.write(f"{os.getpid()} {grandchild.pid} {os.getppid()}\\n")
    time.sleep(120)
"""


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
def test_a_cancel_kills_the_step_and_what_it_started(tmp_path: Path, new_launcher, fresh: bool) -> None:
    pids = tmp_path / "pids"
    result, _, err = run(
        tmp_path / "code", SLEEPER_WITH_A_GRANDCHILD, [str(pids)], fresh=fresh,
        should_stop=cancel_once_written(pids),
    )
    step, grandchild, _ = map(int, pids.read_text().split())
    assert result.stopped == "canceled" and not result.timed_out
    assert result.exit_code == -signal.SIGTERM, err.text
    wait_dead(step, grandchild, seconds=1)


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
def test_a_timeout_kills_the_step_and_what_it_started(tmp_path: Path, new_launcher, fresh: bool) -> None:
    pids = tmp_path / "pids"
    started = time.monotonic()
    result, _, _ = run(tmp_path / "code", SLEEPER_WITH_A_GRANDCHILD, [str(pids)], fresh=fresh, timeout=2)
    step, grandchild, _ = map(int, pids.read_text().split())
    assert result.timed_out and result.stopped is None
    assert time.monotonic() - started < 10
    wait_dead(step, grandchild, seconds=1)


def test_a_step_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path, new_launcher) -> None:
    pids = tmp_path / "pids"
    result, _, _ = run(tmp_path / "code", """
        import os, signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with open(sys.argv[1], "w") as pids:
            pids.write(f"{os.getpid()}\\n")
        time.sleep(120)
    """, [str(pids)], should_stop=cancel_once_written(pids))
    assert result.exit_code == -signal.SIGKILL
    wait_dead(int(pids.read_text()), seconds=1)


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
def test_a_cancel_kills_a_child_that_ignores_sigterm_when_the_script_itself_obeys(
    tmp_path: Path, new_launcher, fresh: bool
) -> None:
    # The script ends on SIGTERM at once; its child and grandchild ignore it (the fault suite's case).
    pids = tmp_path / "pids"
    result, _, _ = run(tmp_path / "code", """
        import os, signal, subprocess, sys, time
        stubborn = subprocess.Popen([sys.executable, "-c",
            "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "g = subprocess.Popen(['sleep', '120']); print(g.pid, flush=True); time.sleep(120)"],
            stdout=subprocess.PIPE, text=True)
        grandchild = stubborn.stdout.readline().strip()
        with open(sys.argv[1], "w") as out:
            out.write(f"{os.getpid()} {stubborn.pid} {grandchild}\\n")
        time.sleep(120)
    """, [str(pids)], fresh=fresh, should_stop=cancel_once_written(pids))
    assert result.stopped == "canceled"
    wait_dead(*map(int, pids.read_text().split()), seconds=1)


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
def test_a_finished_step_leaves_no_background_process(tmp_path: Path, new_launcher, fresh: bool) -> None:
    pids = tmp_path / "pids"
    result, _, _ = run(tmp_path / "code", """
        import subprocess, sys
        background = subprocess.Popen(["sleep", "120"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        open(sys.argv[1], "w").write(str(background.pid))
    """, [str(pids)], fresh=fresh)
    assert result.exit_code == 0 and result.stopped is None
    wait_dead(int(pids.read_text()), seconds=1)


WORKER = """
import os, sys
sys.path.insert(0, {root!r})
from pipelines.worker.process import run_step

class Sink:
    def append(self, data):
        pass

env = dict(os.environ, PYTHONPATH={root!r}, PYTHONUNBUFFERED="1")
run_step("main.py", [{pids!r}], cwd={code!r}, env=env, timeout=300, stdout=Sink(), stderr=Sink(),
         should_stop=lambda: None, fresh_interpreter={fresh!r})
"""


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
def test_a_worker_killed_with_sigkill_leaves_no_step_process(tmp_path: Path, fresh: bool) -> None:
    # GIVEN a worker process (of its own, in this test's process group) running a step that
    # started a process of its own
    code = tmp_path / "code"
    code.mkdir()
    (code / "main.py").write_text(textwrap.dedent(SLEEPER_WITH_A_GRANDCHILD))
    pids = tmp_path / "pids"
    worker = subprocess.Popen([sys.executable, "-c", WORKER.format(
        root=str(ROOT), pids=str(pids), code=str(code), fresh=fresh)])
    try:
        step, grandchild, parent = map(int, wait_for(pids).split())
        assert (parent == worker.pid) is fresh  # forked: the launcher is the step's parent
        # WHEN the worker alone is killed, with no chance to clean up
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        # THEN the step, what it started, and the launcher are gone soon
        wait_dead(step, grandchild, parent, seconds=5)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


RECORDING_WORKER = """
import json, os, sys
sys.path.insert(0, {root!r})
from pipelines.worker.process import run_step

events = []

class Sink:
    def __init__(self, name):
        self.name = name
    def append(self, data):
        events.append([self.name, data.decode()])

env = dict(os.environ, PYTHONPATH={root!r}, PYTHONUNBUFFERED="1")
result = run_step("main.py", [], cwd={code!r}, env=env, timeout=60, stdout=Sink("out"), stderr=Sink("err"),
                  should_stop=lambda: None, on_end=lambda: events.append(["end", ""]))
with open({record!r}, "w") as record:
    json.dump({{"exit": result.exit_code, "events": events}}, record)
"""


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh"])
def test_a_worker_started_without_a_stderr_still_gets_each_steps_stderr_apart(tmp_path: Path, fresh: bool) -> None:
    # GIVEN a worker process whose descriptor 2 is closed (a service manager may start one so), and so
    # the launcher it starts, were the launcher to inherit it
    code = tmp_path / "code"
    code.mkdir()
    (code / "main.py").write_text(textwrap.dedent("""
        import sys, time
        print('out 1', flush=True)
        print('err 1', file=sys.stderr, flush=True)
        time.sleep(0.3)
        print('err 2', file=sys.stderr, flush=True)
        print('out 2')
    """))
    record = tmp_path / "record.json"
    worker = RECORDING_WORKER.format(root=str(ROOT), code=str(code), record=str(record))
    if fresh:
        worker = worker.replace("should_stop=lambda: None,", "should_stop=lambda: None, fresh_interpreter=True,")
    subprocess.run([sys.executable, "-c", worker], preexec_fn=lambda: os.close(2), timeout=120, check=True)  # noqa: PLW1509
    # WHEN its step writes to both streams THEN each reaches its own sink, and both end with the script
    seen = json.loads(record.read_text())
    assert seen["exit"] == 0
    text = {name: "".join(data for kind, data in seen["events"] if kind == name) for name in ("out", "err")}
    assert text == {"out": "out 1\nout 2\n", "err": "err 1\nerr 2\n"}
    # each pump says its pipe ended (two ends); one pump may end before the other's last chunk is
    # handed on (they read side by side), so only the last end is after every chunk
    kinds = [kind for kind, _ in seen["events"]]
    assert kinds.count("end") == 2 and kinds[-1] == "end"


# -- the launcher's own failures -----------------------------------------------------------------


def test_a_killed_launcher_takes_its_step_along_and_the_next_step_gets_a_new_one(
    tmp_path: Path, new_launcher
) -> None:
    pids = tmp_path / "pids"
    results: list[ProcessResult] = []
    running = threading.Thread(target=lambda: results.append(
        run(tmp_path / "code", SLEEPER_WITH_A_GRANDCHILD, [str(pids)])[0]))
    running.start()
    step, grandchild, first = map(int, wait_for(pids).split())
    assert first == new_launcher.pid
    # WHEN the launcher dies while the step runs
    os.kill(first, signal.SIGKILL)
    running.join(timeout=30)
    # THEN the step ends, failed, saying why, and nothing of it is left
    [result] = results
    assert result.exit_code is None and not result.timed_out and result.stopped is None
    assert f"the step launcher (pid {first}) died while the script ran" in result.stderr_tail
    wait_dead(step, grandchild, seconds=2)
    # AND the next step is forked by a new launcher
    again, out, err = run(tmp_path / "again", "import os; print(os.getppid())")
    assert again.exit_code == 0, err.text
    assert int(out.text) == new_launcher.pid != first


def test_a_launcher_that_died_idle_is_replaced_at_the_next_step(tmp_path: Path, new_launcher) -> None:
    result, out, _ = run(tmp_path / "one", "import os; print(os.getppid())")
    first = int(out.text)
    os.kill(first, signal.SIGKILL)
    wait_dead(first)
    result, out, err = run(tmp_path / "two", "import os; print(os.getppid())")
    assert result.exit_code == 0, err.text
    assert int(out.text) == new_launcher.pid != first


def test_a_step_whose_launcher_dies_while_launching_it_is_launched_again_once(
    tmp_path: Path, new_launcher
) -> None:
    marker = tmp_path / "marker"
    run(tmp_path / "warm", "pass")  # the launcher is up
    first = new_launcher.pid
    assert first is not None
    starts = new_launcher.starts
    # GIVEN a launcher that will never answer the launch it is sent
    os.kill(first, signal.SIGSTOP)
    results: list[tuple[ProcessResult, Sink, Sink]] = []
    launching = threading.Thread(target=lambda: results.append(run(tmp_path / "code", f"""
        import os
        with open({str(marker)!r}, "a") as marker:
            marker.write("ran\\n")
        print(os.getppid())
    """)))
    launching.start()
    time.sleep(0.5)
    # WHEN it dies with the launch in hand
    os.kill(first, signal.SIGKILL)
    launching.join(timeout=60)
    # THEN the step is launched again by a new launcher, and runs once
    [(result, out, err)] = results
    assert result.exit_code == 0, err.text
    assert marker.read_text() == "ran\n"
    assert int(out.text) == new_launcher.pid != first
    assert new_launcher.starts == starts + 1


# -- a step forked on hold (while the commit that claims it is in flight) --------------------------
MARKS = """
    import os, sys
    with open(sys.argv[1], "a") as marker:
        marker.write(f"ran {os.getpid()}\\n")
    print("ran")
"""


def hold(folder: Path, body: str, arguments: list[str]) -> HeldChild:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(textwrap.dedent(body))
    held = hold_step("main.py", arguments, cwd=str(folder), env=step_env())
    assert held is not None and held.pid is not None
    return held


def let_go(folder: Path, held: HeldChild, arguments: list[str]) -> tuple[ProcessResult, Sink, Sink]:
    out, err = Sink(), Sink()
    result = run_step("main.py", arguments, cwd=str(folder), env=step_env(), timeout=60, stdout=out, stderr=err,
                      should_stop=lambda: None, held=held)
    return result, out, err


def test_a_step_forked_on_hold_runs_nothing_until_it_is_let_go(tmp_path: Path, new_launcher) -> None:
    marker = tmp_path / "marker"
    # GIVEN a step's child forked on hold
    held = hold(tmp_path / "code", MARKS, [str(marker)])
    pid = held.pid
    assert pid is not None
    time.sleep(0.5)
    # THEN it is there, forked by the launcher, and has run nothing of the script
    assert alive(pid) and not marker.exists()
    # WHEN it is let go
    result, out, err = let_go(tmp_path / "code", held, [str(marker)])
    # THEN that very child runs the script once, its output read as any step's
    assert result.exit_code == 0, err.text
    assert marker.read_text() == f"ran {pid}\n" and out.text == "ran\n"


def test_a_step_forked_on_hold_and_dropped_is_killed_having_run_nothing(tmp_path: Path, new_launcher) -> None:
    marker = tmp_path / "marker"
    held = hold(tmp_path / "code", MARKS, [str(marker)])
    pid = held.pid
    assert pid is not None
    # WHEN it is dropped (the claim it was forked for did not come)
    held.release()
    # THEN it is gone, and ran nothing
    wait_dead(pid)
    time.sleep(0.2)
    assert not marker.exists()
    # AND the launcher goes on launching steps
    result, out, err = run(tmp_path / "next", "print('next')")
    assert result.exit_code == 0 and out.text == "next\n", err.text


def test_a_step_on_hold_whose_launcher_died_is_forked_again_when_it_runs(tmp_path: Path, new_launcher) -> None:
    marker = tmp_path / "marker"
    held = hold(tmp_path / "code", MARKS, [str(marker)])
    first, pid = new_launcher.pid, held.pid
    assert first is not None and pid is not None
    # GIVEN its launcher dies while the child waits (the child goes with it, having run nothing)
    os.kill(first, signal.SIGKILL)
    wait_dead(first, pid)
    # WHEN the step runs
    result, out, err = let_go(tmp_path / "code", held, [str(marker)])
    # THEN it is forked by a new launcher and runs once
    assert result.exit_code == 0, err.text
    [line] = marker.read_text().splitlines()
    assert line != f"ran {pid}" and new_launcher.pid not in (None, first)


def test_six_steps_launched_at_once_keep_their_own_output_and_exit_code(tmp_path: Path, new_launcher) -> None:
    results: dict[int, tuple[ProcessResult, Sink, Sink]] = {}

    def one(i: int) -> None:
        results[i] = run(tmp_path / f"code{i}", f"""
            import sys, time
            for n in range(200):
                print("step {i}", n)
                print("err {i}", n, file=sys.stderr)
            time.sleep(0.2)
            sys.exit({i})
        """)

    starts = new_launcher.starts
    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == list(range(6))
    for i, (result, out, err) in results.items():
        assert result.exit_code == i
        assert out.text.splitlines() == [f"step {i} {n}" for n in range(200)]
        assert err.text.splitlines() == [f"err {i} {n}" for n in range(200)]
    assert new_launcher.starts == starts + 1  # one launcher served them all


# -- a fresh interpreter on request --------------------------------------------------------------

PROBE = """
    import os, sys
    print(os.getppid(), "argparse" in sys.modules, "pipelines.runtime.forkserver" in sys.modules)
"""


def test_fresh_interpreter_gets_a_new_interpreter_and_the_others_a_warm_fork(tmp_path: Path, new_launcher) -> None:
    _, warm, _ = run(tmp_path / "warm", PROBE)
    _, fresh, _ = run(tmp_path / "fresh", PROBE, fresh=True)
    assert warm.text.split() == [str(new_launcher.pid), "True", "True"]
    assert fresh.text.split() == [str(os.getpid()), "False", "False"]


def test_a_step_declared_fresh_interpreter_runs_in_one_end_to_end(service, workspace, tmp_path: Path) -> None:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "probe.py").write_text(textwrap.dedent(PROBE))
    warm = PythonScriptStep("probe.py", name="warm", source_directory=folder)
    fresh = PythonScriptStep("probe.py", name="fresh", source_directory=folder, fresh_interpreter=True)
    fresh.run_after(warm)
    pipeline = Pipeline(steps=[warm, fresh])
    assert [s.fresh_interpreter for s in pipeline.to_definition().steps] == [False, True]
    published = publish(workspace, pipeline, "fresh-or-not")
    run_id = service.post(f"/PipelineRuns/PipelineSubmit/{published.id}", json={}).json()["Id"]
    assert service.wait_run(run_id)["Status"]["StatusCode"] == 3
    by_name = {s["Name"]: node for node, s in service.steps(run_id).items()}
    # the host (this process) is the worker: a fresh step is its child, the other the launcher's
    assert service.log(run_id, by_name["warm"]).split() == [str(launcher.shared().pid), "True", "True"]
    assert service.log(run_id, by_name["fresh"]).split() == [str(os.getpid()), "False", "False"]


def test_an_exit_reported_with_the_pid_in_one_read_is_not_lost() -> None:
    # A quick script can end before the worker has read its pid: both lines arrive at once.
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b'{"pid": 4242}\n{"exit": 3}\n')
        line, rest = launcher._read_line(ours)
        child = launcher.WarmChild(4242, ours, 1, rest)
        assert line == b'{"pid": 4242}' and child.wait(0) == 3
