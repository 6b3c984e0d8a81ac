"""The command-line skeleton (`python -m pipelines`), which the token command is the first user of."""

from __future__ import annotations

import argparse
import importlib
import sys
import types

import pytest

from pipelines import cli
from pipelines.errors import ConfigurationError
from tests.unit.auth_support import fresh_auth_fixture  # noqa: F401 - fixtures


def test_every_listed_command_module_registers_itself() -> None:
    # GIVEN / WHEN / THEN
    for name in cli.COMMANDS:
        assert callable(importlib.import_module(name).register), name


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN / WHEN
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])

    # THEN
    assert exited.value.code == 0
    assert "token" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["no-such-command"]])
def test_missing_or_unknown_command_is_a_usage_error(argv: list[str]) -> None:
    # GIVEN / WHEN / THEN
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2


def test_a_new_command_is_one_line_and_its_errors_go_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a command module, added to COMMANDS (the one-line change)
    module = types.ModuleType("fake_publish_command")

    def run(args: argparse.Namespace) -> int:
        if args.fail:
            raise ConfigurationError("no storage configured")
        print(f"published {args.name}")
        return 0

    def register(subparsers: cli.Subparsers) -> None:
        parser = subparsers.add_parser("fake-publish", help="publish a pipeline")
        parser.add_argument("name")
        parser.add_argument("--fail", action="store_true")
        parser.set_defaults(handler=run)

    module.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, module.__name__))

    # WHEN it runs, then fails
    assert cli.main(["fake-publish", "demo"]) == 0
    ok = capsys.readouterr()
    assert cli.main(["fake-publish", "demo", "--fail"]) == 1
    failed = capsys.readouterr()

    # THEN output goes to stdout, errors to stderr only
    assert ok.out == "published demo\n"
    assert failed.out == "" and failed.err == "error: no storage configured\n"
