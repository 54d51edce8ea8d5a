"""Scenario 5: poison messages on every topic a process consumes (commands, reports, each driver's jobs).

Each poison must land on the topic's ``.dlq`` with ``dlq_reason_code`` and ``dlq_reason``, and the consumer must
go on: a good message sent right after the poisons on the same key is handled, and the steady load keeps flowing.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.commands import InstallDriver
from contracts.drivers import CATALOG
from contracts.jobs import DriverJob, JobKind
from contracts.registry import encode
from contracts.reports import JobStarted
from shared.local_kafka import LocalKafka
from tests.reliability.conftest import ScenarioReport
from tests.reliability.harness import BUS_ACTOR, TENANTS, ReliabilityStack, measure, reliability_stack
from tests.reliability.invariants import check, read_topics
from tests.reliability.load import Load
from tests.reliability.steps import probe

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.kafka]
RATE = 4.0
TENANT = TENANTS[0]
EXPECTED_CODES = {"not-json": "invalid_json", "no-envelope": "invalid_envelope", "wrong-type": "unknown_type",
                  "bad-payload": "invalid_payload"}


def _poisons(good: Any) -> dict[str, bytes]:
    """Four ways a message can be unreadable, built from a good message of the topic."""
    envelope = good.model_dump(mode="json")
    return {
        "not-json": b"\x00{not json at all",
        "no-envelope": json.dumps({"type": envelope["type"], "payload": envelope["payload"]}).encode(),
        "wrong-type": json.dumps({**envelope, "type": "NoSuchMessage", "message_id": str(uuid.uuid4())}).encode(),
        "bad-payload": json.dumps({**envelope, "payload": {"nonsense": True},
                                   "message_id": str(uuid.uuid4())}).encode(),
    }


def _goods(stack: ReliabilityStack) -> dict[str, tuple[Any, str]]:
    """Per consumed topic, a good message to send after the poisons, and the id to look for afterwards."""
    goods: dict[str, tuple[Any, str]] = {}
    command = encode({"tenant_id": TENANT, "actor": BUS_ACTOR}, InstallDriver(driver="pos"))
    goods[topics.COMMANDS] = (command, str(command.message_id))
    report = encode({"tenant_id": TENANT, "actor": "driver:pos"},
                    JobStarted(job_id=uuid.uuid4(), connection_id=uuid.uuid4(), worker="poison-test"))
    goods[topics.REPORTS] = (report, str(report.message_id))
    for driver in CATALOG:
        job = DriverJob(job_id=uuid.uuid4(), connection_id=uuid.uuid4(), driver=driver,
                        kind=JobKind.CHECK_CREDENTIALS)
        goods[topics.driver_jobs(driver)] = (encode({"tenant_id": TENANT}, job), str(job.job_id))
    return goods


def _send(stack: ReliabilityStack, goods: dict[str, tuple[Any, str]]) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
        await producer.start()
        try:
            for topic, (good, _) in goods.items():
                key = f"poison-{uuid.uuid4().hex[:6]}".encode()  # one key: poisons, then the good one, in order
                for kind, poison in _poisons(good).items():
                    await producer.send_and_wait(stack.topic(topic), poison, key=key,
                                                 headers=[("poison", kind.encode())])
                await producer.send_and_wait(stack.topic(topic), good.model_dump_json().encode(), key=key,
                                             headers=[("message_id", str(good.message_id).encode())])
        finally:
            await producer.stop()

    asyncio.run(send())


def _handled(stack: ReliabilityStack, goods: dict[str, tuple[Any, str]]) -> dict[str, bool]:
    """Whether each topic's good message was handled: a command answered, a job reported on."""
    found = read_topics(stack)
    results = b"".join(r.value for r in found.get(topics.COMMAND_RESULTS, []))
    reports = b"".join(r.value for r in found.get(topics.REPORTS, []))
    handled = {topics.COMMANDS: goods[topics.COMMANDS][1].encode() in results}
    for topic, (_, job_id) in goods.items():
        if topic not in (topics.COMMANDS, topics.REPORTS):
            handled[topic] = job_id.encode() in reports
    return handled


def test_poison_messages_go_to_their_dead_letter_topics_and_the_rest_flows_on(
    kafka_broker: LocalKafka, tmp_path: Path, scenario_report: ScenarioReport,
) -> None:
    with reliability_stack(tmp_path, kafka_broker.bootstrap, "sqlite", workers=tuple(CATALOG)) as stack:
        stack.install_drivers()
        load = Load(stack, rate=RATE).start()
        try:
            time.sleep(3)
            goods = _goods(stack)
            stack.note("poisons sent")
            _send(stack, goods)
            handled, waited = measure(lambda: all((h := _handled(stack, goods)).values()) and h, 60,
                                      "the good messages after the poisons handled", stack, interval=1.0)
            recovery = {"good_message_after_poisons": waited, "end_to_end_probe": probe(stack, load)}
        finally:
            log = load.stop()
            load.collect_results()
            load.close()
        verdict = check(stack, log, tmp_path / "check")
        found = read_topics(stack)
    dead: dict[str, dict[str, str]] = {}
    for topic in goods:
        for record in found.get(topics.dead_letters(topic), []):
            headers = {k: bytes(v).decode() for k, v in record.headers or ()}
            if "poison" in headers:
                dead.setdefault(topic, {})[headers["poison"]] = headers.get("dlq_reason_code", "")
                assert headers.get("dlq_reason"), f"{topic}: a dead letter without its reason: {headers}"
    verdict.figures["poisons_sent"] = len(goods) * len(EXPECTED_CODES)
    verdict.figures["poisons_dead_lettered"] = sum(map(len, dead.values()))
    verdict.figures["topics_poisoned"] = len(goods)
    scenario_report.record(
        "5-poison-messages", title="poison messages on every consumed topic",
        injected=f"{len(EXPECTED_CODES)} poisons (not JSON, no envelope, unknown type, invalid payload) then one good "
                 f"message, on the same key, on each of {len(goods)} consumed topics (commands, reports, "
                 f"{len(CATALOG)} job topics; a worker per driver)",
        load=f"{RATE:g} commands/s, 3 tenants, 40% bus / 60% HTTP, SQLite store", verdict=verdict,
        recovery=recovery, extra={"dead_letter_reason_codes": dead})
    assert verdict.held, verdict.explain()
    assert dead == {topic: EXPECTED_CODES for topic in goods}, "a poison missed its dead-letter topic or reason"
    assert all(handled.values()), handled
