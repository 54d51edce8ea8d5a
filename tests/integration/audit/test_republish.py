"""``republish`` through the CLI to the real broker: the same message ids as the relay's, marked as replays."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import topics
from contracts.jobs import DriverJob
from services.connections.translation import outgoing
from services.projections.application import EventStoreReader
from shared.local_kafka import LocalKafka
from shared.runtime import all_topics, ensure_topics
from shared.settings import Settings
from tests.integration.audit.conftest import AuditStore
from tests.support.kafka_io import read_until

pytestmark = pytest.mark.kafka


def _expected_message_ids(store: AuditStore, start: int) -> dict[str, int]:
    """What the relay published for positions from ``start``: message id -> position (from the store)."""
    reader = EventStoreReader(env=Settings(data_dir=store.data_dir, store=store.backend,
                                           database_url=store.dsn).eventsourcing_env())
    try:
        expected: dict[str, int] = {}
        for n in reader.recorder.select_notifications(start=start, limit=100_000):
            event = reader.mapper.to_domain_event(n)
            for message in outgoing(n.topic, event, n.id, _any_job):
                if message.topic == topics.EVENTS:
                    expected[str(message.envelope.message_id)] = n.id
        return expected
    finally:
        reader.close()


def _any_job(event: Any, _: int) -> DriverJob:
    return DriverJob(job_id=uuid.UUID(event.job_id), connection_id=event.originator_id, driver="pos", kind=event.kind)


def test_republish_from_a_position_sends_the_same_message_ids_marked_as_replays(
    audit_store: AuditStore, kafka_broker: LocalKafka,
) -> None:
    connection_id = audit_store.established()
    start = audit_store.head() // 2
    namespace = f"t{uuid.uuid4().hex[:8]}."
    asyncio.run(ensure_topics(kafka_broker.bootstrap, all_topics(namespace), 3, 1))
    audit_store.env |= {"OMNI_KAFKA_BOOTSTRAP": kafka_broker.bootstrap, "OMNI_KAFKA_NAMESPACE": namespace}
    expected = _expected_message_ids(audit_store, start)

    dry = audit_store.cli("republish", "--from", str(start), "--dry-run")
    sent = audit_store.cli("republish", "--from", str(start))

    assert dry.code == 0 and dry.lines()[0]["messages"] == len(expected) > 0, dry.stderr
    assert sent.code == 0, sent.stderr
    assert sent.lines()[0] == {"events": audit_store.head() - start + 1, "messages": len(expected),
                               "from": start, "to": audit_store.head(), "dry_run": False}
    records = asyncio.run(read_until(kafka_broker.bootstrap, namespace + topics.EVENTS,
                                     lambda rs: len(rs) >= len(expected)))
    headers = [dict(r.headers) for r in records]
    assert sorted(h["message_id"].decode() for h in headers) == sorted(expected)
    assert all(h["replay"] == b"true" for h in headers)
    # Per connection, in store order, as the relay sends them.
    positions = [json.loads(r.value)["payload"]["position"] for r in records if r.key == str(connection_id).encode()]
    assert positions == sorted(positions)
    assert asyncio.run(_messages_in(kafka_broker.bootstrap, namespace + topics.driver_jobs("shopware6"))) == 0, \
        "work orders are never replayed"


async def _messages_in(bootstrap: str, topic: str, partitions: int = 3) -> int:
    """How many messages a topic ever received (the sum of its partitions' end offsets)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        return sum((await consumer.end_offsets(assigned)).values())
    finally:
        await consumer.stop()
