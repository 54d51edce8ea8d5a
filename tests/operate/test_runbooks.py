"""docs/operations.md names only commands that exist: each ``connections ...`` line's subcommand and options."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = (ROOT / "docs" / "operations.md").read_text()
COMMANDS = sorted(set(re.findall(r"`(connections [a-z][^`]*)`", RUNBOOK)))


def help_of(words: list[str]) -> str:
    done = subprocess.run([sys.executable, "-m", "services.cli", *words, "--help"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_runbooks_name_commands() -> None:
    assert {"connections migrate", "connections keys rotate", "connections audit republish"} <= {
        " ".join(c.split()[:3]) if c.split()[1] in ("keys", "audit") else " ".join(c.split()[:2]) for c in COMMANDS}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_in_the_runbooks_exists_with_its_options(command: str) -> None:
    words = command.split()[1:]
    path = [w for w in words if not w.startswith("-")][:2]
    if path[0] not in ("audit", "keys"):
        path = path[:1]
    text = help_of(path)
    for option in (w.split("=")[0] for w in words if w.startswith("--")):
        assert option in text, f"{command}: {option} is not an option of connections {' '.join(path)}"
