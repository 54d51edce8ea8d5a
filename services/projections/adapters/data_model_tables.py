"""The data model tables DataHub reads: attributes, attribute sets and their members per connection, and
each sync's summary and change list. Every query is scoped by tenant and connection."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.projections.adapters import pages, tables
from services.projections.adapters.tables import Row, TableSpec
from shared.sql import Transaction

MIRRORS = TableSpec("datamodel_mirrors", {"mirror_id": "text", "connection_id": "text", "tenant_id": "text"},
                    ("mirror_id",))
ATTRIBUTES = TableSpec(
    "datamodel_attributes",
    {"connection_id": "text", "code": "text", "tenant_id": "text", "type": "text", "required": "bool",
     "document": "json"},
    ("connection_id", "code"),
)
SETS = TableSpec(
    "datamodel_sets",
    {"connection_id": "text", "code": "text", "tenant_id": "text", "attribute_count": "int", "document": "json"},
    ("connection_id", "code"),
)
MEMBERS = TableSpec(
    "datamodel_set_members",
    {"connection_id": "text", "set_code": "text", "attribute_code": "text", "tenant_id": "text", "ordinal": "int"},
    ("connection_id", "set_code", "attribute_code"),
)
SYNCS = TableSpec(
    "datamodel_syncs",
    {"connection_id": "text", "sync_id": "int", "tenant_id": "text", "kind": "text", "job_id": "text", "at": "text",
     "attributes_total": "int", "sets_total": "int", "attributes_added": "int", "attributes_changed": "int",
     "attributes_removed": "int", "sets_added": "int", "sets_changed": "int", "sets_removed": "int",
     "actor": "text", "correlation_id": "text"},
    ("connection_id", "sync_id"),
)
CHANGES = TableSpec(
    "datamodel_changes",
    {"connection_id": "text", "sync_id": "int", "seq": "int", "tenant_id": "text", "item": "text",
     "change": "text", "code": "text", "fields": "json", "document": "json"},
    ("connection_id", "sync_id", "seq"),
)
@dataclass(frozen=True)
class Tables:
    """The data model's tables under one naming (live, or a rebuild's shadow)."""

    mirrors: TableSpec = MIRRORS
    attributes: TableSpec = ATTRIBUTES
    sets: TableSpec = SETS
    members: TableSpec = MEMBERS
    syncs: TableSpec = SYNCS
    changes: TableSpec = CHANGES

    def suffixed(self, suffix: str) -> Tables:
        return Tables(*(spec.named(spec.name + suffix) for spec in self.all()))

    def all(self) -> list[TableSpec]:
        return [self.mirrors, self.attributes, self.sets, self.members, self.syncs, self.changes]


LIVE = Tables()


# ----- writes ----------------------------------------------------------------------------------------------

def members_of(sets: Iterable[Row]) -> list[Row]:
    """The member rows of set rows: one per attribute code, in the set's order."""
    return [
        {"connection_id": s["connection_id"], "set_code": s["code"], "attribute_code": code,
         "tenant_id": s["tenant_id"], "ordinal": i}
        for s in sets for i, code in enumerate(dict.fromkeys(s["document"].get("attribute_codes") or ()))
    ]


def clear(tx: Transaction, t: Tables, connection_id: str) -> tuple[int, int]:
    """Remove a connection's whole model; returns how many attributes and sets went."""
    counts = []
    for spec in (t.attributes, t.sets):
        tx.execute(f"SELECT COUNT(*) FROM {spec.name} WHERE connection_id = ?", (connection_id,))
        found = tx.fetchone()
        counts.append(int(found[0]) if found else 0)
    for spec in (t.attributes, t.sets, t.members):
        tx.execute(f"DELETE FROM {spec.name} WHERE connection_id = ?", (connection_id,))
    return counts[0], counts[1]


# ----- queries ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelQuery:
    """A page of one connection's sets, attributes (optionally of one set, or codes containing ``text``),
    syncs, or one sync's changes."""

    tenant_id: str
    connection_id: str
    limit: int = 100
    cursor: str | None = None
    set_code: str | None = None
    text: str | None = None
    sync_id: int | None = None


def sets(tx: Transaction, q: ModelQuery, t: Tables = LIVE) -> tuple[list[Row], str | None]:
    return _page(tx, t.sets, q, ("code",), descending=False)


def attributes(tx: Transaction, q: ModelQuery, t: Tables = LIVE) -> tuple[list[Row], str | None]:
    if not q.set_code:
        extra: tuple[str, list[object]] | None = (
            ("LOWER(code) LIKE ?", ["%" + q.text.lower() + "%"]) if q.text else None)
        return _page(tx, t.attributes, q, ("code",), descending=False, extra=extra)
    # Attributes of one set, in the set's own order of codes.
    where = ["m.tenant_id = ?", "m.connection_id = ?", "m.set_code = ?"]
    params: list[object] = [q.tenant_id, q.connection_id, q.set_code]
    if q.cursor:
        where.append("m.ordinal > ?")
        params.append(pages.decode_cursor(q.cursor, 1)[0])
    columns = ", ".join(f"a.{c}" for c in t.attributes.columns)
    tx.execute(
        f"SELECT {columns}, m.ordinal FROM {t.members.name} m JOIN {t.attributes.name} a "
        f"ON a.connection_id = m.connection_id AND a.code = m.attribute_code "
        f"WHERE {' AND '.join(where)} ORDER BY m.ordinal LIMIT ?",
        [*params, q.limit + 1],
    )
    fetched = tx.fetchall()
    rows = [{**t.attributes.decode(r[:-1]), "ordinal": r[-1]} for r in fetched]
    items, cursor = pages.page(rows, q.limit, ("ordinal",))
    return [{k: v for k, v in r.items() if k != "ordinal"} for r in items], cursor


def syncs(tx: Transaction, q: ModelQuery, t: Tables = LIVE) -> tuple[list[Row], str | None]:
    return _page(tx, t.syncs, q, ("sync_id",), descending=True)


def changes(tx: Transaction, q: ModelQuery, t: Tables = LIVE) -> tuple[list[Row], str | None]:
    return _page(tx, t.changes, q, ("seq",), descending=False, extra=("sync_id = ?", [q.sync_id]))


def sync(tx: Transaction, q: ModelQuery, t: Tables = LIVE) -> Row | None:
    found = tables.rows(tx, t.syncs, "tenant_id = ? AND connection_id = ? AND sync_id = ?",
                        [q.tenant_id, q.connection_id, q.sync_id])
    return found[0] if found else None


def _page(tx: Transaction, spec: TableSpec, q: ModelQuery, order: tuple[str, ...], *, descending: bool,
          extra: tuple[str, list[object]] | None = None) -> tuple[list[Row], str | None]:
    where: list[str] = ["tenant_id = ?", "connection_id = ?"]
    params: list[object] = [q.tenant_id, q.connection_id]
    if extra is not None:
        where.append(extra[0])
        params.extend(extra[1])
    after, after_params = pages.after(order, q.cursor, descending)
    if after:
        where.append(after)
        params.extend(after_params)
    tx.execute(f"{spec.select()} WHERE {' AND '.join(where)} ORDER BY {pages.order_by(order, descending)} LIMIT ?",
               [*params, q.limit + 1])
    return pages.page([spec.decode(r) for r in tx.fetchall()], q.limit, order)
