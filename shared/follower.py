"""Following the event store's notification log: the one way the relay and the projections read new events.

eventsourcing 9.5's SQLite recorder has no ``subscribe()``, so the follower polls ``select_notifications``
from its last position; the same interface serves PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from eventsourcing.persistence import ApplicationRecorder, Notification


class NotificationFollower:
    """Yields batches of notifications after a position, waiting (polling) when caught up."""

    def __init__(self, recorder: ApplicationRecorder, poll_interval: float = 0.05, batch_size: int = 500) -> None:
        self._recorder = recorder
        self._poll_interval = poll_interval
        self._batch_size = batch_size

    def read(self, after: int, limit: int | None = None) -> Sequence[Notification]:
        return self._recorder.select_notifications(start=after + 1, limit=limit or self._batch_size)

    def max_position(self) -> int:
        return self._recorder.max_notification_id() or 0

    async def follow(self, after: int, stop: asyncio.Event) -> AsyncIterator[Sequence[Notification]]:
        """Batches in order, from ``after`` on, until ``stop`` is set."""
        position = after
        while not stop.is_set():
            batch = await asyncio.to_thread(self.read, position)
            if not batch:
                try:
                    await asyncio.wait_for(stop.wait(), self._poll_interval)
                except TimeoutError:
                    pass
                continue
            yield batch
            position = batch[-1].id
