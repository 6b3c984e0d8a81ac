"""The installable package: `pip install <repo>` gives the `pipelines` command, the client and
the authoring API on a machine with nothing else of the project; one version, everywhere.

The repository is installed (not in editable mode) into a fresh virtual environment made
for this module, from a copy of its files, as a user would from a clone; every command then
runs from an empty folder outside the repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pipelines.version import __version__
from tests.service import ROOT

BIN = "Scripts" if os.name == "nt" else "bin"


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def requirements(path: Path) -> dict[str, Requirement]:
    found: dict[str, Requirement] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            found[canonicalize_name(requirement.name)] = requirement
    return found


# -- metadata -------------------------------------------------------------------------------------------------
def test_the_package_depends_on_what_the_function_app_deploys() -> None:
    # GIVEN requirements.txt (pinned, what the Function app deploys) and pyproject's dependencies
    pinned = requirements(ROOT / "requirements.txt")
    declared = {canonicalize_name(r.name): r for r in map(Requirement, pyproject()["project"]["dependencies"])}
    # THEN they name the same packages, with the same extras, and each pin is allowed
    assert sorted(declared) == sorted(pinned)
    for name, requirement in declared.items():
        [pin] = [spec.version for spec in pinned[name].specifier if spec.operator == "=="]
        assert requirement.specifier.contains(pin), (name, str(requirement.specifier), pin)
        assert requirement.extras == pinned[name].extras, name


def test_the_version_is_written_once_and_read_by_the_package() -> None:
    project = pyproject()
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "pipelines.version.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", __version__)
    assert project["project"]["scripts"] == {"pipelines": "pipelines.cli:main"}
    assert project["project"]["requires-python"] == ">=3.11"


def test_health_reports_the_version(host) -> None:
    answer = httpx.get(host.base_url + "/health", timeout=30)
    assert answer.status_code == 200 and answer.json()["Version"] == __version__


# -- a fresh install ------------------------------------------------------------------------------------------
def repository_files() -> list[str]:
    """What a clone holds (tracked files), plus new files not yet committed; nothing ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    return [name for name in listed if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A virtual environment with the repository installed by pip, as a user installs it: its bin folder."""
    base = tmp_path_factory.mktemp("install")
    copy = base / "repo"
    for name in repository_files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    environment = base / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / BIN / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", str(copy)],
        cwd=base, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    yield environment / BIN


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIPELINES_", "AzureWebJobs")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def run_installed(bin_dir: Path, cwd: Path, *args: str, env: dict[str, str] | None = None,
                  timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "pipelines"), *args], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def test_the_installed_command_answers_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    # GIVEN an empty folder outside the repository
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    # WHEN the installed command is asked its version and its help
    version = run_installed(installed, empty, "--version")
    helped = run_installed(installed, empty, "--help")
    # THEN it answers both, from the installed package (not the repository)
    assert version.returncode == 0 and version.stdout.strip() == f"pipelines {__version__}", version.stderr
    assert helped.returncode == 0 and "usage: pipelines" in helped.stdout
    for command in ("publish", "run", "trigger", "schedule", "exit status"):
        assert command in helped.stdout
    where = subprocess.run([str(installed / "python"), "-c", "import pipelines; print(pipelines.__file__)"],
                           cwd=empty, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(installed.parent), where


def test_the_installed_package_holds_every_data_file(installed: Path, tmp_path: Path) -> None:
    # GIVEN where the package was installed
    where = subprocess.run([str(installed / "python"), "-c", "import pipelines; print(pipelines.__file__)"],
                           cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60)
    package = Path(where.stdout.strip()).parent
    # THEN every file of the repository's package is there, code or data
    source = ROOT / "pipelines"
    expected = sorted(
        str(Path(name).relative_to("pipelines")) for name in repository_files()
        if name.startswith("pipelines/") and "__pycache__" not in name
    )
    missing = [name for name in expected if not (package / name).is_file()]
    assert (source / "authoring" / "definition.schema.json").is_file()
    assert missing == []
    schema = json.loads((package / "authoring" / "definition.schema.json").read_text(encoding="utf-8"))
    assert schema["title"] == "PipelineDefinition"


PIPELINE_PY = '''
from pipelines.authoring import Pipeline, PipelineParameter, PythonScriptStep


def build() -> Pipeline:
    greeting = PipelineParameter(name="greeting", default_value="hello")
    step = PythonScriptStep(name="greet", script_name="greet.py", source_directory=".",
                            arguments=["--greeting", greeting])
    return Pipeline(steps=[step])
'''

GREET_PY = '''
import argparse, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--greeting")
args = parser.parse_args()
for n in range(3):
    print(f"{args.greeting} {n}", flush=True)
    time.sleep(0.3)
print("a note on stderr", file=sys.stderr)
'''


def test_publish_and_submit_wait_from_an_empty_folder_with_the_installed_command(
    installed: Path, host, tmp_path: Path
) -> None:
    from pipelines.auth import devissuer

    # GIVEN a pipeline folder in a folder outside the repository, and the local host's address and key
    work = tmp_path / "project"
    (work / "my-folder").mkdir(parents=True)
    (work / "my-folder" / "pipeline.py").write_text(PIPELINE_PY)
    (work / "my-folder" / "greet.py").write_text(GREET_PY)
    env = clean_env(PIPELINES_BASE_URL=host.base_url, PIPELINES_WORKSPACE="ws1",
                    PIPELINES_DEV_KEY_DIR=str(devissuer.key_dir()))
    # WHEN it is published behind an endpoint (source_directory="." is the pipeline's folder)
    published = run_installed(installed, work, "publish", "./my-folder", "--name", "Greeter", "--version", "1",
                              "--endpoint", "greeter", env=env)
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["PipelineEndpoint"]["Name"] == "greeter"
    # AND a run is submitted and waited for
    submitted = run_installed(installed, work, "run", "submit", "--endpoint", "greeter", "--param", "greeting=hi",
                              "--wait", env=env, timeout=300)
    # THEN it finished, the step's output streamed to stderr, and stdout is the run as it ended
    assert submitted.returncode == 0, submitted.stderr
    run = json.loads(submitted.stdout)
    assert run["Status"]["StatusCode"] == 3 and run["ParameterAssignments"] == {"greeting": "hi"}
    for line in ("greet | hi 0", "greet | hi 2", "greet (stderr) | a note on stderr", "greet: Finished",
                 f"PipelineRun {run['Id']}: Finished"):
        assert line in submitted.stderr, submitted.stderr
    logs = run_installed(installed, work, "run", "logs", run["Id"], "greet", env=env)
    assert logs.returncode == 0 and logs.stdout == "hi 0\nhi 1\nhi 2\n"


# -- habits of the project ------------------------------------------------------------------------------------
def test_pre_commit_runs_the_linters_of_make_test() -> None:
    import yaml

    # GIVEN the commands of `make lint` (which `make test` runs first) and the pre-commit configuration
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "the Makefile has a lint target"
    commands = [
        line.strip().replace("$(PY)", ".venv/bin/python").replace("$(VENV)", ".venv").removesuffix(" .")
        for line in recipe.group(1).splitlines()
    ]
    assert make_test_runs_lint(makefile)
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    # THEN every hook is local (nothing downloaded), and each lint command is a hook's entry
    assert all(repo["repo"] == "local" for repo in config["repos"])
    entries = {hook["entry"] for hook in hooks.values()}
    assert {".venv/bin/python -m ruff check", ".venv/bin/lint-imports", ".venv/bin/python -m mypy"} <= set(commands)
    assert set(commands) <= entries, set(commands) - entries
    # AND the ruff hook's command passes on a file of the repository, as make lint's does
    entry = hooks["ruff"]["entry"].split()
    done = subprocess.run([str(ROOT / entry[0]), *entry[1:], "pipelines/version.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def make_test_runs_lint(makefile: str) -> bool:
    """`make test` depends on `make lint`."""
    target = re.search(r"^test:(.*)$", makefile, re.M)
    return bool(target) and "lint" in target.group(1).split()


def test_license_and_changelog_are_there() -> None:
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License\n\nCopyright (c) 2026 the project's authors\n")
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "keepachangelog.com" in changelog and "## [Unreleased]" in changelog
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for command in ("make setup", "make run", "make test", "python -m pipelines.api.openapi",
                    "python -m pipelines.authoring.schema", "pre-commit install", "PYTEST_ARGS"):
        assert command in contributing, command
