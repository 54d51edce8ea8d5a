"""Every ``connections audit`` command explains itself: --help with an example and the exit codes."""

from __future__ import annotations

import argparse

import pytest

from services.audit.entrypoints.cli import register

COMMANDS = ("history", "state", "diff", "rebuild", "verify", "chain", "export", "verify-export", "keygen",
            "republish")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="connections")
    register(parser.add_subparsers(dest="process", required=True))
    return parser


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help_with_an_example_and_the_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(["audit", command, "--help"])

    text = capsys.readouterr().out
    assert exited.value.code == 0
    assert f"example:\n  connections audit {command}" in text
    assert "exit codes:" in text and "2  usage error" in text


@pytest.mark.parametrize("arguments", [
    ["audit", "state", "not-a-uuid"],
    ["audit", "history"],
    ["audit", "history", "--connection", "00000000-0000-4000-8000-000000000000", "--tenant", "acme"],
    ["audit", "verify", "--anchor", "12:nothex"],
    ["audit", "republish", "--from", "0"],
])
def test_bad_arguments_are_a_usage_error(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(arguments)

    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err
