"""The relay (outbox): publishes every stored event's public messages to Kafka, in order, at least once.

It follows the notification log from its tracked position, publishes a batch, waits for the broker's
acknowledgements, and only then advances the position. A crash between the two re-sends the batch; the
message ids are stable, so consumers drop the duplicates.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing, nullcontext
from typing import Any
from uuid import UUID

from aiokafka.errors import KafkaError
from eventsourcing.application import LRUCache
from eventsourcing.persistence import Notification

from contracts.jobs import DriverJob
from services.connections.application import Connections
from services.connections.domain.connection import Connection
from services.connections.translation import RETRY_BACKOFF_SECONDS, SILENT_TOPICS, outgoing, retry_not_before
from shared.bus import Bus, Outgoing
from shared.follower import NotificationFollower
from shared.logging import get_logger
from shared.metrics import RELAY_PUBLISHED
from shared.positions import read_position, write_position
from shared.sealing import seal
from shared.sql import Database

log = get_logger(__name__)
POSITION_NAME = "relay"
PUBLISH_RETRY_FIRST_SECONDS = 0.5
PUBLISH_RETRY_MAX_SECONDS = 10.0
_JOB_TOPICS = frozenset({"Connection.JobRequested.v1", "Connection.JobRetried.v1"})
CACHED_CONNECTIONS = 10_000
"""Connections whose current state the relay keeps (folded forward from the events it reads), least recently
relayed dropped first; a job of a connection not kept loads it from the store."""


class Relay:
    def __init__(
        self, app: Connections, positions: Database, bus: Bus, worker_key: bytes,
        follower: NotificationFollower, retry_backoff: float = RETRY_BACKOFF_SECONDS,
        cached_connections: int = CACHED_CONNECTIONS,
    ) -> None:
        self.retry_backoff = retry_backoff
        # Each connection as of the last of its events the relay read: the store is read in position order, so
        # every Connection event passes here and the state a job needs is at hand without reading it back.
        self._connections: LRUCache[UUID, Connection] = LRUCache(cached_connections)
        self.app = app
        self.positions = positions
        self.bus = bus
        self.worker_key = worker_key
        self.follower = follower

    def position(self) -> int:
        with self.positions.transaction() as tx:
            return read_position(tx, POSITION_NAME)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish batch after batch, in order. The next batch is read and translated while the broker
        acknowledges the one before (a queue of one); the position advances only past acknowledged batches."""
        start = self.position()
        log.info("relay_started", position=start)
        translated: asyncio.Queue[tuple[int, list[Outgoing]] | None] = asyncio.Queue(maxsize=1)
        reading = asyncio.create_task(self._read(start, stop, translated))
        try:
            while (item := await translated.get()) is not None and not stop.is_set():
                up_to, messages = item
                await self._publish(messages, stop)
                RELAY_PUBLISHED.inc(len(messages))
                await asyncio.to_thread(self._advance, up_to)
                log.debug("relayed", up_to=up_to, messages=len(messages))
            if item is None:
                await reading  # the reader's error, if it ended on one
        finally:
            reading.cancel()

    async def _read(self, start: int, stop: asyncio.Event,
                    translated: asyncio.Queue[tuple[int, list[Outgoing]] | None]) -> None:
        """Read and translate batches into ``translated`` until stopped; ``None`` after the last (or an error).

        Translating runs on the event loop, between the broker's acknowledgements, not in a worker thread: in a
        thread it contended with the loop for the interpreter lock, and each hand-over of the lock cost more than
        the overlap won (relay bench: 12,600 events/s in a thread, 13,600 on the loop)."""
        try:
            async with aclosing(self.follower.follow(start, stop)) as batches:
                async for batch in batches:
                    await translated.put((batch[-1].id, self._translate(batch)))
        except asyncio.CancelledError:
            raise
        except BaseException:
            await translated.put(None)
            raise
        await translated.put(None)

    async def _publish(self, messages: list[Outgoing], stop: asyncio.Event) -> None:
        """Publish the batch, trying again while the broker is away, so the relay rides out an outage instead of
        exiting (tests/reliability). A batch sent again may repeat messages; consumers drop them by message id."""
        delay = PUBLISH_RETRY_FIRST_SECONDS
        while True:
            try:
                await self.bus.publish_all(messages)
                return
            except KafkaError as error:
                log.warning("relay_publish_failed_will_retry", error=type(error).__name__, retry_in=delay)
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    delay = min(delay * 2, PUBLISH_RETRY_MAX_SECONDS)
                    continue
                raise  # stopping: the batch stays unrelayed, the next start sends it from the tracked position

    def _translate(self, batch: list[Notification] | Any) -> list[Outgoing]:
        messages: list[Outgoing] = []
        events = [(notification, self.app.mapper.to_domain_event(notification)) for notification in batch
                  if notification.topic not in SILENT_TOPICS]
        # The credentials of every job of the batch are opened with keys read in one query.
        jobs = [event.originator_id for notification, event in events if notification.topic in _JOB_TOPICS]
        preloaded = getattr(self.app.vault, "preloaded", None)
        with preloaded(jobs) if preloaded is not None and jobs else nullcontext():
            for notification, event in events:
                if notification.topic.startswith("Connection."):
                    self._fold(notification.topic, event)
                trace_parent = (getattr(event, "meta", None) or {}).get("trace_parent")  # the command's trace
                messages.extend(Outgoing(m.topic, m.key, m.envelope, trace_parent)
                                for m in outgoing(notification.topic, event, notification.id, self._build_job))
        return messages

    def _advance(self, position: int) -> None:
        with self.positions.transaction() as tx:
            write_position(tx, POSITION_NAME, position)

    def _fold(self, topic: str, event: Any) -> None:
        """Bring the kept state of the event's connection to the event's version. A connection not kept (after a
        start mid-stream, or dropped) or kept at another version is left out until a job of it loads it."""
        if topic == "Connection.Created.v1":
            self._connections.put(event.originator_id, event.mutate(None))
            return
        try:
            connection = self._connections.get(event.originator_id)
        except KeyError:
            return
        try:
            event.mutate(connection)  # raises unless the kept state is at the version just before the event's
        except Exception:  # noqa: BLE001 - any doubt: forget it, the next job of it loads it from the store
            self._connections.get(event.originator_id, evict=True)

    def _connection_at(self, event: Any) -> Connection:
        """The connection as of ``event`` (its version): the kept state, or else loaded from the store."""
        try:
            connection = self._connections.get(event.originator_id)
        except KeyError:
            connection = None
        if connection is None or connection.version != event.originator_version:
            connection = self.app.repository.get(event.originator_id, version=event.originator_version)
            assert isinstance(connection, Connection)
            self._connections.put(event.originator_id, connection)
        return connection

    def _build_job(self, event: Any, position: int) -> DriverJob:
        """The job as the connection stood when it was requested; credentials re-sealed for the worker."""
        connection = self._connection_at(event)
        sealed: str | None = None
        try:
            plaintext = self.app.vault.open(connection.id, connection.credentials)
            sealed = seal(self.worker_key, plaintext, event.job_id)
        except Exception as exc:  # noqa: BLE001 - erased secrets: the job goes out without, the worker fails it
            log.warning("job_without_credentials", job_id=event.job_id, reason=type(exc).__name__)
        return DriverJob(
            job_id=UUID(event.job_id), connection_id=connection.id, driver=connection.driver, kind=event.kind,
            attempt=event.attempt, not_before=retry_not_before(event, self.retry_backoff), sealed_credentials=sealed,
            settings=connection.settings,
        )
