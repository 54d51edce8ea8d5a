"""The data model view (DataHub): attribute sets, attributes and set members per connection, and every sync's
summary and change list.

A batch is evolved in memory (each sync sees the documents the syncs before it left) and written once per
table at the end, so a batch of many syncs costs a handful of statements, not a handful per sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.projections.adapters import data_model_tables as dm
from services.projections.adapters import tables
from services.projections.adapters.tables import Row, TableSpec
from services.projections.domain import data_model
from services.projections.projection import Change, Recorded
from shared.sql import Transaction

Key = tuple[str, str]  # (connection id, code)


@dataclass
class _Pending:
    """What the batch will write: the last state of every touched row (None: delete it)."""

    mirrors: list[Row] = field(default_factory=list)
    attributes: dict[Key, Row | None] = field(default_factory=dict)
    sets: dict[Key, Row | None] = field(default_factory=dict)
    syncs: list[Row] = field(default_factory=list)
    changes: list[Row] = field(default_factory=list)


class DataModelView:
    name = "data_model"
    version = 1
    topics = data_model.TOPICS

    def __init__(self, t: dm.Tables = dm.LIVE) -> None:
        self.t = t

    def tables(self) -> list[TableSpec]:
        return self.t.all()

    def on_tables(self, suffix: str) -> DataModelView:
        return DataModelView(dm.LIVE.suffixed(suffix))

    def apply(self, tx: Transaction, events: Sequence[Recorded], *, changes: bool = True) -> list[Change]:
        mirrors = {r["mirror_id"]: r for r in tables.load_many(
            tx, self.t.mirrors, "mirror_id", {str(e.event.originator_id) for e in events})}
        attributes, sets = self._documents_before(tx, events)
        pending = _Pending()
        made: list[Change] = []
        for recorded in events:
            mirror_id = str(recorded.event.originator_id)
            if recorded.topic == "DataModelMirror.Created.v1":
                mirrors[mirror_id] = data_model.mirror_of(recorded.event)
                pending.mirrors.append(mirrors[mirror_id])
                continue
            mirror = mirrors.get(mirror_id)
            if mirror is None:
                continue  # never happens: a mirror's first event names its connection
            if recorded.topic == "DataModelMirror.Cleared.v1":
                # Rare (a deletion step): write what came before, then clear in SQL.
                self._write(tx, pending)
                pending = _Pending()
                counts = dm.clear(tx, self.t, mirror["connection_id"])
                for documents in (attributes, sets):
                    for key in [k for k in documents if k[0] == mirror["connection_id"]]:
                        documents[key] = None
                update = data_model.cleared(recorded.position, recorded.event, mirror, *counts)
            else:
                update = self._synced(recorded, mirror, attributes, sets, pending)
            pending.syncs.append(update.summary)
            pending.changes += update.changes
            if changes:
                made.append(Change(self.name, mirror["tenant_id"], update.connection_id, update.summary,
                                   recorded.position))
        self._write(tx, pending)
        return made

    def _documents_before(self, tx: Transaction, events: Sequence[Recorded]) -> tuple[dict[Key, Any], dict[Key, Any]]:
        """The stored documents of every attribute and set the batch's syncs change or remove."""
        wanted_attributes: set[Key] = set()
        wanted_sets: set[Key] = set()
        for recorded in events:
            if recorded.topic != "DataModelMirror.Synced.v1":
                continue
            event, connection_id = recorded.event, str(recorded.event.connection_id)
            wanted_attributes |= {(connection_id, a["code"]) for a in event.changed_attributes}
            wanted_attributes |= {(connection_id, code) for code in event.removed_attributes}
            wanted_sets |= {(connection_id, s["code"]) for s in event.changed_sets}
            wanted_sets |= {(connection_id, code) for code in event.removed_sets}
        found = []
        for spec, wanted in ((self.t.attributes, wanted_attributes), (self.t.sets, wanted_sets)):
            rows = tables.load_keys(tx, spec, ("connection_id", "code"), wanted)
            found.append({(r["connection_id"], r["code"]): r["document"] for r in rows})
        return found[0], found[1]

    @staticmethod
    def _synced(recorded: Recorded, mirror: Row, attributes: dict[Key, Any], sets: dict[Key, Any],
                pending: _Pending) -> data_model.ModelUpdate:
        connection_id, event = mirror["connection_id"], recorded.event

        def before(documents: dict[Key, Any], changed: list[dict[str, Any]], removed: list[str]) -> dict[str, Any]:
            codes = [*(item["code"] for item in changed), *removed]
            return {code: doc for code in codes if (doc := documents.get((connection_id, code))) is not None}

        update = data_model.synced(
            recorded.position, event, mirror["tenant_id"],
            before(attributes, event.changed_attributes, event.removed_attributes),
            before(sets, event.changed_sets, event.removed_sets),
        )
        for documents, written, upserts, removed in (
            (attributes, pending.attributes, update.upsert_attributes, update.remove_attributes),
            (sets, pending.sets, update.upsert_sets, update.remove_sets),
        ):
            for code in removed:
                documents[(connection_id, code)] = written[(connection_id, code)] = None
            for row in upserts:
                documents[(connection_id, row["code"])] = row["document"]
                written[(connection_id, row["code"])] = row
        return update

    def _write(self, tx: Transaction, pending: _Pending) -> None:
        tables.upsert(tx, self.t.mirrors, pending.mirrors)
        for spec, written in ((self.t.attributes, pending.attributes), (self.t.sets, pending.sets)):
            tables.delete(tx, spec, [key for key, row in written.items() if row is None])
            tables.upsert(tx, spec, [row for row in written.values() if row is not None])
        # Set members follow each written set's attribute codes; removed sets lose theirs.
        tables.delete_where(tx, self.t.members, ("connection_id", "set_code"), list(pending.sets))
        tables.insert(tx, self.t.members, dm.members_of([row for row in pending.sets.values() if row is not None]))
        tables.upsert(tx, self.t.syncs, pending.syncs)
        tables.insert(tx, self.t.changes, pending.changes)
