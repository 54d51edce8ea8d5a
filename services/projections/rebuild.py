"""Rebuilding a view from the store while the service runs, and the digest that proves a rebuild equals it.

A rebuild fills shadow tables (``<table>__rebuild``) from position 0 in large batches, without holding anything
the live view needs. Once the shadow is within one batch of the store, it locks the view's position (so the
runner waits), applies the last events, and in that one transaction drops the live tables, renames the shadow
ones and writes the position. Readers see the old view or the new one, never a mix.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from eventsourcing.persistence import Notification

from services.projections.adapters import tables, view_state
from services.projections.adapters.tables import TableSpec
from services.projections.application import EventStoreReader, decode
from services.projections.projection import SHADOW_SUFFIX, Projection
from shared.logging import get_logger
from shared.runtime import collector_paused
from shared.sql import Database

log = get_logger(__name__)

BATCH_SIZE = 5_000


@dataclass
class RebuildProgress:
    """Where a rebuild is: ``state`` is pending, building, swapping, done or failed."""

    view: str
    state: str = "pending"
    position: int = 0
    target: int = 0
    events_applied: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None

    @property
    def seconds(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.time()) - self.started_at

    @property
    def events_per_second(self) -> float:
        """Store positions covered per second (every event read, whether the view uses it or not)."""
        return self.position / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        fraction = min(1.0, self.position / self.target) if self.target else (1.0 if self.state == "done" else 0.0)
        return {**asdict(self), "seconds": round(self.seconds, 3), "fraction": round(fraction, 4),
                "events_per_second": round(self.events_per_second, 1)}


def view_digest(db: Database, projection: Projection) -> str:
    """SHA-256 of every row of the view's tables in key order: equal views, equal digests."""
    with db.transaction() as tx:
        return tables.digest(tx, projection.tables())


def build(store: EventStoreReader, db: Database, projection: Projection, *, after: int = 0,
          up_to: int | None = None, batch_size: int = BATCH_SIZE,
          progress: RebuildProgress | None = None, batch_done: Callable[[int], None] | None = None) -> int:
    """Apply the store's events in ``(after, up_to]`` to the projection's tables; returns the position reached.
    ``batch_done(position)`` runs after each batch (a progress bar).

    The tables must exist. Each batch is one transaction; nothing here touches the view's tracked position.
    The next batch is read in a second thread while this one is decoded and applied: the store's database works
    on the read (and the driver waits for it, without the GIL) while Python folds the batch before. A batch is
    folded with the cyclic collector paused: its thousands of objects have no cycles and go when it is done.
    """
    target = up_to if up_to is not None else store.recorder.max_notification_id() or 0
    topics = sorted(projection.topics)

    def read(start: int) -> Sequence[Notification]:
        return store.recorder.select_notifications(start=start, limit=batch_size, stop=target, topics=topics)

    position = after
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"rebuild-read-{projection.name}") as reader:
        ahead: Future[Sequence[Notification]] | None = reader.submit(read, position + 1) if position < target else None
        while ahead is not None:
            batch = ahead.result()
            # Fewer than a full batch means nothing the view reads is left up to the target.
            reached = batch[-1].id if len(batch) == batch_size else target
            ahead = reader.submit(read, reached + 1) if reached < target else None
            with collector_paused():
                applied = _fold(store, db, projection, batch)
            position = reached
            if progress is not None:
                progress.position, progress.target = position, max(target, progress.target)
                progress.events_applied += applied
            if batch_done is not None:
                batch_done(position)
    return position


def _fold(store: EventStoreReader, db: Database, projection: Projection, batch: Sequence[Notification]) -> int:
    """Decode one batch and apply what the view reads in one transaction; how many events that was."""
    recorded = decode(store, batch, projection.topics)
    if recorded:
        with db.transaction(pipelined=True) as tx:
            projection.apply(tx, recorded, changes=False)
    return len(recorded)


