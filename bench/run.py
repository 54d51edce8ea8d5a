"""``make bench``: every benchmark of issue 10 on the local Kafka broker and a throwaway PostgreSQL.

    python -m bench.run [--quick] [--only NAME ...] [--docs DIR]

Writes ``docs/benchmarks.md`` and ``docs/benchmarks.json``. A benchmark that fails is reported as failed;
the others still run.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import end_to_end, read_side, report, scale, write_side
from bench.harness import Infra
from bench.stats import Measurement, failed
from shared.settings import Store

ROOT = Path(__file__).resolve().parents[1]


def _machine(quick: bool) -> dict[str, Any]:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {"cores": os.cpu_count(), "memory_gb": round(pages / 2**30, 1), "python": platform.python_version(),
            "platform": platform.platform(terse=True), "load_start": _load(), "quick": quick,
            "started": datetime.now(UTC).isoformat(timespec="seconds")}


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def plan(quick: bool, deadline: float) -> list[tuple[str, Callable[[Infra], list[Measurement]]]]:
    """The benchmarks in the order they run, each returning its measurements."""
    wc = write_side.Config.quick() if quick else write_side.Config()
    sc = scale.ScaleConfig.quick() if quick else scale.ScaleConfig()
    lag = read_side.LagConfig(seconds=3.0 if quick else 5.0)
    repeats = wc.repeats
    return [
        ("write_kafka_postgres", lambda infra: [write_side.kafka_postgres(infra, wc)]),
        ("write_http", lambda infra: [write_side.http_single(infra, wc)]),
        ("write_kafka_sqlite", lambda infra: [write_side.kafka_sqlite(infra, wc)]),
        ("relay", lambda infra: [write_side.relay(infra, wc)]),
        ("projection_lag_postgres", lambda infra: [read_side.projection_lag(infra, Store.POSTGRES, repeats, lag)]),
        ("projection_lag_sqlite", lambda infra: [read_side.projection_lag(infra, Store.SQLITE, repeats, lag)]),
        ("sync_round_trip", lambda infra: [end_to_end.sync_round_trip(infra, repeats, 10 if quick else 30)]),
        ("mirror_10k", lambda infra: [end_to_end.mirror_large_model(infra, repeats)]),
        ("scale", lambda infra: scale.run(infra, sc, deadline)),  # scaling, view rebuild, list query, memory
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small loads: checks the harness, not the product")
    parser.add_argument("--only", nargs="*", default=None, help="run only these benchmarks (see the plan)")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the report goes")
    parser.add_argument("--budget", type=float, default=17 * 60,
                        help="seconds the run may take from here (make bench's venv and broker come on top)")
    args = parser.parse_args(argv)
    # SIGTERM (a stopped make) unwinds like Ctrl-C, so the service processes and the cluster are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    machine = _machine(args.quick)
    root = Path(tempfile.mkdtemp(prefix="omni-bench-"))
    infra = Infra(root)
    measurements: list[Measurement] = []
    try:
        infra.start()
        # The scale stages fill what is left of the budget (less a minute for stopping and the report).
        for name, bench in plan(args.quick, started + args.budget - 60):
            if args.only is not None and name not in args.only:
                continue
            began = time.monotonic()
            print(f"[bench] {name} ...", flush=True)
            try:
                found = bench(infra)
            except Exception as exc:  # noqa: BLE001 - reported as failed, the other benchmarks still run
                traceback.print_exc()
                found = [failed(name, name, "", f"{type(exc).__name__}: {exc}")]
            for m in found:
                m.details["wall_seconds"] = round(time.monotonic() - began, 1)
                measurements.append(m)
                verdict = "failed" if m.error else {None: "reported", True: "met", False: "MISSED"}[m.met]
                print(f"[bench] {m.key}: {m.value.median:.2f} {m.unit} (baseline {m.baseline.median if m.baseline and m.baseline.runs else '-'}) "
                      f"{verdict}  [{time.monotonic() - began:.0f} s]", flush=True)
    finally:
        infra.stop()
        shutil.rmtree(root, ignore_errors=True)
        # Also when stopped early: what was measured is reported.
        machine["load_end"] = _load()
        machine["seconds"] = round(time.monotonic() - started, 1)
        report.write(measurements, machine, args.docs)
        print(f"[bench] wrote {args.docs / 'benchmarks.md'} in {machine['seconds']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
