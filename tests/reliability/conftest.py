"""Fixtures of the fault and soak suite: the scenario report every test adds its measured figures to."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.invariants import Verdict

REPORT = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability.json"


class ScenarioReport:
    """Scenario rows for ``test-artifacts/reliability.json``; rows of scenarios not run this time are kept."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = time.monotonic()
        previous: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        self.scenarios: dict[str, Any] = previous.get("scenarios", {})
        self.run: dict[str, Any] = {}

    def record(self, scenario: str, *, title: str, injected: str, load: str, verdict: Verdict,
               recovery: dict[str, float] | None = None, extra: dict[str, Any] | None = None) -> None:
        """One scenario's row: what was done to the stack, the load it held, what was measured."""
        self.scenarios[scenario] = {
            "title": title, "injected": injected, "load": load, "recovery_seconds": recovery or {},
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **verdict.as_dict(),
            **({"extra": extra} if extra else {}),
        }
        self.write()

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.run["suite_seconds"] = round(time.monotonic() - self.started, 1)
        self.path.write_text(json.dumps({"run": self.run, "scenarios": self.scenarios}, indent=2, default=str))


@pytest.fixture(scope="session")
def scenario_report() -> Iterator[ScenarioReport]:
    # Written after each scenario (not at session end, when unrelated tests may have run since).
    yield ScenarioReport(REPORT)
