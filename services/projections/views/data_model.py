"""The data model view (DataHub): attribute sets, attributes and set members per connection, and every sync's
summary and change list."""

from __future__ import annotations

from collections.abc import Sequence

from services.projections.adapters import data_model_tables as dm
from services.projections.adapters import tables
from services.projections.adapters.tables import Row, TableSpec
from services.projections.domain import data_model
from services.projections.projection import Change, Recorded
from shared.sql import Transaction


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

    def apply(self, tx: Transaction, events: Sequence[Recorded]) -> list[Change]:
        # Syncs are applied one by one: each needs the documents the previous one stored.
        mirrors = {r["mirror_id"]: r for r in tables.load_many(
            tx, self.t.mirrors, "mirror_id", {str(e.event.originator_id) for e in events})}
        changes: list[Change] = []
        for recorded in events:
            mirror_id = str(recorded.event.originator_id)
            if recorded.topic == "DataModelMirror.Created.v1":
                mirrors[mirror_id] = data_model.mirror_of(recorded.event)
                tables.upsert(tx, self.t.mirrors, [mirrors[mirror_id]])
                continue
            mirror = mirrors.get(mirror_id)
            if mirror is None:
                continue  # never happens: a mirror's first event names its connection
            update = self._update(tx, recorded, mirror)
            self._write(tx, update, mirror["tenant_id"])
            changes.append(Change(self.name, mirror["tenant_id"], update.connection_id, update.summary,
                                  recorded.position))
        return changes

    def _update(self, tx: Transaction, recorded: Recorded, mirror: Row) -> data_model.ModelUpdate:
        event = recorded.event
        if recorded.topic == "DataModelMirror.Cleared.v1":
            attributes, sets = dm.clear(tx, self.t, mirror["connection_id"])
            return data_model.cleared(recorded.position, event, mirror, attributes, sets)
        connection_id = mirror["connection_id"]
        attribute_codes = [*(a["code"] for a in event.changed_attributes), *event.removed_attributes]
        set_codes = [*(s["code"] for s in event.changed_sets), *event.removed_sets]
        return data_model.synced(
            recorded.position, event, mirror["tenant_id"],
            dm.documents(tx, self.t.attributes, connection_id, attribute_codes),
            dm.documents(tx, self.t.sets, connection_id, set_codes),
        )

    def _write(self, tx: Transaction, update: data_model.ModelUpdate, tenant_id: str) -> None:
        if not update.clear:
            dm.remove_codes(tx, self.t.attributes, update.connection_id, update.remove_attributes)
            tables.upsert(tx, self.t.attributes, update.upsert_attributes)
            dm.remove_codes(tx, self.t.sets, update.connection_id, update.remove_sets)
            tables.upsert(tx, self.t.sets, update.upsert_sets)
            dm.replace_members(tx, self.t, update.connection_id, tenant_id, update.upsert_sets, update.remove_sets)
        tables.upsert(tx, self.t.syncs, [update.summary])
        tables.insert(tx, self.t.changes, update.changes)
