"""The pipelines the fault suite publishes: real step scripts that leave marker lines
(see `harness.MARK`), written into the test's own folder."""

from __future__ import annotations

from pathlib import Path

from pipelines.authoring import Pipeline, PipelineData, PipelineParameter, PythonScriptStep
from tests.reliability.marks import (
    write_script,
)


def diamond(folder: Path, marker: Path, sleep: float = 0.3) -> Pipeline:
    """a → (b, c) → d; d reads b's and c's outputs and marks what it saw."""
    write_script(folder, "node.py", f"""
        p = argparse.ArgumentParser()
        p.add_argument("--inp", action="append", default=[]); p.add_argument("--out")
        a = p.parse_args()
        mark({str(marker)!r}, "start")
        time.sleep({sleep!r})
        seen = sorted(w for f in a.inp for w in pathlib.Path(f, "value.txt").read_text().split())
        pathlib.Path(a.out, "value.txt").write_text(" ".join(sorted(set(seen + [CONTEXT.step["name"]]))))
        mark({str(marker)!r}, "end", seen=seen)
    """)
    outputs = {name: PipelineData(f"out_{name}") for name in "abcd"}

    def step(name: str, inputs: list[str]) -> PythonScriptStep:
        arguments: list[object] = ["--out", outputs[name]]
        for parent in inputs:
            arguments += ["--inp", outputs[parent]]
        return PythonScriptStep("node.py", name=name, arguments=arguments, inputs=[outputs[p] for p in inputs],
                                outputs=[outputs[name]], source_directory=folder)

    return Pipeline(steps=[step("a", []), step("b", ["a"]), step("c", ["a"]), step("d", ["b", "c"])])


def quick(folder: Path, marker: Path) -> Pipeline:
    """One step that marks and ends at once: the load scenario's."""
    write_script(folder, "quick.py", f"""
        mark({str(marker)!r}, "start")
        print("done")
    """)
    return Pipeline(steps=[PythonScriptStep("quick.py", name="quick", source_directory=folder)])


def killable(folder: Path, marker: Path) -> Pipeline:
    """work → after. `work`, in its first execution only:
    - mode "hold": runs until its host is killed (mid-step);
    - mode "commit": waits for the file named by parameter `release`, then marks `end` as its
      last statement and exits, while the test kills its host on seeing that mark (mid-commit).
    Executed again, `work` ends at once, so recovery time is the service's, not the script's."""
    write_script(folder, "work.py", f"""
        p = argparse.ArgumentParser(); p.add_argument("--mode"); p.add_argument("--release")
        p.add_argument("--out")
        a = p.parse_args()
        first = executions_before({str(marker)!r}) == 0
        mark({str(marker)!r}, "start", mode=a.mode, first=first)
        pathlib.Path(a.out, "value.txt").write_text(a.mode)
        if first and a.mode == "hold":
            time.sleep(300)
        if first and a.mode == "commit":
            while not pathlib.Path(a.release).exists():
                time.sleep(0.01)
        mark({str(marker)!r}, "end", mode=a.mode, first=first)
    """)
    write_script(folder, "after.py", f"""
        p = argparse.ArgumentParser(); p.add_argument("--inp")
        a = p.parse_args()
        mark({str(marker)!r}, "start", saw=pathlib.Path(a.inp, "value.txt").read_text())
    """)
    mode = PipelineParameter("mode", default_value="hold")
    release = PipelineParameter("release", default_value="")
    out = PipelineData("work_out")
    return Pipeline(steps=[
        PythonScriptStep("work.py", name="work", arguments=["--mode", mode, "--release", release, "--out", out],
                         outputs=[out],
                         source_directory=folder),
        PythonScriptStep("after.py", name="after", arguments=["--inp", out], inputs=[out],
                         source_directory=folder),
    ])


def chain(folder: Path, marker: Path, length: int = 3, sleep: float = 1.5) -> Pipeline:
    """s1 → s2 → ... each sleeping `sleep` seconds: runs that stay in flight for a while."""
    write_script(folder, "link.py", f"""
        p = argparse.ArgumentParser(); p.add_argument("--inp"); p.add_argument("--out")
        a = p.parse_args()
        mark({str(marker)!r}, "start")
        time.sleep({sleep!r})
        previous = pathlib.Path(a.inp, "value.txt").read_text() if a.inp else ""
        pathlib.Path(a.out, "value.txt").write_text(previous + CONTEXT.step["name"] + " ")
        mark({str(marker)!r}, "end")
    """)
    outs = [PipelineData(f"out_{i}") for i in range(length)]
    steps = []
    for i in range(length):
        arguments: list[object] = ["--out", outs[i]]
        inputs = []
        if i:
            arguments += ["--inp", outs[i - 1]]
            inputs = [outs[i - 1]]
        steps.append(PythonScriptStep("link.py", name=f"s{i + 1}", arguments=arguments, inputs=inputs,
                                      outputs=[outs[i]], source_directory=folder))
    return Pipeline(steps=steps)


def process_tree(folder: Path, marker: Path) -> Pipeline:
    """One step that starts two children, each with a grandchild, marks every pid, and runs
    until stopped. The "polite" child and grandchild die of SIGTERM; the "stubborn" child
    ignores SIGTERM, and so does its grandchild (an ignored signal stays ignored across exec):
    only SIGKILL stops those two."""
    write_script(folder, "tree.py", f"""
        def spawn(ignore_term):
            child = (
                "import signal, subprocess, sys, time; "
                + ("signal.signal(signal.SIGTERM, signal.SIG_IGN); " if ignore_term else "")
                + "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
                + "print(g.pid, flush=True); time.sleep(300)"
            )
            proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
            return proc.pid, int(proc.stdout.readline())
        polite, polite_grandchild = spawn(False)
        stubborn, stubborn_grandchild = spawn(True)
        mark({str(marker)!r}, "start", tree={{
            "script": os.getpid(), "polite child": polite, "polite grandchild": polite_grandchild,
            "stubborn child": stubborn, "stubborn grandchild": stubborn_grandchild,
        }})
        time.sleep(300)
    """)
    return Pipeline(steps=[PythonScriptStep("tree.py", name="tree", source_directory=folder)])
