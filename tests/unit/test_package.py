"""The Function app package: what `.funcignore` lets through is what runs in Azure, and
nothing else. The files are listed as the deployment tools read `.funcignore`
(gitignore syntax), copied into an empty folder, and the app is imported from
there alone: every function must load without the left-out development tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pathspec

from tests.service import ROOT


def shipped_files() -> list[str]:
    spec = pathspec.PathSpec.from_lines("gitignore", (ROOT / ".funcignore").read_text().splitlines())
    names: set[str] = set()
    for command in (["git", "ls-files", "-z"], ["git", "ls-files", "-z", "--others", "--exclude-standard"]):
        listed = subprocess.run(command, cwd=ROOT, capture_output=True, check=True).stdout.decode()
        names.update(name for name in listed.split("\0") if name and (ROOT / name).is_file())
    return sorted(name for name in names if not spec.match_file(name))


def test_the_package_holds_what_runs_in_azure_and_nothing_else() -> None:
    files = shipped_files()
    for needed in ("function_app.py", "host.json", "requirements.txt", "pipelines/api/routes.py",
                   "pipelines/worker/handler.py", "pipelines/runtime/launch.py",
                   "pipelines/authoring/definition.schema.json"):
        assert needed in files, needed
    left_out = ("tests/", "bench/", "examples/", "docs/", "infra/", "clients/", "scripts/", "studio/",
                "node_modules/", "pipelines/devhost/", "pipelines/cli/", "pipelines/client/", ".env",
                "local.settings", ".ci/", ".git")
    for name in files:
        assert not name.startswith(left_out), name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name


def test_the_app_loads_from_the_package_alone(tmp_path: Path) -> None:
    # GIVEN only the packaged files, in a folder of their own
    for name in shipped_files():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    # WHEN the app is imported from there (settings as in Azure, minus storage: not needed to index)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AzureWebJobsStorage", "PIPELINES_", "PYTHON"))}
    env.update({"PYTHONPATH": str(tmp_path), "PIPELINES_STEPS_QUEUE": "pipeline-steps",
                "AzureWebJobsStorage": "UseDevelopmentStorage=true", "PIPELINES_DEV_ISSUER": "true"})
    # (the functions import their handlers on their first call: those are imported here too)
    probe = "import function_app, sys; print(len(function_app.app.get_functions()));" \
            "import importlib; from pipelines.api.routes import HANDLER_MODULES;" \
            "[importlib.import_module(m) for m in sorted({*HANDLER_MODULES.values(), 'pipelines.worker.handler'," \
            " 'pipelines.schedules.service', 'pipelines.triggers.service', 'pipelines.triggers.model'})];" \
            "print([m for m in sys.modules" \
            " if m.startswith(('pipelines.devhost', 'pipelines.cli', 'pipelines.client'))])"
    # (the development install's finder, which would lend the repository's own modules, is taken away)
    result = subprocess.run([sys.executable, "-I", "-c", probe.replace("import function_app", (
        "import sys; sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith('__editable_')];"
        f" sys.path.insert(0, {str(tmp_path)!r}); import function_app"))],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    # THEN every function loads, and nothing left out was needed
    assert result.returncode == 0, result.stderr
    count, imported = result.stdout.strip().splitlines()[-2:]
    assert int(count) > 20 and imported == "[]", result.stdout
