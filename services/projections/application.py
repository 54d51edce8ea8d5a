"""The projection runner: applies stored events to the views, each batch with its position in one transaction.

Because rows and position commit together, every event is applied exactly once, whatever crashes; and any
view can be dropped and rebuilt from position 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

import services.connections.domain  # noqa: F401 - registers the stored event names for decoding
from services.projections.adapters import connection_list_table as table
from services.projections.domain.connection_list import evolve
from shared.follower import NotificationFollower
from shared.logging import get_logger
from shared.positions import create_positions_table, read_position, write_position
from shared.sql import Database, Transaction, ensure_schema

log = get_logger(__name__)
VIEW = "connection_list"


class EventStoreReader(Application[Any]):
    """Read-only access to the connections store: its recorder and the mapper that decodes its events."""

    name = "connections"


class ConnectionListProjection:
    """Keeps the ``connection_list`` table in step with the store."""

    def __init__(self, store: EventStoreReader, views: Database, follower: NotificationFollower) -> None:
        self.store = store
        self.views = views
        self.follower = follower
        create_positions_table(views)
        ensure_schema(views, *table.schema())

    def position(self) -> int:
        with self.views.transaction() as tx:
            return read_position(tx, VIEW)

    def apply(self, batch: Sequence[Notification]) -> None:
        """Apply one batch and record its last position, atomically."""
        with self.views.transaction() as tx:
            rows: dict[str, dict[str, Any] | None] = {}
            for notification in batch:
                if not notification.topic.startswith("Connection."):
                    continue
                event = self.store.mapper.to_domain_event(notification)
                key = str(event.originator_id)
                current = rows[key] if key in rows else table.load(tx, key)
                rows[key] = evolve(current, notification.topic, event)
            self._write(tx, rows)
            write_position(tx, VIEW, batch[-1].id)

    @staticmethod
    def _write(tx: Transaction, rows: dict[str, dict[str, Any] | None]) -> None:
        for key, row in rows.items():
            if row is None:
                table.delete(tx, key)
            else:
                table.save(tx, row)

    async def run(self, stop: asyncio.Event) -> None:
        start = self.position()
        log.info("projection_started", view=VIEW, position=start)
        async for batch in self.follower.follow(start, stop):
            await asyncio.to_thread(self.apply, batch)

    def lag(self) -> int:
        return max(0, self.follower.max_position() - self.position())

    async def wait_for(self, position: int, timeout: float) -> bool:
        """Read-your-writes: wait (bounded) until the view has applied ``position``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if await asyncio.to_thread(self.position) >= position:
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
