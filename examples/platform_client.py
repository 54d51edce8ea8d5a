"""A platform service's view of the connections service: create a connection over Kafka and follow it.

Run against a running stack (``make up`` or ``connections up``)::

    python -m examples.platform_client --bootstrap 127.0.0.1:9092 --tenant demo

It installs the Actindo POS driver for the tenant (a no-op when it already is), sends ``CreateConnection``,
prints the command's result from ``connections.command-results.v1`` and then every event on
``connections.events.v1`` about the new connection until its first sync has mirrored the data model.

Only the ``contracts`` package and aiokafka are used, as in a platform service that installed the contracts
wheel. What it shows, in the order a real client needs it:

1. Listen before you send: the result and the first events can arrive within milliseconds, so the consumer
   is positioned at the end of both topics *before* the command goes out.
2. The command id is the envelope's ``message_id``; the result is keyed by it.
3. Events are delivered at least once: they are deduplicated by ``message_id`` and ordered by ``position``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Iterable
from typing import Any
from uuid import UUID, uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from contracts import topics
from contracts.commands import CreateConnection, InstallDriver
from contracts.envelope import Envelope, Message
from contracts.events import CredentialsChecked, DataModelChanged, JobState, JobStateChanged
from contracts.jobs import JobKind
from contracts.registry import UndecodableMessage, decode, encode
from contracts.results import CommandResult

ACTOR = "example-platform-client"
DRIVER = "pos"  # Actindo POS is built in: no credentials to ask for, so the example runs anywhere
_SYNC_FAILED = {JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT}


def headers_of(envelope: Envelope) -> list[tuple[str, bytes]]:
    """The envelope's ids as Kafka headers, so tools can route and trace without decoding the value."""
    fields = {
        "message_id": str(envelope.message_id),
        "type": envelope.type,
        "schema_version": str(envelope.schema_version),
        "tenant_id": envelope.tenant_id,
        "correlation_id": envelope.correlation_id,
    }
    return [(name, value.encode()) for name, value in fields.items()]


