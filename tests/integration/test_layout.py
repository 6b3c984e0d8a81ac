"""The tests' layout holds: tests/unit runs with nothing but Python (no Azurite, no Node)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_the_unit_tests_pass_without_node_or_azurite(tmp_path: Path) -> None:
    # GIVEN a PATH that holds git alone: no node, no npm, no azurite
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = shutil.which("git")
    assert git, "git is needed by the repository's own checks"
    (bin_dir / "git").symlink_to(git)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINES_", "AzureWebJobs", "PYTEST_"))}
    env["PATH"] = str(bin_dir)
    # WHEN the unit tests run there
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "tests/unit"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    # THEN every one passes, and none needed a fixture of the integration tests
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "error" not in result.stdout.splitlines()[-1]
