"""The chain follower rides out a store that is briefly unavailable instead of exiting (a locked SQLite file)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Sequence

from eventsourcing.persistence import StoredEvent
from eventsourcing.popo import POPOApplicationRecorder

from services.audit.domain.chain import Link
from services.audit.integrity import IntegrityFollower
from shared.follower import NotificationFollower


class LockedOnce:
    """A chain table whose first append finds the database locked, as another process's write can in SQLite."""

    def __init__(self) -> None:
        self.rows: list[Link] = []
        self.refused = 0

    def head(self) -> Link | None:
        return self.rows[-1] if self.rows else None

    def append(self, links: Sequence[Link], after: int) -> bool:
        if not self.refused:
            self.refused += 1
            raise sqlite3.OperationalError("database is locked")
        if (self.rows[-1].position if self.rows else 0) != after:
            return False
        self.rows.extend(links)
        return True

    def links(self, after: int, limit: int) -> Sequence[Link]:
        return [link for link in self.rows if link.position > after][:limit]

    def link_at(self, position: int) -> Link | None:
        return next((link for link in self.rows if link.position == position), None)


async def test_a_locked_store_is_waited_out_and_every_record_is_still_sealed_in_order() -> None:
    recorder = POPOApplicationRecorder()
    recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "Connection.Created.v1", b"{}") for _ in range(3)])
    chain = LockedOnce()
    stop = asyncio.Event()
    running = asyncio.create_task(IntegrityFollower(NotificationFollower(recorder, 0.01), chain).run(stop))
    for _ in range(200):
        if chain.rows:
            break
        assert not running.done(), running.exception() if running.done() else None
        await asyncio.sleep(0.02)
    recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "Connection.Created.v1", b"{}")])
    for _ in range(200):
        if len(chain.rows) == 4:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert chain.refused == 1
    assert [link.position for link in chain.rows] == [1, 2, 3, 4]
