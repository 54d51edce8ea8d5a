"""The relay's publishing on the real broker: ``Bus.publish_all`` sends on the aiokafka producer FastStream
started (its fast path) and the records are those FastStream's own publish would send.

The fast path finds the producer inside FastStream's broker; if a FastStream upgrade moved it, publishing
would quietly fall back to the slower per-message path. The first test makes that move loud.
"""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.envelope import Envelope
from shared.bus import Bus, Outgoing, _producer_of, make_broker
from shared.local_kafka import LocalKafka

pytestmark = [pytest.mark.kafka]


def _message(key: str, n: int) -> Outgoing:
    envelope = Envelope(type="ConnectionRenamed", tenant_id="acme", payload={"n": n}, correlation_id=f"corr-{n}")
    return Outgoing("connections.events.v1", key, envelope)


async def test_publish_all_uses_the_started_aiokafka_producer_and_sends_faststreams_records(
    kafka_broker: LocalKafka,
) -> None:
    namespace = f"t{uuid.uuid4().hex[:8]}."
    bus = Bus(make_broker(kafka_broker.bootstrap, "test-bus"), namespace)
    await bus.broker.start()
    consumer = AIOKafkaConsumer(bus.topic("connections.events.v1"), bootstrap_servers=kafka_broker.bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        assert isinstance(_producer_of(bus.broker), AIOKafkaProducer), \
            "FastStream keeps its aiokafka producer elsewhere now: shared/bus.py _producer_of must follow it"

        messages = [_message(key, n) for n, key in enumerate(["a", "b", "a", "c", "a", "b"])]
        await bus.publish_all(messages)

        await consumer.start()
        received = []
        while len(received) < len(messages):
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, f"only {len(received)} of {len(messages)} messages arrived"
            received += [record for records in batch.values() for record in records]
    finally:
        await consumer.stop()
        await bus.broker.stop()

    by_id = {str(m.envelope.message_id): m for m in messages}
    for record in received:
        headers = {name: value.decode() for name, value in record.headers}
        sent = by_id[headers["message_id"]]
        assert record.key == sent.key.encode()
        assert Envelope.model_validate_json(record.value) == sent.envelope
        assert headers["correlation_id"] == sent.envelope.correlation_id
        assert headers["type"] == "ConnectionRenamed" and headers["tenant_id"] == "acme"
        assert "content-type" in headers
    # Per key, in the order sent (each key lands on one partition).
    for key in ("a", "b", "c"):
        got = [Envelope.model_validate_json(r.value).payload["n"] for r in received if r.key == key.encode()]
        assert got == [m.envelope.payload["n"] for m in messages if m.key == key]
