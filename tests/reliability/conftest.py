"""Fixtures of the fault and soak suite: the scenario report every test adds its measured figures to."""

from __future__ import annotations

import json
import os
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
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            # Recovery times depend on what else the machine runs: its load is part of the figures.
            "machine_load_average": round(os.getloadavg()[0], 1), **verdict.as_dict(),
            **({"extra": extra} if extra else {}),
        }
        self.run.setdefault("scenarios", []).append(scenario)
        self.write()

    def write(self) -> None:
        """``run`` says which scenarios this session ran and how long it took from the first to the last."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.run["suite_seconds"] = round(time.monotonic() - self.started, 1)
        self.run["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.path.write_text(json.dumps({"run": self.run, "scenarios": self.scenarios}, indent=2, default=str))


@pytest.fixture(scope="session")
def scenario_report() -> Iterator[ScenarioReport]:
    # Written after each scenario (not at session end, when unrelated tests may have run since).
    yield ScenarioReport(REPORT)
