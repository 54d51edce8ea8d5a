"""docs/benchmarks.md and docs/benchmarks.json from the run's measurements."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.stats import Goal, Measurement, Spread

REFERENCE_LIBRARY_RATE = 3_100  # the library's speedrun on a quiet 2-core machine (issue 10)


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def _verdict(m: Measurement) -> str:
    if m.error is not None:
        return "**failed**"
    if m.met is None:
        return "reported"
    return "met" if m.met else "**missed**"


def write(measurements: list[Measurement], machine: dict[str, Any], docs: Path) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "benchmarks.json").write_text(json.dumps(
        {"machine": machine, "benchmarks": [m.as_dict() for m in measurements]}, indent=2, default=str) + "\n")
    (docs / "benchmarks.md").write_text(markdown(measurements, machine))


def markdown(measurements: list[Measurement], machine: dict[str, Any]) -> str:
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench.run`); do not edit by hand. Every figure is the median of "
        "the repeats, with the min-max spread beside it; each baseline ran in the same invocation, interleaved "
        "with the measurement it anchors, because the machine is shared and absolute times drift. "
        "Machine-readable: [benchmarks.json](benchmarks.json).",
        "",
        f"Machine: **{machine['cores']} cores**, {machine['memory_gb']} GB, {machine['python']}, "
        f"{machine['platform']}. Load average at start {machine['load_start']}, at end {machine.get('load_end')} "
        "(other work on the machine shares these cores). "
        f"Run: {machine['started']}, {machine.get('seconds', 0):.0f} s for the whole `make bench`"
        f"{' (quick mode)' if machine.get('quick') else ''}.",
        "",
        *_capacity(measurements),
        "## Summary",
        "",
        "| benchmark | median | min-max | p50 / p99 | baseline (same run) | ratio | goal | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in measurements:
        spread = f"{_fmt(m.value.low)} - {_fmt(m.value.high)}" if m.value.runs else "-"
        pcts = f"{_fmt(m.p50.median)} / {_fmt(m.p99.median)} ms" if m.p50 and m.p99 else "-"
        base = (f"{m.baseline_name}: {_fmt(m.baseline.median, m.baseline_unit or '')} "
                f"({_fmt(m.baseline.low)} - {_fmt(m.baseline.high)})" if m.baseline and m.baseline.runs else "none")
        ratio = f"{m.ratio:.2f}x" if m.ratio is not None else "-"
        goals = "; ".join(g.text for g in m.goals) or "report"
        out.append(f"| {m.title} | {_fmt(m.value.median, m.unit)} | {spread} | {pcts} | {base} | {ratio} | "
                   f"{goals} | {_verdict(m)} |")
    out += ["", "## Details", ""]
    for m in measurements:
        out += [f"### {m.title}", ""]
        if m.error:
            out += ["**Failed:**", "", "```", m.error[-1500:], "```", ""]
        if m.value.runs:
            out.append(f"- {m.unit}: runs {', '.join(_fmt(v) for v in m.value.runs)}; median {_fmt(m.value.median)}")
        if m.p50 and m.p99:
            out.append(f"- p50 runs {', '.join(_fmt(v) for v in m.p50.runs)} ms; "
                       f"p99 runs {', '.join(_fmt(v) for v in m.p99.runs)} ms")
        if m.baseline and m.baseline.runs:
            out.append(f"- baseline ({m.baseline_name}): runs {', '.join(_fmt(v) for v in m.baseline.runs)} "
                       f"{m.baseline_unit or ''}; ratio {m.ratio:.3f}" if m.ratio is not None else "")
        for goal in m.goals:
            out.append(f"- goal {goal.text}: {_fmt(goal.value)} -> {'met' if goal.met else '**missed**'}")
        for key, value in m.details.items():
            if key != "stages":
                out.append(f"- {key}: {_short(value)}")
        if "stages" in m.details:
            out += ["", "| connections | seed s | views catch-up s | vacuum s | commands/s (runs) | ms/command | "
                        "list p50 ms | list p99 ms |", "|---|---|---|---|---|---|---|---|"]
            for s in m.details["stages"]:
                out.append(f"| {s['size']:,} | {s['seed_seconds']:.1f} | {s['catch_up_seconds']:.1f} | "
                           f"{s.get('vacuum_seconds', 0.0):.1f} | "
                           f"{_fmt(s['write_median'])} ({', '.join(_fmt(v) for v in s['write_rates'])}) | "
                           f"{_fmt(s['write_ms_per_command'])} | {_fmt(s['list_p50_median'])} | "
                           f"{_fmt(s['list_p99_median'])} |")
        out += [f"- {note}" for note in m.notes]
        if m.profile:
            out += ["", "Profile (py-spy, sampled during an extra run of the same load):", "", "```",
                    *m.profile, "```"]
        out.append("")
    return "\n".join(out) + "\n"


def _capacity(measurements: list[Measurement]) -> list[str]:
    """How much of a quiet machine this run had, read from the library's own rate measured beside us."""
    anchors = [m.baseline.median for m in measurements
               if m.key == "write_kafka_postgres" and m.baseline is not None and m.baseline.runs]
    if not anchors:
        return []
    return [f"The library's one-command-per-transaction rate on PostgreSQL was {anchors[0]:,.0f}/s in this run, "
            f"against about {REFERENCE_LIBRARY_RATE:,}/s on a quiet 2-core machine (the issue's reference): this "
            f"run had roughly {anchors[0] / REFERENCE_LIBRARY_RATE:.0%} of such a machine. Absolute goals are "
            "judged as measured; the ratios to the same-run baselines are what carries over.", ""]


def load(path: Path) -> tuple[list[Measurement], dict[str, Any]]:
    """The measurements of a written ``benchmarks.json`` (to render the report again without measuring)."""
    data = json.loads(path.read_text())
    found = []
    for item in data["benchmarks"]:
        spreads = {name: Spread(item[name]["runs"]) if item.get(name) else None
                   for name in ("value", "baseline", "p50", "p99")}
        goals = [Goal(g["text"], g["value"], g["limit"], g["at_least"]) for g in item["goals"]]
        found.append(Measurement(item["key"], item["title"], item["unit"], spreads["value"] or Spread([]),
                                 item.get("baseline_name"), item.get("baseline_unit"), spreads["baseline"],
                                 spreads["p50"], spreads["p99"], goals, item.get("details") or {},
                                 item.get("notes") or [], item.get("profile"), item.get("error")))
    return found, data["machine"]


def main() -> None:
    """``python -m bench.report [docs]``: render docs/benchmarks.md again from docs/benchmarks.json."""
    import sys

    docs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs"
    measurements, machine = load(docs / "benchmarks.json")
    (docs / "benchmarks.md").write_text(markdown(measurements, machine))


def _short(value: Any) -> str:
    if isinstance(value, float):
        return _fmt(value)
    if isinstance(value, list):
        return ", ".join(_short(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_short(v)}" for k, v in value.items())
    return str(value)


if __name__ == "__main__":
    main()
