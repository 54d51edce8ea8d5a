"""Scenario 6: a bounded soak at a fixed rate on PostgreSQL: throughput, errors, memory of every process.

Memory is read after a warm-up (imports done, pools filled, first aggregates cached) and at the end of the run;
a process may grow by at most ``RSS_GROWTH_BOUND_MIB``. The bound is generous on purpose: it is there to catch a
leak that grows with the number of messages handled (a few MiB per thousand commands would pass unnoticed by
hand), not the aggregate cache filling up (bounded by ``OMNI_AGGREGATE_CACHE_SIZE``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shared.local_kafka import LocalKafka
from tests.reliability.conftest import ScenarioReport
from tests.reliability.harness import reliability_stack
from tests.reliability.invariants import check
from tests.reliability.load import Load

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]
RATE = 10.0
SOAK_SECONDS = 100.0
WARM_UP_SECONDS = 10.0
RSS_GROWTH_BOUND_MIB = 32.0


def _error_lines(log: bytes) -> int:
    """Log lines at level error (or worse) across every process."""
    count = 0
    for line in log.splitlines():
        if line.startswith(b"{"):
            try:
                level = json.loads(line).get("level")
            except ValueError:
                continue
            count += level in ("error", "critical", "exception")
        elif b"Traceback" in line:
            count += 1
    return count


def test_a_soak_at_a_fixed_rate_holds_every_invariant_and_memory_stays_bounded(
    kafka_broker: LocalKafka, postgres_dsn: str, tmp_path: Path, scenario_report: ScenarioReport,
) -> None:
    with reliability_stack(tmp_path, kafka_broker.bootstrap, "postgres", postgres_dsn) as stack:
        stack.install_drivers()
        load = Load(stack, rate=RATE).start()
        try:
            time.sleep(WARM_UP_SECONDS)
            rss_start = stack.rss_mib()
            time.sleep(SOAK_SECONDS - WARM_UP_SECONDS)
            rss_end = stack.rss_mib()
        finally:
            log = load.stop()
            load.collect_results()
            load.close()
        verdict = check(stack, log, tmp_path / "check")
        errors_logged = _error_lines(stack.log_text())
    growth = {name: round(rss_end[name] - rss_start[name], 1) for name in rss_start if name in rss_end}
    accepted = verdict.figures["commands_accepted"]
    verdict.figures.update({
        "rss_start_mib": rss_start, "rss_end_mib": rss_end, "rss_growth_mib": growth,
        "rss_growth_bound_mib": RSS_GROWTH_BOUND_MIB, "error_log_lines": errors_logged,
        "accepted_per_second": round(accepted / log.figures()["load_seconds"], 2),
        "events_per_second": round(verdict.figures["events_stored"] / log.figures()["load_seconds"], 2),
    })
    scenario_report.record(
        "6-soak", title=f"soak, {SOAK_SECONDS:g} s at a fixed rate",
        injected="nothing: steady load only", load=f"{RATE:g} commands/s for {SOAK_SECONDS:g} s, 3 tenants, "
                                                  "40% bus / 60% HTTP, PostgreSQL store", verdict=verdict)
    assert verdict.held, verdict.explain()
    assert all(g <= RSS_GROWTH_BOUND_MIB for g in growth.values()), f"memory grew beyond the bound: {growth}"
    assert set(rss_end) == set(rss_start), "a process was gone at the end of the soak"
