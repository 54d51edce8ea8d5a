"""The local Kafka broker (shared/local_kafka.py) works with the project's client.

These tests start a real Apache Kafka broker (JVM) once per session.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from shared.local_kafka import LocalKafka
from tests.support.kafka import kafka_broker  # noqa: F401

pytestmark = pytest.mark.kafka

# Generous, but bounded: a hung broker fails the test instead of the CI run.
RECEIVE_TIMEOUT = 30.0


def _topic(name: str) -> str:
    # One topic per test run, so tests never see each other's messages.
    return f"test.local-kafka.{name}.{uuid.uuid4().hex[:8]}"


async def _produce(bootstrap: str, topic: str, key: bytes, value: bytes, **options: object) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **options)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=[("kind", b"test")])
    finally:
        await producer.stop()


async def _consume_one(
    bootstrap: str, topic: str, group_id: str | None = None
) -> ConsumerRecord[bytes, bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        return await asyncio.wait_for(consumer.getone(), RECEIVE_TIMEOUT)
    finally:
        await consumer.stop()


async def test_produce_and_consume_round_trip(kafka_broker: LocalKafka) -> None:  # noqa: F811
    topic = _topic("round-trip")
    await _produce(kafka_broker.bootstrap, topic, b"conn-1", b'{"event": "ConnectionCreated"}')

    # A consumer group exercises the group coordinator and __consumer_offsets,
    # which only work on one broker because of the replication factor 1 settings.
    record = await _consume_one(kafka_broker.bootstrap, topic, group_id=f"group-{uuid.uuid4().hex[:8]}")

    assert record.key == b"conn-1"
    assert record.value == b'{"event": "ConnectionCreated"}'
    assert list(record.headers) == [("kind", b"test")]


async def test_auto_created_topics_get_configured_partitions(kafka_broker: LocalKafka) -> None:  # noqa: F811
    topic = _topic("partitions")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    await producer.start()
    try:
        # Asking for the partitions of an unknown topic creates it
        # (auto.create.topics.enable=true), as the project's services rely on.
        partitions = await producer.partitions_for(topic)
    finally:
        await producer.stop()

    assert partitions == set(range(kafka_broker.partitions))


async def test_clean_restart_keeps_data(kafka_broker: LocalKafka) -> None:  # noqa: F811
    topic = _topic("restart")
    await _produce(kafka_broker.bootstrap, topic, b"k", b"survives a restart")
    address = kafka_broker.bootstrap

    kafka_broker.stop()
    assert not kafka_broker.is_running
    kafka_broker.start()

    assert kafka_broker.bootstrap == address
    record = await _consume_one(kafka_broker.bootstrap, topic)
    assert record.value == b"survives a restart"


async def test_restart_after_kill_keeps_acknowledged_data(kafka_broker: LocalKafka) -> None:  # noqa: F811
    topic = _topic("kill")
    await _produce(kafka_broker.bootstrap, topic, b"k", b"survives SIGKILL")

    # A crash of the process (not of the machine): acknowledged writes are in
    # the OS page cache and must be there after log recovery.
    kafka_broker.kill()
    assert not kafka_broker.is_running
    kafka_broker.start()

    record = await _consume_one(kafka_broker.bootstrap, topic)
    assert record.value == b"survives SIGKILL"


async def test_900_kb_message_is_accepted(kafka_broker: LocalKafka) -> None:  # noqa: F811
    topic = _topic("large")
    # Random bytes and no compression, so the batch really is ~900 KiB on the
    # wire: under the 1 MiB defaults of the broker and of the clients.
    payload = os.urandom(900 * 1024)
    assert len(payload) == 900 * 1024

    await _produce(kafka_broker.bootstrap, topic, b"big", payload)
    record = await _consume_one(kafka_broker.bootstrap, topic)

    assert record.value == payload
