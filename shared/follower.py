"""Following the event store's notification log: the one way the relay and the projections read new events.

eventsourcing 9.5's SQLite recorder has no ``subscribe()``, so the follower polls ``select_notifications``
from its last position; the same interface serves PostgreSQL. With ``listen=True`` on PostgreSQL it also
LISTENs on the channel the recorder NOTIFYs after every insert, and wakes at once instead of at the next poll
(polling stays as the safety net for a missed or dropped notification).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Notification


class NotificationFollower:
    """Yields batches of notifications after a position, waiting (polling) when caught up."""

    def __init__(self, recorder: ApplicationRecorder, poll_interval: float = 0.05, batch_size: int = 500,
                 *, listen: bool = False) -> None:
        self._recorder = recorder
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._listen = listen and hasattr(recorder, "channel_name") and hasattr(recorder, "datastore")

    def read(self, after: int, limit: int | None = None) -> Sequence[Notification]:
        return self._recorder.select_notifications(start=after + 1, limit=limit or self._batch_size)

    def max_position(self) -> int:
        return self._recorder.max_notification_id() or 0

    async def follow(self, after: int, stop: asyncio.Event) -> AsyncIterator[Sequence[Notification]]:
        """Batches in order, from ``after`` on, until ``stop`` is set."""
        position = after
        wake = asyncio.Event()
        listener = _Listener(self._recorder, wake, asyncio.get_running_loop()) if self._listen else None
        try:
            while not stop.is_set():
                wake.clear()
                batch = await asyncio.to_thread(self.read, position)
                if not batch:
                    await _first_of(stop, wake, self._poll_interval)
                    continue
                yield batch
                position = batch[-1].id
        finally:
            if listener is not None:
                listener.stop()


async def _first_of(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


class _Listener:
    """A thread holding one PostgreSQL connection in LISTEN, setting ``wake`` on every notification."""

    def __init__(self, recorder: Any, wake: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
        self._recorder = recorder
        self._wake = wake
        self._loop = loop
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from psycopg.sql import SQL, Identifier

        while not self._stopped.is_set():
            try:
                with self._recorder.datastore.get_connection() as conn:
                    conn.execute(SQL("LISTEN {0}").format(Identifier(self._recorder.channel_name)))
                    conn.commit()
                    while not self._stopped.is_set():
                        for _ in conn.notifies(timeout=0.2, stop_after=1):
                            self._loop.call_soon_threadsafe(self._wake.set)
            except Exception:  # noqa: BLE001 - a lost connection only costs latency: polling goes on; retry
                self._stopped.wait(1.0)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2)
