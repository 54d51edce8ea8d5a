"""Scenario 3: messages delivered twice or more, reports out of order, late reports for cancelled jobs.

Kafka delivers at least once, and a worker that dies may report again: the service must apply each command
once and ignore reports that are repeated, stale or about jobs that no longer run. Here the scenario plays the
misbehaving peer itself: it re-sends commands with the same id (bus and HTTP, concurrently), echoes every
worker report twice (once at once, once late, so old reports arrive after newer ones), and plays the worker of
a driver no worker runs for (Magento 2), reporting out of order and after cancellation.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import commands as cmd
from contracts import topics
from contracts.datamodel import Attribute, AttributeSet, AttributeType, DataModel
from contracts.registry import encode
from contracts.reports import JobFailed, JobProgressed, JobReport, JobStarted, JobSucceeded
from shared.local_kafka import LocalKafka
from tests.reliability.conftest import ScenarioReport
from tests.reliability.harness import TENANTS, ReliabilityStack, measure, reliability_stack
from tests.reliability.invariants import Stored, check, open_jobs, read_store
from tests.reliability.load import Load
from tests.reliability.steps import established_shop, hold_a_sync

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.kafka]
RATE = 6.0
TENANT = TENANTS[1]


class ReportEcho:
    """Re-publishes every report the workers send, twice: at once, and again ``late`` seconds later."""

    def __init__(self, stack: ReliabilityStack, late: float = 2.0) -> None:
        self.stack = stack
        self.late = late
        self.echoed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="report-echo", daemon=True)

    def __enter__(self) -> ReportEcho:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    async def _run(self) -> None:
        topic = self.stack.topic(topics.REPORTS)
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=self.stack.bootstrap, auto_offset_reset="latest",
                                    enable_auto_commit=False, group_id=None)
        producer = AIOKafkaProducer(bootstrap_servers=self.stack.bootstrap)
        await consumer.start()
        await producer.start()
        later: list[tuple[float, Any]] = []
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=200)
                now = time.monotonic()
                for records in batch.values():
                    for record in records:
                        if dict(record.headers).get("echo"):
                            continue  # our own copy: echo the workers' reports only
                        await self._send(producer, topic, record)
                        later.append((now + self.late, record))
                due = [r for at, r in later if at <= now]
                later = [(at, r) for at, r in later if at > now]
                for record in due:
                    await self._send(producer, topic, record)
        finally:
            await producer.stop()
            await consumer.stop()

    async def _send(self, producer: AIOKafkaProducer, topic: str, record: Any) -> None:
        headers = [*(record.headers or ()), ("echo", b"1")]
        await producer.send_and_wait(topic, record.value, key=record.key, headers=headers)
        self.echoed += 1


class FakeWorker:
    """Plays the worker of a driver nobody runs a worker for: reports exactly what the scenario says."""

    def __init__(self, stack: ReliabilityStack, tenant: str) -> None:
        self.stack = stack
        self.tenant = tenant

    def report(self, *reports: JobReport) -> None:
        """Publish the reports in this order (one key: they are consumed in this order)."""
        async def send() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.stack.bootstrap)
            await producer.start()
            try:
                for report in reports:
                    envelope = encode({"tenant_id": self.tenant, "actor": "driver:magento2"}, report)
                    await producer.send_and_wait(self.stack.topic(topics.REPORTS),
                                                 envelope.model_dump_json().encode(),
                                                 key=str(report.connection_id).encode(),
                                                 headers=[("message_id", str(envelope.message_id).encode())])
            finally:
                await producer.stop()

        asyncio.run(send())


def _of(events: list[Stored], connection_id: str) -> list[Stored]:
    return [e for e in events if e.originator_id == connection_id]


def _open_job(stack: ReliabilityStack, connection_id: str, kind: str) -> str:
    def found() -> str | None:
        return next((job for job, (conn, k) in open_jobs(read_store(stack)).items()
                     if conn == connection_id and k.endswith(kind)), None)

    job, _ = measure(found, 30, f"a {kind} job of {connection_id}", stack)
    return str(job)


def _ended_as(stack: ReliabilityStack, connection_id: str) -> dict[str, list[str]]:
    """Every job of the connection with the states it ended in (more than one would be a double end)."""
    ends: dict[str, list[str]] = {}
    for e in _of(read_store(stack), connection_id):
        if e.topic == "Connection.JobEnded.v1":
            ends.setdefault(e.event.job_id, []).append(str(e.event.state))
    return ends


MODEL = DataModel(attributes=(Attribute(code="color", labels={"en": "Color"}, type=AttributeType.TEXT),),
                  attribute_sets=(AttributeSet(code="all", labels={"en": "All"}, attribute_codes=("color",)),))


def test_repeated_reordered_and_late_messages_change_nothing_twice(
    kafka_broker: LocalKafka, tmp_path: Path, scenario_report: ScenarioReport,
) -> None:
    extra: dict[str, Any] = {}
    with reliability_stack(tmp_path, kafka_broker.bootstrap, "sqlite") as stack:
        stack.install_drivers()
        stack.install_drivers(("magento2",), (TENANT,))
        load = Load(stack, rate=RATE).start()
        try:
            with ReportEcho(stack) as echo:
                # Commands sent again with the same id: three times on the bus, three times at once over HTTP.
                repeats = 0
                with ThreadPoolExecutor(6) as pool:
                    for _ in range(6):
                        connection_id = uuid.uuid4()
                        twice: list[tuple[str, cmd.Message]] = [
                            ("bus", cmd.CreateConnection(connection_id=connection_id, name="twice", driver="pos")),
                            ("http", cmd.DisableConnections(connection_ids=[connection_id]))]
                        for channel, command in twice:
                            command_id = str(uuid.uuid4())
                            list(pool.map(lambda _: load.call(TENANT, command, channel, command_id), range(3)))
                            repeats += 3
                load.adopt(TENANT, str(connection_id), "pos")

                # A sync in flight is cancelled (disabled); the worker's report of the cancelled job comes late.
                shop = established_shop(stack, load, TENANT)
                hold_a_sync(stack, load, shop, hang_seconds=8, tenant=TENANT)
                assert load.call(TENANT, cmd.DisableConnections(connection_ids=[uuid.UUID(shop)])).accepted

                # Reports out of order, repeated, and late, from a worker the scenario plays itself.
                worker = FakeWorker(stack, TENANT)
                credentials = {"base_url": stack.shop_url, "username": "admin", "password": stack.marker}
                created = load.call(TENANT, cmd.CreateConnection(name="magento", driver="magento2",
                                                                 credentials=credentials))
                assert created.accepted and created.result is not None, created
                magento = str(created.result["items"][0]["connection_id"])
                check_job = uuid.UUID(created.result["items"][0]["job_id"])
                ids: dict[str, Any] = {"connection_id": uuid.UUID(magento)}
                worker.report(JobSucceeded(job_id=check_job, **ids), JobStarted(job_id=check_job, **ids),
                              JobProgressed(job_id=check_job, done=1, **ids), JobSucceeded(job_id=check_job, **ids))
                sync_job = uuid.UUID(_open_job(stack, magento, "sync"))
                worker.report(JobProgressed(job_id=sync_job, done=5, total=10, **ids),
                              JobStarted(job_id=sync_job, **ids),
                              JobSucceeded(job_id=sync_job, data_model=MODEL, **ids),
                              JobFailed(job_id=sync_job, error_type="late", retryable=False, message="too late",
                                        **ids),
                              JobStarted(job_id=sync_job, **ids))
                # A second Magento connection: its check is cancelled by a disable, then reported on anyway.
                second = load.call(TENANT, cmd.CreateConnection(name="magento 2", driver="magento2",
                                                                credentials=credentials))
                assert second.result is not None and second.accepted, second
                cancelled_of = str(second.result["items"][0]["connection_id"])
                cancelled_job = str(second.result["items"][0]["job_id"])
                assert load.call(TENANT, cmd.DisableConnections(connection_ids=[uuid.UUID(cancelled_of)])).accepted
                before = len(_of(read_store(stack), cancelled_of))
                late: dict[str, Any] = {"connection_id": uuid.UUID(cancelled_of), "job_id": uuid.UUID(cancelled_job)}
                worker.report(JobStarted(**late), JobProgressed(done=3, **late), JobSucceeded(**late))
                measure(lambda: _ended_as(stack, magento).get(str(sync_job)), 30, "the Magento sync ended", stack)
                time.sleep(3)  # the late reports were sent before the ones awaited above, on the same consumer
                after = len(_of(read_store(stack), cancelled_of))
                time.sleep(3)
        finally:
            log = load.stop()
            load.collect_results()
            load.close()
        verdict = check(stack, log, tmp_path / "check")
        ends = _ended_as(stack, magento)
    expected = {str(check_job): ["succeeded"], str(sync_job): ["succeeded"]}
    extra = {"command_repeats_sent": repeats, "reports_echoed": echo.echoed,
             "out_of_order_job_ends": {k: ends.get(k) for k in expected},
             "events_from_late_reports_of_cancelled_job": after - before}
    verdict.figures.update(extra)
    scenario_report.record(
        "3-duplicates-reordering", title="duplicate delivery, reordered and late reports",
        injected="6 commands x 3 copies on the bus and 6 x 3 concurrent HTTP copies (same id); every worker report "
                 "echoed twice (at once and 2 s late); a fake Magento 2 worker reporting succeeded-before-started, "
                 "repeated and contradictory ends; reports for a cancelled job; a Shopware sync cancelled in flight",
        load=f"{RATE:g} commands/s, 3 tenants, 40% bus / 60% HTTP, SQLite store", verdict=verdict)
    assert verdict.held, verdict.explain()
    assert {k: ends.get(k) for k in expected} == expected, "a job ended twice, or not as its first final report said"
    assert after == before, "late reports of a cancelled job changed the connection"
