"""Applying events to a view of one row per key: load the batch's rows at once, evolve, write the last state.

Rows are written once per key per batch (the last state), while a :class:`Change` is kept for every event that
changed a row, so live subscribers still see each step (requested, running, succeeded) in order. A rebuild,
which publishes nothing, asks for no changes and none is made.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from services.projections.adapters import tables
from services.projections.adapters.tables import Row, TableSpec
from services.projections.projection import Change, Recorded
from shared.sql import Transaction

Evolve = Callable[[Row | None, str, Any], Row | None]  # (row, topic, event) -> row
KeyOf = Callable[[Recorded], Hashable | None]
# (tx, the rows as loaded before the batch, the rows the batch changed as written: None for one removed), by key
Written = Callable[[Transaction, dict[str, Row | None], dict[str, Row | None]], None]


def apply_keyed(tx: Transaction, view: str, spec: TableSpec, events: Sequence[Recorded], key_of: KeyOf,
                evolve: Evolve, to_row: Callable[[Row], Row] | None = None,
                from_row: Callable[[Row], Row] | None = None, *, changes: bool = True,
                written: Written | None = None) -> list[Change]:
    """Evolve the rows of ``spec`` (keyed by its single key column) through ``events``.

    ``key_of`` gives an event's key, or what the key is the text (``str``) of: an aggregate's UUID is made text
    once per key in the batch, not once per event (``UUID.__str__`` is Python code). ``to_row``/``from_row``
    translate between what ``evolve`` works on and the stored row, for views that store a document plus a few
    query columns. ``changes`` False: return no :class:`Change` (the caller would throw them away).
    ``written`` keeps tables derived from the rows (called after they are written, with what they were before).
    """
    texts: dict[Hashable, str] = {}
    keyed: list[tuple[str, Recorded]] = []
    for recorded in events:
        found = key_of(recorded)
        if found is None:
            continue
        key = texts.get(found)
        if key is None:
            key = texts[found] = str(found)
        keyed.append((key, recorded))
    loaded = tables.load_many(tx, spec, spec.key[0], texts.values())
    current: dict[str, Row | None] = {
        row[spec.key[0]]: (from_row(row) if from_row else row) for row in loaded
    }
    loaded_rows = dict(current) if written else {}
    touched: dict[str, Row | None] = {}
    made: list[Change] = []
    for key, recorded in keyed:
        before = current.get(key)
        after = evolve(before, recorded.topic, recorded.event)
        if after is before:
            continue  # an event this view does not show
        current[key] = touched[key] = after
        if changes:
            tenant: Any = (after or before or {}).get("tenant_id")
            made.append(Change(view, str(tenant), key, after, recorded.position))
    tables.upsert(tx, spec, [to_row(r) if to_row else r for r in touched.values() if r is not None])
    tables.delete(tx, spec, [(k,) for k, r in touched.items() if r is None])
    if written:
        written(tx, loaded_rows, touched)
    return made
