"""The machinery every benchmark shares: one Kafka broker and one PostgreSQL cluster for the whole run, the
service's processes started as a user starts them, and fast Kafka producing and result collection.

Each benchmark gets its own database and Kafka namespace, so repeats never see each other's data.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts import topics
from contracts.envelope import Envelope
from contracts.registry import encode
from services.launcher import Stack
from shared.local_kafka import LocalKafka
from shared.local_postgres import LocalPostgres
from shared.ports import free_port
from shared.runtime import all_topics, ensure_topics
from shared.settings import Settings, Store
TOKEN = "bench-admin-token"
TENANT = "bench"  # the tenant of the HTTP token; bus commands may name any tenant
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
BUS_ACTOR = "bench-platform-client"


def service_env(store: Store, data_dir: Path, bootstrap: str, namespace: str, dsn: str | None) -> dict[str, str]:
    """``OMNI_*`` variables of one deployment: its own ports, namespace and data folder."""
    env = {
        "OMNI_DATA_DIR": str(data_dir), "OMNI_STORE": store.value, "OMNI_KAFKA_BOOTSTRAP": bootstrap,
        "OMNI_KAFKA_NAMESPACE": namespace, "OMNI_HTTP_HOST": "127.0.0.1", "OMNI_HTTP_PORT": str(free_port()),
        "OMNI_QUERY_PORT": str(free_port()), "OMNI_LOG_JSON": "true",
        # Consumer-lag sampling is an operations feature; once a minute keeps it out of the figures.
        "OMNI_METRICS_INTERVAL": "60",
        "OMNI_API_TOKENS": json.dumps({TOKEN: {"tenant": TENANT, "roles": ["admin"], "actor": "bench"}}),
        "OMNI_BUS_ACTORS": json.dumps({BUS_ACTOR: {"roles": ["admin"]}}),
    }
    if dsn:
        env["OMNI_DATABASE_URL"] = dsn
    return env


class Infra:
    """The local Kafka broker and a throwaway PostgreSQL, started once for the run (or reused when
    ``BENCH_KAFKA`` / ``BENCH_PG_PORT`` name running ones, which makes iterating on one benchmark quick)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.kafka: LocalKafka | None = None
        self.postgres: LocalPostgres | None = None
        self.bootstrap = os.environ.get("BENCH_KAFKA", "")
        self._pg_port = int(os.environ.get("BENCH_PG_PORT", "0"))

    def start(self) -> None:
        if not self.bootstrap:
            self.kafka = LocalKafka(self.root / "kafka")
            self.kafka.start()
            self.bootstrap = self.kafka.bootstrap
        if not self._pg_port:
            self.postgres = LocalPostgres()
            self.postgres.start()
            self._pg_port = self.postgres.port

    def stop(self) -> None:
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres.cleanup()

    def database(self, prefix: str) -> str:
        """A new empty database; its DSN."""
        import psycopg

        name = f"b_{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(host="127.0.0.1", port=self._pg_port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self._pg_port}/{name}"

    def directory(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=self.root))


@dataclass
class Deployment:
    """One environment of the service (store, database, Kafka namespace, ports) and its running processes."""

    infra: Infra
    store: Store
    label: str
    processes: dict[str, list[str]] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = self.infra.directory(self.label)
        self.namespace = f"b{uuid.uuid4().hex[:8]}."
        self.dsn = self.infra.database(self.label) if self.store is Store.POSTGRES else None
        self.env = {**service_env(self.store, self.data_dir / "data", self.infra.bootstrap, self.namespace, self.dsn),
                    **self.extra_env}
        self.api = f"http://127.0.0.1:{self.env['OMNI_HTTP_PORT']}"
        self.views = f"http://127.0.0.1:{self.env['OMNI_QUERY_PORT']}"
        self.stack = Stack(self.env, self.data_dir / "logs", commands={})
        asyncio.run(ensure_topics(self.infra.bootstrap, all_topics(self.namespace), 3, 1))

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir / "data", store=self.store, database_url=self.dsn)

    def topic(self, name: str) -> str:
        return self.namespace + name

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.stack.commands[name] = command
        if env:
            self.stack.process_env[name] = env
        self.stack.start(name)

    def start_service(self) -> None:
        self.start("service", ["serve"])
        self.stack.wait_http(f"{self.api}/health/live", timeout=60)

    def start_projections(self) -> None:
        self.start("projections", ["projections"])
        self.stack.wait_http(f"{self.views}/health/live", timeout=60)

    def pid(self, name: str) -> int:
        return self.stack.processes[name].pid

    def stop(self) -> None:
        self.stack.stop_all()

    def log_tail(self, name: str, chars: int = 2000) -> str:
        path = self.data_dir / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def install(self, tenant: str, driver: str = "pos") -> None:
        """Install a driver for a tenant over the bus (HTTP tokens are bound to one tenant)."""
        asyncio.run(produce_and_collect(self, [command_envelope(tenant, _install(driver))], timeout=60))


@contextmanager
def deployment(infra: Infra, store: Store, label: str, **extra_env: str) -> Iterator[Deployment]:
    deployed = Deployment(infra, store, label, extra_env=extra_env)
    try:
        yield deployed
    finally:
        deployed.stop()
        shutil.rmtree(deployed.data_dir, ignore_errors=True)


