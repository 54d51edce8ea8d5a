"""Rebuilding a read-side view beside the live one, with the read side's own code, and comparing them.

The read side (``services.projections``) knows how to fold the store into a view: its :func:`build` fills a
projection's tables from the store, and :meth:`Projection.on_tables` points a projection at other tables. This
adapter builds into shadow tables named ``<table>__audit`` (apart from the read side's own ``__rebuild``
tables), then compares them row by row with the live tables, without touching the live view.

The live view keeps moving while the rebuild runs, so the shadow is first built up to the live view's tracked
position, then the live rows and their position are read in one snapshot, and the shadow catches up to that
position before the comparison: both sides are compared at the same position.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from services.audit.domain.view_digests import Rows, compare, view_digest
from services.audit.ports import Progress, RebuildReport
from services.projections.adapters import tables, view_state
from services.projections.adapters.tables import TableSpec
from services.projections.application import EventStoreReader
from services.projections.projection import Projection
from services.projections.rebuild import RebuildProgress, build
from shared.sql import Database, Transaction

SUFFIX = "__audit"
_CATCH_UP_ROUNDS = 5  # the live view moves on while we compare; stop chasing it after this many rounds


@dataclass(frozen=True)
class _Snapshot:
    position: int
    tables: dict[str, Rows]


class ReadSideViewRebuild:
    """A :class:`~services.audit.ports.ViewRebuild` of one read-side view."""

    def __init__(self, store: EventStoreReader, views: Database, projection: Projection,
                 replace: Callable[[str], int]) -> None:
        self.name = projection.name
        self._store = store
        self._views = views
        self._projection = projection
        self._replace = replace

    def rebuild(self, progress: Progress, *, keep_shadow: bool = False) -> RebuildReport:
        shadow = self._projection.on_tables(SUFFIX)
        self._recreate(shadow.tables())
        counter = RebuildProgress(self.name)
        # Only the live position now (its rows would be read again after the build): where to build up to.
        live_position = self._live_position()
        target = live_position if live_position is not None else self._store.recorder.max_notification_id() or 0
        position, live, seconds = 0, None, 0.0
        for _ in range(_CATCH_UP_ROUNDS):
            started = time.perf_counter()
            position = self._build(shadow, position, target, progress, counter)
            seconds += time.perf_counter() - started  # the build's time; reading the live rows is the comparison's
            live = self._snapshot()
            if live is None or live.position <= position:
                break
            target = live.position
        rebuilt = self._read(shadow.tables(), drop=not keep_shadow)
        found = live.tables if live is not None else {}
        differences = [difference for spec in self._projection.tables()
                       for difference in compare(spec.name, found.get(spec.name, {}), rebuilt[spec.name])]
        return RebuildReport(
            view=self.name, position=position, events=position, applied=counter.events_applied, seconds=seconds,
            live_rows=sum(map(len, found.values())), rebuilt_rows=sum(map(len, rebuilt.values())),
            live_digest=view_digest(found), rebuilt_digest=view_digest(rebuilt), differences=differences,
            live_found=live is not None,
        )

    def replace(self) -> int:
        """Replace the live view by a fresh rebuild: the read side's own rebuild, swapped in under its lock."""
        return self._replace(self.name)

    def _build(self, shadow: Projection, after: int, stop: int, progress: Progress, counter: RebuildProgress) -> int:
        """One build over the whole range (its read-ahead never restarts), the progress bar moved per batch."""
        progress.start(f"rebuild {self.name}", max(0, stop - after))
        shown = after

        def batch_done(position: int) -> None:
            nonlocal shown
            progress.advance(position - shown)
            shown = position

        reached = build(self._store, self._views, shadow, after=after, up_to=stop, progress=counter,
                        batch_done=batch_done) if after < stop else after
        progress.finish()
        return reached

    def _recreate(self, specs: list[TableSpec]) -> None:
        with self._views.transaction() as tx:
            for spec in specs:
                tables.drop(tx, spec)
                tables.create(tx, spec)

    def _live_position(self) -> int | None:
        """The live view's tracked position (None when the view was never built)."""
        try:
            with self._views.transaction() as tx:
                for spec in self._projection.tables():  # a view without its tables was never built
                    tx.execute(f"SELECT 1 FROM {spec.name} LIMIT 1")
                    tx.fetchall()
                return view_state.positions(tx, [self.name])[self.name]
        except Exception as exc:
            if "no such table" in str(exc) or "does not exist" in str(exc):
                return None
            raise

    def _snapshot(self) -> _Snapshot | None:
        """The live rows and the position they reflect, read together (None when the view was never built)."""
        try:
            with self._views.transaction() as tx:
                if self._views.dialect == "postgres":
                    tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                position = view_state.positions(tx, [self.name])[self.name]
                return _Snapshot(position, {spec.name: _keyed(tx, spec) for spec in self._projection.tables()})
        except Exception as exc:
            if "no such table" in str(exc) or "does not exist" in str(exc):
                return None
            raise

    def _read(self, shadow_specs: list[TableSpec], *, drop: bool) -> dict[str, Rows]:
        """The shadow's rows under the live tables' names, so both sides compare table by table."""
        with self._views.transaction() as tx:
            rows = {live.name: _keyed(tx, spec)
                    for live, spec in zip(self._projection.tables(), shadow_specs, strict=True)}
            if drop:
                for spec in shadow_specs:
                    tables.drop(tx, spec)
        return rows


def _keyed(tx: Transaction, spec: TableSpec) -> Rows:
    return {"/".join(str(row[k]) for k in spec.key): row for row in tables.rows(tx, spec)}
