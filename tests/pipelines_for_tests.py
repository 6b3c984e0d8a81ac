"""Small pipelines the run tests publish: real scripts, written into a temporary folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pipelines.authoring import Pipeline, PipelineData, PipelineParameter, PythonScriptStep

# Each script appends a line to a marker file named by --marker, so a test can
# count how many times it really ran (a duplicate message must not run it twice).
COMMON = textwrap.dedent(
    """
    import argparse, os, sys, time, pathlib
    def mark(marker, text):
        if marker:
            with open(marker, "a") as sink:
                sink.write(text + "\\n")
    """
)


def write(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(COMMON + textwrap.dedent(body))


def diamond(folder: Path, marker: Path) -> Pipeline:
    """a → (b, c) → d: d reads both b's and c's outputs."""
    write(folder, "node.py", """
        p = argparse.ArgumentParser()
        p.add_argument("--name"); p.add_argument("--marker")
        p.add_argument("--inp", action="append", default=[]); p.add_argument("--out")
        a = p.parse_args()
        seen = []
        for folder in a.inp:
            seen += sorted(pathlib.Path(folder, "value.txt").read_text().split())
        mark(a.marker, a.name)
        pathlib.Path(a.out, "value.txt").write_text(" ".join(seen + [a.name]))
        print("node", a.name, "saw", seen)
    """)
    out_a, out_b, out_c, out_d = (PipelineData(f"out_{n}") for n in "abcd")

    def step(name: str, inputs: list[PipelineData], output: PipelineData) -> PythonScriptStep:
        arguments: list[object] = ["--name", name, "--marker", str(marker), "--out", output]
        for data in inputs:
            arguments += ["--inp", data]
        return PythonScriptStep("node.py", name=name, arguments=arguments, inputs=inputs, outputs=[output],
                                source_directory=folder)

    return Pipeline(steps=[
        step("a", [], out_a), step("b", [out_a], out_b), step("c", [out_a], out_c), step("d", [out_b, out_c], out_d),
    ])


def single(folder: Path, script: str, *, arguments: list[object] | None = None, max_retries: int = 0,
           timeout_seconds: int | None = None, parameters: list[PipelineParameter] | None = None) -> Pipeline:
    write(folder, "main.py", script)
    return Pipeline(steps=[PythonScriptStep(
        "main.py", name="main", arguments=arguments or [], source_directory=folder,
        max_retries=max_retries, timeout_seconds=timeout_seconds,
    )])


def parameters_echo(folder: Path, names_and_defaults: dict[str, object]) -> Pipeline:
    """One step printing each parameter it gets: for the request vectors."""
    write(folder, "echo.py", """
        for item in sys.argv[1:]:
            print("arg", item)
    """)
    arguments: list[object] = []
    for name, default in names_and_defaults.items():
        arguments += [f"--{name}", PipelineParameter(name, default_value=default)]
    return Pipeline(steps=[PythonScriptStep("echo.py", name="echo", arguments=arguments, source_directory=folder)])


PREDICTIONS = "id,score\n" + "".join(f"{i},{(i * 37) % 101 / 100:.2f}\n" for i in range(200))


def scoring(folder: Path) -> Pipeline:
    """train → score: score writes predictions.csv (and a file in a subfolder) to its output."""
    write(folder, "train.py", """
        p = argparse.ArgumentParser(); p.add_argument("--model")
        a = p.parse_args()
        pathlib.Path(a.model, "model.txt").write_text("weights 1 2 3")
        print("trained")
    """)
    write(folder, "score.py", f"""
        p = argparse.ArgumentParser(); p.add_argument("--model"); p.add_argument("--out")
        a = p.parse_args()
        assert pathlib.Path(a.model, "model.txt").read_text() == "weights 1 2 3"
        pathlib.Path(a.out, "predictions.csv").write_text({PREDICTIONS!r})
        pathlib.Path(a.out, "details").mkdir()
        pathlib.Path(a.out, "details", "summary one.json").write_text('{{"rows": 200}}')
        print("scored 200 rows")
        print("a warning", file=sys.stderr)
    """)
    model, predictions = PipelineData("model"), PipelineData("predictions")
    return Pipeline(steps=[
        PythonScriptStep("train.py", name="train", arguments=["--model", model], outputs=[model],
                         source_directory=folder),
        PythonScriptStep("score.py", name="score", arguments=["--model", model, "--out", predictions],
                         inputs=[model], outputs=[predictions], source_directory=folder),
    ])


def held(folder: Path, release: Path) -> Pipeline:
    """One step that runs until the file `release` exists, and takes a second to stop when
    told to (so a test sees the run CancelRequested before it is Canceled)."""
    write(folder, "hold.py", f"""
        import signal
        def stopping(signum, frame):
            print("stopping", flush=True)
            time.sleep(1.5)
            sys.exit(1)
        signal.signal(signal.SIGTERM, stopping)
        print("holding", flush=True)
        while not pathlib.Path({str(release)!r}).exists():
            time.sleep(0.05)
        print("released")
    """)
    return Pipeline(steps=[PythonScriptStep("hold.py", name="hold", source_directory=folder)])
