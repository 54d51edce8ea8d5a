"""Scenario 2: the Kafka broker stopped for a while and restarted; PostgreSQL stopped, restarted, crashed.

Each runs on its own broker or cluster, so the session's broker and cluster stay up for every other test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from shared.local_kafka import LocalKafka
from shared.local_postgres import LocalPostgres
from tests.reliability.conftest import ScenarioReport
from tests.reliability.harness import reliability_stack, supervised
from tests.reliability.invariants import check
from tests.reliability.load import Load
from tests.reliability.steps import probe

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.kafka]
RATE = 6.0
KAFKA_DOWN_SECONDS = 10.0
POSTGRES_DOWN_SECONDS = 10.0


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A broker of this test alone; a short broker session lets it restart at once after being stopped."""
    broker = LocalKafka(tmp_path / "kafka", extra_properties={"broker.session.timeout.ms": "3000"}, startup_timeout=180)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def own_postgres() -> Iterator[tuple[LocalPostgres, str]]:
    """A cluster of this test alone, every commit durable: a crash must not take acknowledged commits along."""
    with LocalPostgres() as server:
        dsn = server.create_database("reliability")
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("ALTER DATABASE reliability SET synchronous_commit = on")
        yield server, dsn


def test_kafka_broker_stopped_and_restarted_loses_nothing(
    own_broker: LocalKafka, tmp_path: Path, scenario_report: ScenarioReport,
) -> None:
    recovery: dict[str, float] = {}
    with reliability_stack(tmp_path, own_broker.bootstrap, "sqlite") as stack, supervised(stack) as restarts:
        stack.install_drivers()
        load = Load(stack, rate=RATE).start()
        try:
            time.sleep(5)
            stack.note("kafka stop")
            own_broker.stop()
            time.sleep(KAFKA_DOWN_SECONDS)
            stack.note("kafka start")
            begun = time.monotonic()
            own_broker.start()
            recovery["broker_start"] = round(time.monotonic() - begun, 2)
            recovery["after_broker_start"] = probe(stack, load, timeout=120)
            time.sleep(3)
        finally:
            log = load.stop()
            load.collect_results()
            load.close()
        verdict = check(stack, log, tmp_path / "check")
    verdict.figures["process_restarts_by_supervisor"] = dict(restarts)
    scenario_report.record(
        "2a-kafka-outage", title="Kafka broker stopped and restarted",
        injected=f"broker stopped (SIGTERM) for {KAFKA_DOWN_SECONDS:g} s, then started again on the same data",
        load=f"{RATE:g} commands/s, 3 tenants, 40% bus / 60% HTTP, SQLite store",
        verdict=verdict, recovery=recovery)
    assert verdict.held, verdict.explain()


@pytest.mark.postgres
def test_postgres_stopped_and_crashed_loses_nothing(
    kafka_broker: LocalKafka, own_postgres: tuple[LocalPostgres, str], tmp_path: Path,
    scenario_report: ScenarioReport,
) -> None:
    server, dsn = own_postgres
    recovery: dict[str, float] = {}
    with reliability_stack(tmp_path, kafka_broker.bootstrap, "postgres", dsn) as stack, supervised(stack) as restarts:
        stack.install_drivers()
        load = Load(stack, rate=RATE).start()
        try:
            time.sleep(5)
            stack.note("postgres stop")
            server.stop()
            time.sleep(POSTGRES_DOWN_SECONDS)
            stack.note("postgres start")
            server.start()
            recovery["after_stop"] = probe(stack, load, timeout=120)
            time.sleep(3)
            stack.note("postgres kill -9")
            server.kill()
            server.start()
            recovery["after_crash"] = probe(stack, load, timeout=120)
            time.sleep(3)
        finally:
            log = load.stop()
            load.collect_results()
            load.close()
        verdict = check(stack, log, tmp_path / "check")
    verdict.figures["process_restarts_by_supervisor"] = dict(restarts)
    scenario_report.record(
        "2b-postgres-outage", title="PostgreSQL stopped, restarted, crashed",
        injected=f"cluster stopped (fast shutdown) for {POSTGRES_DOWN_SECONDS:g} s and started; later SIGKILL of "
                 "every server process and an immediate restart (crash recovery); synchronous_commit=on",
        load=f"{RATE:g} commands/s, 3 tenants, 40% bus / 60% HTTP, PostgreSQL store",
        verdict=verdict, recovery=recovery)
    assert verdict.held, verdict.explain()