def _install(driver: str) -> Any:
    from contracts.commands import InstallDriver

    return InstallDriver(driver=driver)


def command_envelope(tenant: str, command: Any) -> Envelope:
    return encode({"tenant_id": tenant, "actor": BUS_ACTOR}, command)


def create_commands(tenant: str, count: int, prefix: str = "conn") -> list[Envelope]:
    """``count`` CreateConnection commands for the POS driver (no credentials to seal: the lightest create)."""
    from contracts.commands import CreateConnection

    return [command_envelope(tenant, CreateConnection(name=f"{prefix} {i:07d}", driver="pos")) for i in range(count)]


async def _results_consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    """A consumer at the end of every partition of ``topic``: it sees only what arrives from now on."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                fetch_max_wait_ms=5, max_poll_records=5000)
    await consumer.start()
    partitions = consumer.partitions_for_topic(topic) or set()
    while not partitions:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - the topic was just created
        partitions = consumer.partitions_for_topic(topic) or set()
    assigned = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(assigned)
    await consumer.seek_to_end(*assigned)
    for tp in assigned:
        await consumer.position(tp)
    return consumer


@dataclass
class Collected:
    """When each command was sent and when its result arrived (monotonic seconds)."""

    started: float
    finished: float
    sent: dict[str, float]
    arrived: dict[str, float]
    accepted: int

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    def latencies_ms(self) -> list[float]:
        return [(self.arrived[k] - self.sent[k]) * 1000 for k in self.arrived if k in self.sent]


async def produce_and_collect(deployed: Deployment, envelopes: list[Envelope], timeout: float = 300,
                              rate: float | None = None, budget: float | None = None, window: int = 1_000,
                              ) -> Collected:
    """Produce commands as fast as aiokafka allows (or at ``rate`` per second) and wait for every result.

    With ``budget`` (seconds), at most ``window`` commands are in flight and no new one is sent once the
    budget is spent: the run measures the same rate in bounded time however slow the machine is today.
    """
    bootstrap = deployed.infra.bootstrap
    consumer = await _results_consumer(bootstrap, deployed.topic(topics.COMMAND_RESULTS))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024,
                                acks=1)
    await producer.start()
    # Encoded before the clock starts: the benchmark is the service, not this client's JSON.
    wire = [(str(e.message_id), e.model_dump_json().encode(), e.tenant_id.encode()) for e in envelopes]
    wanted = {k for k, _, _ in wire}
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    accepted = 0
    started = time.monotonic()
    try:
        async def send_all() -> None:
            futures = []
            for i, (key, value, tenant) in enumerate(wire):
                if rate is not None:
                    await _pace(started, i, rate)
                if budget is not None:
                    while len(sent) - len(arrived) >= window:
                        await asyncio.sleep(0.005)
                    if time.monotonic() - started > budget:
                        break
                sent[key] = time.monotonic()
                futures.append(await producer.send(deployed.topic(topics.COMMANDS), value, key=tenant))
            await asyncio.gather(*futures)

        sending = asyncio.create_task(send_all())
        deadline = started + timeout
        while len(arrived) < len(wanted) and not (sending.done() and len(arrived) >= len(sent)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(arrived)} of {len(wanted)} results within {timeout} s")
            deployed.stack.check_alive()
            batch = await consumer.getmany(timeout_ms=200)
            now = time.monotonic()
            for records in batch.values():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    if key in wanted and key not in arrived:
                        arrived[key] = now
                        accepted += b'"accepted":true' in record.value
        finished = time.monotonic()
        await sending
    finally:
        await producer.stop()
        await consumer.stop()
    return Collected(started, finished, sent, arrived, accepted)


async def _pace(started: float, index: int, rate: float) -> None:
    due = started + index / rate
    delay = due - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def wait_until(check: Callable[[], Any], timeout: float, what: str, deployed: Deployment | None = None,
               interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if deployed is not None:
            deployed.stack.check_alive()
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout} s")


def max_position(deployed: Deployment) -> int:
    """The store's last notification id, read as the service would."""
    from services.projections.application import EventStoreReader

    reader = EventStoreReader(env=deployed.settings().eventsourcing_env())
    try:
        return reader.recorder.max_notification_id() or 0
    finally:
        reader.close()


def view_positions(deployed: Deployment) -> dict[str, int]:
    """Every view's applied position, from the projections' metrics endpoint."""
    text = httpx.get(f"{deployed.views}/metrics", headers=HEADERS, timeout=10).text
    found: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("projection_position{"):
            view = line.split('view="', 1)[1].split('"', 1)[0]
            found[view] = int(float(line.rsplit(" ", 1)[1]))
    return found


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory now and its high-water mark, in MB, from /proc."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, amount = line.split(":", 1)
            values[name] = int(amount.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


__all__ = ["HEADERS", "TENANT", "Collected", "Deployment", "Infra", "chunks", "command_envelope", "create_commands",
           "deployment", "free_port", "max_position", "produce_and_collect", "rss_mb", "view_positions", "wait_until"]
