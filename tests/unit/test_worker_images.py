"""The standalone worker's images (docker/*.Dockerfile): no image builder runs in the tests, so
their instructions are read and checked for what a deployment relies on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

IMAGES = {"worker.Dockerfile": "python:3.11-slim", "worker-gpu.Dockerfile": "nvidia/cuda:"}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")))
    pairs = []
    for line in text.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_the_image_runs_the_standalone_worker_as_a_user_with_a_health_check(name: str) -> None:
    steps = instructions(ROOT / "docker" / name)
    kinds = [kind for kind, _ in steps]
    (base,) = [rest for kind, rest in steps if kind == "FROM"]
    assert base.startswith(IMAGES[name])
    if "cuda" in base:
        assert "-runtime-" in base and any("python3.11" in rest for kind, rest in steps if kind == "RUN")
    # the app's requirements and the target's extra ones (a build argument) are installed
    assert "EXTRA_REQUIREMENTS=" in dict(steps)["ARG"]
    copies = [rest.split()[0] for kind, rest in steps if kind == "COPY"]
    assert {"requirements.txt", "${EXTRA_REQUIREMENTS}", "host.json", "pipelines"} <= set(copies)
    for copied in ("requirements.txt", "host.json", "pipelines", "docker/no-extra-requirements.txt"):
        assert (ROOT / copied).exists(), copied
    # the last USER is not root, and it comes before the entry point
    users = [rest for kind, rest in steps if kind == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert kinds.index("ENTRYPOINT") > max(i for i, kind in enumerate(kinds) if kind == "USER")
    entry = json.loads(dict(steps)["ENTRYPOINT"])
    assert entry[:3] == ["python", "-m", "pipelines.worker.standalone"]
    port = entry[entry.index("--health-port") + 1]
    assert entry[entry.index("--health-host") + 1] == "0.0.0.0"
    assert dict(steps)["EXPOSE"] == port
    healthcheck = dict(steps)["HEALTHCHECK"]
    assert f"127.0.0.1:{port}/healthz" in healthcheck and "CMD" in healthcheck


def test_the_entry_point_parses_the_image_s_arguments() -> None:
    import argparse

    from pipelines.worker.standalone import add_arguments

    entry = json.loads(dict(instructions(ROOT / "docker" / "worker.Dockerfile"))["ENTRYPOINT"])
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([*entry[3:], "--target", "gpu"])
    assert (args.health_host, args.health_port, args.target) == ("0.0.0.0", 8080, "gpu")


def test_the_build_context_leaves_local_secrets_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for secret in (".devkeys", ".env", "local.settings.json", ".azure", ".git"):
        assert secret in ignored, secret


def test_a_target_s_queue_is_named_after_the_steps_queue() -> None:
    from pipelines.worker.standalone import target_queue_name

    assert target_queue_name("pipeline-steps", "GPU") == "pipeline-steps-gpu"
    assert target_queue_name("pipeline-steps", "app") == "pipeline-steps"