class PlatformClient:
    """Sends commands and reads their results and the events that follow, for one run."""

    def __init__(self, bootstrap: str, namespace: str = "") -> None:
        self.namespace = namespace
        # acks=all + idempotence: a retried send cannot duplicate or reorder commands of the same key.
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        # No consumer group: this client reads only what is sent from now on and commits nothing. A platform
        # service that must not miss events uses a group (or stores the last position it handled).
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        self.results: dict[str, CommandResult] = {}
        self.events: dict[UUID, tuple[Envelope, Message, str]] = {}

    def topic(self, name: str) -> str:
        """The topic as deployed: deployments may prefix every topic with a namespace, e.g. ``staging.``."""
        return self.namespace + name

    async def __aenter__(self) -> PlatformClient:
        await self.producer.start()
        await self.consumer.start()
        try:
            await self._listen_from_now_on()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()
        await self.producer.stop()

    async def _listen_from_now_on(self) -> None:
        partitions: list[TopicPartition] = []
        for name in (topics.COMMAND_RESULTS, topics.EVENTS):
            topic = self.topic(name)
            partitions += [TopicPartition(topic, p) for p in sorted(await self.producer.partitions_for(topic))]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self.consumer.position(partition)  # fixes the offsets now, before any command is sent

    async def send(self, tenant_id: str, command: Message, key: str) -> UUID:
        """Send a command; returns its id (the envelope's message_id), which its result will be keyed by."""
        envelope = encode({"tenant_id": tenant_id, "actor": ACTOR, "correlation_id": f"example-{uuid4()}"}, command)
        await self.producer.send_and_wait(
            self.topic(topics.COMMANDS), envelope.model_dump_json().encode(), key=key.encode(),
            headers=headers_of(envelope),
        )
        return envelope.message_id

    async def poll(self, deadline: float) -> None:
        """Read what arrived (waiting at most until ``deadline``) into ``results`` and ``events``."""
        remaining = max(0.0, deadline - time.monotonic())
        batches = await self.consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
        for records in batches.values():
            for record in records:
                self._take(record)

    def _take(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            envelope, payload = decode(record.value)
        except UndecodableMessage as bad:
            # A consuming service would park it on its own dead-letter topic with bad.reason_code; this
            # example only reads, so it says so and goes on.
            print(f"skipped an undecodable message ({bad.reason_code}): {bad.message}", file=sys.stderr)
            return
        key = record.key.decode() if record.key else ""
        if isinstance(payload, CommandResult):
            self.results.setdefault(key, payload)  # a result may come twice; the first one counts
        elif record.topic == self.topic(topics.EVENTS):
            self.events.setdefault(envelope.message_id, (envelope, payload, key))  # at least once: dedupe

    async def result_of(self, command_id: UUID, deadline: float) -> CommandResult:
        while str(command_id) not in self.results:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no result for command {command_id} in time: is the connections service up?")
            await self.poll(deadline)
        return self.results[str(command_id)]

    def events_about(self, tenant_id: str, connection_id: str) -> list[tuple[Envelope, Message, str]]:
        """This tenant's events about the connection (or its driver installations), in store order."""
        mine = [
            (envelope, payload, key)
            for envelope, payload, key in self.events.values()
            if envelope.tenant_id == tenant_id and key in (connection_id, tenant_id)
        ]
        return sorted(mine, key=lambda item: _position(item[1]))


def _position(payload: Message) -> int:
    position = getattr(payload, "position", None)
    return position if isinstance(position, int) else -1


def _first_sync_is_over(events: Iterable[tuple[Envelope, Message, str]]) -> bool:
    """The story of a new connection ends when its first sync mirrored the data model, or when it cannot."""
    for _, payload, _ in events:
        if isinstance(payload, DataModelChanged):
            return True
        if isinstance(payload, CredentialsChecked) and not payload.verified:
            return True
        if isinstance(payload, JobStateChanged) and payload.kind == JobKind.SYNC and payload.state in _SYNC_FAILED:
            return True
    return False


def _event_json(envelope: Envelope, payload: Message, key: str) -> dict[str, Any]:
    return {
        "message_id": str(envelope.message_id),
        "type": envelope.type,
        "schema_version": envelope.schema_version,
        "key": key,
        "occurred_at": envelope.occurred_at.isoformat(),
        "payload": payload.model_dump(mode="json"),
    }


async def run(
    bootstrap: str, tenant_id: str, timeout: float = 30, *, namespace: str = "", name: str = "Example till"
) -> dict[str, Any]:
    """Install the POS driver, create a connection, and collect its result and the events that follow.

    Returns ``{"tenant_id", "install_result", "command_id", "result", "connection_id", "events", "complete"}``:
    results as their JSON payloads, events as ``{"message_id", "type", "schema_version", "key",
    "occurred_at", "payload"}`` in store order, ``complete`` true when the first sync ended (or the
    connection could not get that far) before ``timeout`` seconds. Raises ``TimeoutError`` when a command
    gets no result in time.
    """
    deadline = time.monotonic() + timeout
    async with PlatformClient(bootstrap, namespace) as client:
        # Driver commands and creates are keyed by tenant: all of them are handled in the order sent.
        install_id = await client.send(tenant_id, InstallDriver(driver=DRIVER), key=tenant_id)
        installed = await client.result_of(install_id, deadline)
        command_id = await client.send(tenant_id, CreateConnection(name=name, driver=DRIVER), key=tenant_id)
        result = await client.result_of(command_id, deadline)
        connection_id = str(result.items[0].connection_id) if result.accepted and result.items else None
        complete = connection_id is None  # a refused command has no events to wait for
        while connection_id is not None and not complete and time.monotonic() < deadline:
            await client.poll(deadline)
            complete = _first_sync_is_over(client.events_about(tenant_id, connection_id))
        events = client.events_about(tenant_id, connection_id) if connection_id else []
    return {
        "tenant_id": tenant_id,
        "install_result": installed.model_dump(mode="json"),
        "command_id": str(command_id),
        "result": result.model_dump(mode="json"),
        "connection_id": connection_id,
        "events": [_event_json(*event) for event in events],
        "complete": complete,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.platform_client", description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", default=os.environ.get("OMNI_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--namespace", default=os.environ.get("OMNI_KAFKA_NAMESPACE", ""),
                        help="topic prefix of the deployment, if any")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    try:
        outcome = asyncio.run(run(args.bootstrap, args.tenant, args.timeout, namespace=args.namespace))
    except TimeoutError as late:
        print(late, file=sys.stderr)
        return 1
    print("result:", json.dumps(outcome["result"], indent=2))
    for event in outcome["events"]:
        payload = event["payload"]
        print(f"event {event['type']:<26} position={payload.get('position')} {json.dumps(payload)}")
    if not outcome["complete"]:
        print(f"the first sync did not end within {args.timeout} s", file=sys.stderr)
    return 0 if outcome["result"]["accepted"] and outcome["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
