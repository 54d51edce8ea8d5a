"""Percentiles and the per-benchmark record that the report is written from."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 is a value that was really observed)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[rank]


@dataclass
class Spread:
    """One figure over several repeats: the median is the headline, min-max shows how much the machine drifted."""

    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")

    @property
    def low(self) -> float:
        return min(self.runs) if self.runs else float("nan")

    @property
    def high(self) -> float:
        return max(self.runs) if self.runs else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.low, "max": self.high, "runs": self.runs}


@dataclass
class Goal:
    """A goal of the issue's table: ``value`` compared with ``limit`` (``at_least`` or not)."""

    text: str
    value: float
    limit: float
    at_least: bool

    @property
    def met(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value < self.limit


@dataclass
class Measurement:
    """A benchmark's figures: the headline spread, its baseline's spread, percentiles, goals and notes."""

    key: str
    title: str
    unit: str
    value: Spread
    baseline_name: str | None = None
    baseline_unit: str | None = None
    baseline: Spread | None = None
    p50: Spread | None = None
    p99: Spread | None = None
    goals: list[Goal] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    profile: list[str] | None = None
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        """Headline median over the baseline's median (how close to the limit measured beside it)."""
        if self.baseline is None or not self.baseline.runs or not self.value.runs or not self.baseline.median:
            return None
        return self.value.median / self.baseline.median

    @property
    def met(self) -> bool | None:
        if self.error is not None:
            return False
        return all(g.met for g in self.goals) if self.goals else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("value", "baseline", "p50", "p99"):
            spread = getattr(self, name)
            data[name] = spread.as_dict() if spread is not None else None
        data["ratio"] = self.ratio
        data["goals"] = [{**asdict(g), "met": g.met} for g in self.goals]
        data["met"] = self.met
        return data


def failed(key: str, title: str, unit: str, error: str) -> Measurement:
    """A benchmark that could not finish: the report says why instead of leaving a hole."""
    return Measurement(key, title, unit, Spread([]), error=error)
