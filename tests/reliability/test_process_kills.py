"""Scenario 1: ``kill -9`` of each process in turn, mid-flow, under a steady mixed load (PostgreSQL store)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.local_kafka import LocalKafka
from tests.reliability.conftest import ScenarioReport
from tests.reliability.harness import measure, reliability_stack
from tests.reliability.invariants import check
from tests.reliability.load import Load
from tests.reliability.steps import (ended, established_shop, hold_a_sync, jobs_of_driver, kill_while_catching_up,
                                     probe)

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]
RATE = 8.0


def test_kill_9_of_each_process_mid_flow_loses_nothing_and_duplicates_nothing(
    kafka_broker: LocalKafka, postgres_dsn: str, tmp_path: Path, scenario_report: ScenarioReport,
) -> None:
    recovery: dict[str, float] = {}
    with reliability_stack(tmp_path, kafka_broker.bootstrap, "postgres", postgres_dsn) as stack:
        stack.install_drivers()
        load = Load(stack, rate=RATE).start()
        try:
            shop = established_shop(stack, load)
            time.sleep(3)
            stack.kill("service")
            time.sleep(1.0)  # down for a moment while the load goes on
            stack.start("service")
            recovery["service"] = probe(stack, load)
            # The followers die twice: once idle, once in the middle of working off the backlog of the first.
            for name, following in (("relay", "relay_started"), ("projections", "projections_following")):
                kill_while_catching_up(stack, name, following)
                recovery[name] = probe(stack, load)
            # The worker dies inside a sync (the shop holds the call): the job must be taken up again.
            hold_a_sync(stack, load, shop)
            in_flight = set(jobs_of_driver(stack, "shopware6"))
            stack.kill("worker-shopware6")
            stack.start("worker-shopware6")
            _, recovery["worker-shopware6"] = measure(lambda: ended(stack, in_flight), 90,
                                                     "the syncs in flight ended after the restart", stack)
            time.sleep(2)
        finally:
            log = load.stop()
            load.collect_results()
            load.close()
        verdict = check(stack, log, tmp_path / "check")
    scenario_report.record(
        "1-kill-9", title="kill -9 of each process mid-flow",
        injected="SIGKILL of the service (down 1 s); of the relay and the projection runner twice each (down 4 s, "
                 "then again 0.3 s into working off the backlog); of the Shopware 6 worker while the shop held a sync "
                 "in flight",
        load=f"{RATE:g} commands/s, 3 tenants, 40% bus / 60% HTTP, PostgreSQL store",
        verdict=verdict, recovery=recovery)
    assert verdict.held, verdict.explain()
