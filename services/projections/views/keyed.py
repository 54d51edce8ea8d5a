"""Applying events to a view of one row per key: load the batch's rows at once, evolve, write the last state.

Rows are written once per key per batch (the last state), while a :class:`Change` is kept for every event that
changed a row, so live subscribers still see each step (requested, running, succeeded) in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from services.projections.adapters import tables
from services.projections.adapters.tables import Row, TableSpec
from services.projections.projection import Change, Recorded
from shared.sql import Transaction

Evolve = Callable[[Row | None, Recorded], Row | None]
KeyOf = Callable[[Recorded], str | None]


def apply_keyed(tx: Transaction, view: str, spec: TableSpec, events: Sequence[Recorded], key_of: KeyOf,
                evolve: Evolve, to_row: Callable[[Row], Row] | None = None,
                from_row: Callable[[Row], Row] | None = None) -> list[Change]:
    """Evolve the rows of ``spec`` (keyed by its single key column) through ``events``.

    ``to_row``/``from_row`` translate between what ``evolve`` works on and the stored row, for views that store
    a document plus a few query columns.
    """
    keyed = [(key_of(recorded), recorded) for recorded in events]
    loaded = tables.load_many(tx, spec, spec.key[0], [key for key, _ in keyed if key is not None])
    current: dict[str, Row | None] = {
        row[spec.key[0]]: (from_row(row) if from_row else row) for row in loaded
    }
    touched: dict[str, Row | None] = {}
    changes: list[Change] = []
    for key, recorded in keyed:
        if key is None:
            continue
        before = current.get(key)
        after = evolve(before, recorded)
        if after is before:
            continue  # an event this view does not show
        current[key] = touched[key] = after
        tenant: Any = (after or before or {}).get("tenant_id")
        changes.append(Change(view, str(tenant), key, after, recorded.position))
    tables.upsert(tx, spec, [to_row(r) if to_row else r for r in touched.values() if r is not None])
    tables.delete(tx, spec, [(k,) for k, r in touched.items() if r is None])
    return changes
