"""The limits each benchmark is compared with, measured on this machine in the same run.

Each function returns one figure per call; the runner calls it once per repeat, interleaved with the
measurement it anchors, so both see the same load on the (shared) machine.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from bench.stats import percentile
from services.projections.application import EventStoreReader
from shared.settings import Settings


class Dog(Aggregate):
    """The smallest aggregate worth storing: one created event with one short field."""

    def __init__(self, name: str) -> None:
        self.name = name


class Kennel(Application[uuid.UUID]):
    """The library on its own: one command, one aggregate event, one transaction."""

    def register(self, name: str) -> uuid.UUID:
        dog = Dog(name)
        self.save(dog)
        return dog.id


def library_transactions_per_second(settings: Settings, seconds: float = 3.0) -> float:
    """eventsourcing's one-command-per-transaction rate, single client: the write path's anchor."""
    env = settings.eventsourcing_env()
    env.pop("AGGREGATE_CACHE_MAXSIZE", None)
    env.pop("AGGREGATE_CACHE_FASTFORWARD", None)
    env.pop("APPLICATION_RECORDER_TOPIC", None)  # the library's own recorder, as its speedrun uses
    app = Kennel(env={**env, "CREATE_TABLE": "y"})
    try:
        for i in range(50):  # warm the pool and the statement cache
            app.register(f"warm {i}")
        done = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            for _ in range(50):
                app.register(f"dog {done}")
                done += 1
        return done / (time.perf_counter() - started)
    finally:
        app.close()


def sqlite_inserts_per_second(folder: Path, rows: int = 20_000, per_transaction: int = 200) -> float:
    """Raw sqlite3 inserts of event-sized rows (WAL, as the service configures it), ``per_transaction`` a commit."""
    path = folder / f"raw-{uuid.uuid4().hex[:6]}.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE events (originator_id BLOB, version INTEGER, topic TEXT, state BLOB, "
                   "PRIMARY KEY (originator_id, version))")
        state = b"x" * 300  # about the size of a stored Connection.Created event
        started = time.perf_counter()
        for first in range(0, rows, per_transaction):
            db.execute("BEGIN")
            db.executemany("INSERT INTO events VALUES (?, 1, 'Topic.v1', ?)",
                           [(uuid.uuid4().bytes, state) for _ in range(first, first + per_transaction)])
            db.execute("COMMIT")
        return rows / (time.perf_counter() - started)
    finally:
        db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


async def _producer_rate(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                compression_type="gzip", linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, value, key=key) for key, value in values]
        await asyncio.gather(*futures)
        return len(values) / (time.perf_counter() - started)
    finally:
        await producer.stop()


def aiokafka_messages_per_second(bootstrap: str, topic: str, samples: list[tuple[bytes, bytes]]) -> float:
    """A raw aiokafka batch producer sending the relay's messages with the relay's producer settings
    (acks=all, idempotent, gzip): what the relay could reach if translating and reading the store were free."""
    return asyncio.run(_producer_rate(bootstrap, topic, samples))


def scan_events_per_second(settings: Settings, page: int = 5_000) -> tuple[float, int]:
    """Raw ``select_notifications`` over the whole store, decoding nothing: the rebuild's anchor."""
    reader = EventStoreReader(env=settings.eventsourcing_env())
    try:
        count = 0
        start = 1
        began = time.perf_counter()
        while True:
            found = reader.recorder.select_notifications(start=start, limit=page)
            count += len(found)
            if len(found) < page:
                break
            start = found[-1].id + 1
        return count / (time.perf_counter() - began), count
    finally:
        reader.close()


async def _round_trips(bootstrap: str, topic: str, count: int) -> list[float]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=5)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await asyncio.gather(consumer.start(), producer.start())
    try:
        await producer.send_and_wait(topic, b"warm")  # creates the topic
        partitions = consumer.partitions_for_topic(topic) or set()
        while not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - the topic was just created
            partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_end(*assigned)
        for tp in assigned:
            await consumer.position(tp)
        times: list[float] = []
        for i in range(count):
            sent = time.perf_counter()
            await producer.send_and_wait(topic, str(i).encode(), key=b"k")
            got = False
            while not got:
                batch = await consumer.getmany(timeout_ms=1000)
                got = any(r.value == str(i).encode() for records in batch.values() for r in records)
            times.append((time.perf_counter() - sent) * 1000)
        return times
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())


def kafka_round_trip_ms(bootstrap: str, topic: str, count: int = 100) -> dict[str, Any]:
    """Kafka produce -> consume round trips, one at a time: the sync round trip's anchor (p50 and p99, ms)."""
    times = asyncio.run(_round_trips(bootstrap, topic, count))
    return {"p50": percentile(times, 0.50), "p99": percentile(times, 0.99), "samples": len(times)}
