"""The audit timeline view: one entry per told event, per connection and per tenant."""

from __future__ import annotations

from collections.abc import Sequence

from services.projections.adapters import audit_table as table
from services.projections.adapters import tables
from services.projections.adapters.tables import Row, TableSpec
from services.projections.domain import audit
from services.projections.projection import Change, Recorded
from services.projections.views.connection_status import driver_secrets
from shared.sql import Transaction


def _subject_key(recorded: Recorded) -> str | None:
    """The connection an event is about, when the event itself says so."""
    if recorded.topic.startswith("Connection."):
        return str(recorded.event.originator_id)
    if recorded.topic in ("DataModelMirror.Created.v1", "DataModelMirror.Synced.v1"):
        return str(recorded.event.connection_id)
    return None


class AuditView:
    name = "audit"
    version = 1
    topics = audit.TOPICS

    def __init__(self, spec: TableSpec = table.SPEC, subjects: TableSpec = table.SUBJECTS) -> None:
        self.spec = spec
        self.subjects = subjects

    def tables(self) -> list[TableSpec]:
        return [self.spec, self.subjects]

    def on_tables(self, suffix: str) -> AuditView:
        return AuditView(table.SPEC.named(table.SPEC.name + suffix),
                         table.SUBJECTS.named(table.SUBJECTS.name + suffix))

    def apply(self, tx: Transaction, events: Sequence[Recorded], *, changes: bool = True) -> list[Change]:
        subjects = self._subjects(tx, events)
        by_mirror = {s["mirror_id"]: key for key, s in subjects.items() if s.get("mirror_id")}
        touched: dict[str, Row] = {}
        entries: list[Row] = []
        for recorded in events:
            key = _subject_key(recorded)
            if key is None and recorded.topic == "DataModelMirror.Cleared.v1":
                key = by_mirror.get(str(recorded.event.originator_id))
            before = subjects.get(key) if key else None
            driver = (before or {}).get("driver") or getattr(recorded.event, "driver", "")
            entry = audit.entry(recorded.position, recorded.topic, recorded.event, before, driver_secrets(driver))
            if entry is not None:
                entries.append(entry)
            after = audit.subject_of(before, recorded.topic, recorded.event)
            if key and after is not None and after is not before:
                subjects[key] = touched[key] = after
                if after.get("mirror_id"):
                    by_mirror[after["mirror_id"]] = key
        tables.upsert(tx, self.subjects, touched.values())
        # upsert, not insert: an entry is keyed by its position, so a re-applied batch could never duplicate it.
        tables.upsert(tx, self.spec, entries)
        if not changes:
            return []
        return [Change(self.name, str(e["tenant_id"]), str(e["position"]), e, e["position"]) for e in entries]

    def _subjects(self, tx: Transaction, events: Sequence[Recorded]) -> dict[str, Row]:
        keys = {k for k in map(_subject_key, events) if k}
        found = {r["connection_id"]: r for r in tables.load_many(tx, self.subjects, "connection_id", keys)}
        mirrors = {str(r.event.originator_id) for r in events if r.topic == "DataModelMirror.Cleared.v1"}
        for row in tables.load_many(tx, self.subjects, "mirror_id", mirrors):
            found.setdefault(row["connection_id"], row)
        return found