def rebuild(store: EventStoreReader, db: Database, projection: Projection, *, batch_size: int = BATCH_SIZE,
            progress: RebuildProgress | None = None, swapped: Callable[[int], None] | None = None) -> RebuildProgress:
    """Rebuild ``projection`` into shadow tables and swap them in; ``swapped(position)`` runs after the commit."""
    progress = progress or RebuildProgress(projection.name)
    progress.state, progress.started_at = "building", time.time()
    shadow = projection.on_tables(SHADOW_SUFFIX)
    try:
        trigram = view_state.trigram_enabled(db)
        with db.transaction() as tx:
            for spec in shadow.tables():
                tables.drop(tx, spec)
                tables.create(tx, spec, trigram, deferred=True)
        position = 0
        while True:
            target = store.recorder.max_notification_id() or 0
            progress.target = target
            if target - position <= batch_size:
                break
            position = build(store, db, shadow, after=position, up_to=target, batch_size=batch_size,
                             progress=progress)
        _build_indexes(db, shadow.tables(), trigram)
        if db.dialect == "postgres":
            # Statistics before the swap: a table PostgreSQL has not analyzed yet is planned as if nearly empty
            # (a filter's rows sorted instead of read from the index in order) until autovacuum gets to it.
            with db.transaction() as tx:
                for spec in shadow.tables():
                    tx.execute(f"ANALYZE {spec.name}")
        progress.state = "swapping"
        position = _swap(store, db, projection, shadow, position, progress)
    except Exception as exc:
        progress.state, progress.error, progress.finished_at = "failed", repr(exc), time.time()
        log.error("view_rebuild_failed", view=projection.name, error=repr(exc))
        raise
    progress.state, progress.position, progress.finished_at = "done", position, time.time()
    log.info("view_rebuilt", view=projection.name, position=position, seconds=round(progress.seconds, 3),
             events_per_second=round(progress.events_per_second))
    if swapped is not None:
        swapped(position)
    return progress


def _build_indexes(db: Database, specs: Sequence[TableSpec], trigram: bool) -> None:
    """The indexes only queries read, built once the shadow tables are filled (a sort each, not an insert per row);
    on PostgreSQL several at once, each in a transaction of its own (an index build uses one core)."""
    statements = [statement for spec in specs for statement in spec.ddl(trigram)[1:]]  # [0]: the table
    if db.dialect != "postgres":
        with db.transaction() as tx:
            for statement in statements:
                tx.execute(statement)
        return

    def run(statement: str) -> None:
        with db.transaction() as tx:
            tx.execute(statement)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="rebuild-index") as pool:
        list(pool.map(run, statements))


def _swap(store: EventStoreReader, db: Database, projection: Projection, shadow: Projection, position: int,
          progress: RebuildProgress) -> int:
    """The last events and the swap, in one transaction holding the view's position lock."""
    with db.transaction(pipelined=True) as tx:
        view_state.lock_positions(tx, db.dialect, [projection.name])
        target = store.recorder.max_notification_id() or 0
        topics = sorted(projection.topics)
        while position < target:
            batch = store.recorder.select_notifications(start=position + 1, limit=BATCH_SIZE, stop=target,
                                                        topics=topics)
            recorded = decode(store, batch, projection.topics)
            if recorded:
                shadow.apply(tx, recorded, changes=False)
            progress.events_applied += len(recorded)
            position = batch[-1].id if len(batch) == BATCH_SIZE else target
        for shadow_spec, live_spec in zip(shadow.tables(), projection.tables(), strict=True):
            tables.swap_in(tx, db.dialect, shadow_spec, live_spec)
        view_state.write_position(tx, projection.name, target)
        progress.position = progress.target = target
    return target


class Rebuilds:
    """The rebuilds of one process: at most one per view at a time, each in its own thread, with progress."""

    def __init__(self, store: EventStoreReader, db: Database, swapped: Callable[[str, int], None]) -> None:
        self._store = store
        self._db = db
        self._swapped = swapped
        self._lock = threading.Lock()
        self.progress: dict[str, RebuildProgress] = {}
        self._threads: dict[str, threading.Thread] = {}

    def start(self, projection: Projection) -> tuple[RebuildProgress, bool]:
        """Start rebuilding ``projection``; returns its progress and False when one is already running."""
        with self._lock:
            running = self._threads.get(projection.name)
            if running is not None and running.is_alive():
                return self.progress[projection.name], False
            progress = RebuildProgress(projection.name)
            self.progress[projection.name] = progress

            def run() -> None:
                try:
                    rebuild(self._store, self._db, projection, progress=progress,
                            swapped=lambda position: self._swapped(projection.name, position))
                except Exception:  # noqa: BLE001 - recorded in the progress and logged by rebuild()
                    return

            thread = threading.Thread(target=run, name=f"rebuild-{projection.name}", daemon=True)
            self._threads[projection.name] = thread
            thread.start()
            return progress, True

    def join(self, timeout: float | None = None) -> None:
        for thread in list(self._threads.values()):
            thread.join(timeout)
