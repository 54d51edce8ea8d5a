"""The read side of one process, as the query API sees it: runner, live hub, rebuilds, lag and read access."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from services.projections.application import EventStoreReader, ProjectionRunner
from services.projections.lag import Lag, measure, prometheus_text
from services.projections.live import ChangeHub
from services.projections.rebuild import RebuildProgress, Rebuilds
from shared.sql import Database, Transaction

T = TypeVar("T")


@dataclass
class ReadSide:
    store: EventStoreReader
    views: Database  # the runner's (writing) connection
    reads: Database  # what queries use; on SQLite a second connection, so reads never wait for a batch
    runner: ProjectionRunner
    hub: ChangeHub
    rebuilds: Rebuilds = field(init=False)

    def __post_init__(self) -> None:
        self.rebuilds = Rebuilds(self.store, self.views, self.swapped)

    async def read(self, query: Callable[[Transaction], T]) -> T:
        """Run ``query`` in a read transaction, off the event loop."""

        def run() -> T:
            with self.reads.read_transaction() as tx:
                return query(tx)

        return await asyncio.to_thread(run)

    def swapped(self, view: str, position: int) -> None:
        """A rebuilt view replaced the live one (called from the rebuild's thread)."""
        self.runner.note_positions({view: position})
        self.hub.publish_threadsafe(self.hub.rebuilt, view, position)

    def start_rebuild(self, view: str) -> tuple[RebuildProgress, bool]:
        return self.rebuilds.start(self.runner.by_name(view))

    async def lag(self) -> tuple[int, list[Lag]]:
        return await asyncio.to_thread(measure, self.store, self.runner.positions())

    async def metrics(self) -> str:
        head, lags = await self.lag()
        return prometheus_text(head, lags, self.runner.stats, dict(self.rebuilds.progress), self.hub.subscriber_count)

    def close(self) -> None:
        self.hub.close()
        self.rebuilds.join(timeout=5)
        if self.reads is not self.views:
            self.reads.close()
        self.views.close()
        self.store.close()
