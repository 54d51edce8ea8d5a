"""Reading and writing topics of the real broker from tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord


async def produce(bootstrap: str, topic: str, value: bytes, key: bytes | None = None,
                  headers: list[tuple[str, bytes]] | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def read_until(
    bootstrap: str, topic: str, done: Callable[[list[ConsumerRecord[Any, Any]]], bool], timeout: float = 30,
) -> list[ConsumerRecord[Any, Any]]:
    """Every record of ``topic`` from the beginning, until ``done(records)`` or the timeout (then raises)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while not done(records):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{topic}: condition not met within {timeout} s; got {len(records)} records")
            batch = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[ConsumerRecord[Any, Any]]:
    return asyncio.run(read_until(bootstrap, topic, lambda r: len(r) >= expected, timeout))
