"""The projection runner: applies stored events to every view, each batch with the views' positions in one
transaction.

Each view keeps its own position. A batch is applied, inside one transaction, to each view only after that
view's position (read under a row lock), and the new positions are written in the same transaction, so every
event reaches every view exactly once whatever crashes, replays or concurrent rebuilds happen. Only after the
commit are the changes published to live subscribers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Notification, Transcoder

import services.connections.domain  # noqa: F401 - registers the stored event names for decoding
from services.projections.adapters import view_state
from services.projections.adapters.transcoder import ScanningJSONTranscoder
from services.projections.live import ChangeHub
from services.projections.projection import Change, Projection, Recorded
from shared.follower import NotificationFollower
from shared.logging import get_logger
from shared.sql import Database

log = get_logger(__name__)


class EventStoreReader(Application[Any]):
    """Read-only access to the connections store: its recorder and the mapper that decodes its events."""

    name = "connections"

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON transcoding, decoded through the scanner (unless the environment names another)."""
        transcoder = self.factory.transcoder()
        if type(transcoder) is JSONTranscoder:
            transcoder = ScanningJSONTranscoder()
        if isinstance(transcoder, JSONTranscoder):
            self.register_transcodings(transcoder)
        return transcoder


def decode(store: EventStoreReader, notifications: Iterable[Notification], topics: frozenset[str]) -> list[Recorded]:
    """The notifications some view reads, decoded once for all of them."""
    to_domain_event = store.mapper.to_domain_event
    return [Recorded(n.id, n.topic, to_domain_event(n)) for n in notifications if n.topic in topics]


@dataclass
class RunnerStats:
    """What the metrics endpoint reports about the runner's work."""

    batches: int = 0
    events: int = 0
    applied: dict[str, int] = field(default_factory=dict)
    last_batch_seconds: float = 0.0
    last_commit_at: float = 0.0


class ProjectionRunner:
    """Follows the store and keeps every view in step; publishes each committed batch's changes."""

    def __init__(self, store: EventStoreReader, views: Database, projections: Sequence[Projection],
                 follower: NotificationFollower, hub: ChangeHub | None = None) -> None:
        self.store = store
        self.views = views
        self.projections = list(projections)
        self.follower = follower
        self.hub = hub
        self.topics = frozenset().union(*(p.topics for p in self.projections))
        self.stats = RunnerStats()
        self._positions: dict[str, int] = {}
        self._moved: asyncio.Condition | None = None
        self._moved_loop: asyncio.AbstractEventLoop | None = None
        reset = view_state.prepare(views, self.projections)
        for name in reset:
            log.warning("view_reset_for_new_version", view=name)
        self._positions = self.read_positions()

    def by_name(self, name: str) -> Projection:
        for projection in self.projections:
            if projection.name == name:
                return projection
        raise KeyError(name)

    # ----- positions ------------------------------------------------------------------------------------------

    def read_positions(self) -> dict[str, int]:
        with self.views.transaction() as tx:
            return view_state.positions(tx, [p.name for p in self.projections])

    def positions(self) -> dict[str, int]:
        """The last position each view applied, as this process knows it."""
        return dict(self._positions)

    def note_positions(self, positions: dict[str, int]) -> None:
        """Record positions that moved (a batch, or a rebuild's swap) and wake read-your-writes waiters."""
        for name, position in positions.items():
            self._positions[name] = max(self._positions.get(name, 0), position)
        loop = self._moved_loop
        if self._moved is not None and loop is not None:

            async def notify() -> None:
                assert self._moved is not None
                async with self._moved:
                    self._moved.notify_all()

            if loop.is_running():
                asyncio.run_coroutine_threadsafe(notify(), loop)

    # ----- applying -------------------------------------------------------------------------------------------

    def apply(self, batch: Sequence[Notification]) -> list[Change]:
        """Apply one batch to every view after its own position, and record the positions, atomically."""
        started = time.perf_counter()
        recorded = decode(self.store, batch, self.topics)
        last = batch[-1].id
        changes: list[Change] = []
        moved: dict[str, int] = {}
        counts: dict[str, int] = {}
        with self.views.transaction(pipelined=True) as tx:
            current = view_state.lock_positions(tx, self.views.dialect, [p.name for p in self.projections])
            for projection in self.projections:
                position = current[projection.name]
                if last <= position:
                    continue  # this view already has the whole batch (a rebuild overtook the runner)
                events = [r for r in recorded if r.position > position and r.topic in projection.topics]
                if events:
                    changes += projection.apply(tx, events)
                    counts[projection.name] = len(events)
                moved[projection.name] = last
            view_state.write_positions(tx, moved)
        for name, count in counts.items():
            self.stats.applied[name] = self.stats.applied.get(name, 0) + count
        self.stats.batches += 1
        self.stats.events += len(batch)
        self.stats.last_batch_seconds = time.perf_counter() - started
        self.stats.last_commit_at = time.time()
        self.note_positions(moved)
        return sorted(changes, key=lambda c: c.position)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the store until ``stop``; each committed batch's changes go to the live hub."""
        self.bind_loop()
        start = min(self._positions.values(), default=0)
        log.info("projections_following", views=[p.name for p in self.projections], position=start)
        async for batch in self.follower.follow(start, stop):
            changes = await asyncio.to_thread(self.apply, batch)
            if self.hub is not None and changes:
                self.hub.publish(changes)

    def bind_loop(self) -> None:
        """Read-your-writes waiters live on the running loop; positions may move from other threads."""
        self._moved = asyncio.Condition()
        self._moved_loop = asyncio.get_running_loop()

    async def wait_for(self, position: int, views: Iterable[str] | None = None, timeout: float = 5.0) -> bool:
        """Read-your-writes: wait (bounded) until the named views (default: all) applied ``position``."""
        names = list(views) if views is not None else [p.name for p in self.projections]
        if self._moved is None:
            self.bind_loop()
        assert self._moved is not None

        def reached() -> bool:
            return all(self._positions.get(name, 0) >= position for name in names)

        async with self._moved:
            try:
                await asyncio.wait_for(self._moved.wait_for(reached), timeout)
            except TimeoutError:
                return reached()
        return True
