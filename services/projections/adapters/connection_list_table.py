"""The connection list's SQL table: rows keyed by connection id, queried per tenant a page at a time."""

from __future__ import annotations

from dataclasses import dataclass

from services.projections.adapters import pages, tables
from services.projections.adapters.pages import decode_cursor, encode_cursor
from services.projections.domain.connection_list import COLUMNS, Row
from shared.sql import Transaction

__all__ = ["SORTABLE", "SORTS", "SPEC", "ListQuery", "all_rows", "create_table", "decode_cursor", "delete",
           "encode_cursor", "load", "query", "save", "schema"]

TABLE = "connection_list"
_INTEGER_COLUMNS = {"sync_done", "sync_total", "deletion_step", "version"}

SPEC = tables.TableSpec(
    TABLE,
    {c: ("int" if c in _INTEGER_COLUMNS else "text") for c in COLUMNS},
    ("connection_id",),
    {
        "tenant_name": ("tenant_id", "name", "connection_id"),
        "tenant_status": ("tenant_id", "status", "name", "connection_id"),
        "tenant_driver": ("tenant_id", "driver", "name", "connection_id"),
        "tenant_created": ("tenant_id", "created_at", "connection_id"),
        "tenant_updated": ("tenant_id", "updated_at", "connection_id"),
    },
    search=("name",),
)

# Each sort order ends in the key, so pages never skip or repeat a row; each has an index behind it.
SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "connection_id"),
    "status": ("status", "name", "connection_id"),
    "driver": ("driver", "name", "connection_id"),
    "created_at": ("created_at", "connection_id"),
    "updated_at": ("updated_at", "connection_id"),
}
SORTABLE = tuple(SORTS)


def _spec(table: str) -> tables.TableSpec:
    return SPEC if table == TABLE else SPEC.named(table)


def schema(table: str = TABLE) -> list[str]:
    return _spec(table).ddl()


def create_table(tx: Transaction, table: str = TABLE) -> None:
    tables.create(tx, _spec(table))


def load(tx: Transaction, connection_id: str, table: str = TABLE) -> Row | None:
    found = tables.load_many(tx, _spec(table), "connection_id", [connection_id])
    return found[0] if found else None


def save(tx: Transaction, row: Row, table: str = TABLE) -> None:
    tables.upsert(tx, _spec(table), [row])


def delete(tx: Transaction, connection_id: str, table: str = TABLE) -> None:
    tables.delete(tx, _spec(table), [(connection_id,)])


@dataclass(frozen=True)
class ListQuery:
    """One page of one tenant's list: filters, sort order, page size and the cursor of the previous page."""

    tenant_id: str
    status: str | None = None
    driver: str | None = None
    text: str | None = None
    sort: str = "name"
    descending: bool = False
    limit: int = 50
    cursor: str | None = None
    credential_state: str | None = None
    last_sync_state: str | None = None


def query(tx: Transaction, q: ListQuery, table: str = TABLE) -> tuple[list[Row], str | None]:
    """One page of the tenant's list; keyset pagination on the sort columns."""
    if q.sort not in SORTS:
        raise ValueError(f"cannot sort by {q.sort!r}; use one of {', '.join(SORTS)}")
    order = SORTS[q.sort]
    where, params = ["tenant_id = ?"], [q.tenant_id]
    for column in ("status", "driver", "credential_state", "last_sync_state"):
        value = getattr(q, column)
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if q.text:
        where.append("LOWER(name) LIKE ?")
        params.append("%" + q.text.lower().replace("%", "").replace("_", "") + "%")
    after, after_params = pages.after(order, q.cursor, q.descending)
    if after:
        where.append(after)
        params.extend(after_params)
    spec = _spec(table)
    tx.execute(f"{spec.select()} WHERE {' AND '.join(where)} ORDER BY {pages.order_by(order, q.descending)} LIMIT ?",
               [*params, q.limit + 1])
    return pages.page([spec.decode(r) for r in tx.fetchall()], q.limit, order)


def all_rows(tx: Transaction, table: str = TABLE) -> list[Row]:
    return tables.rows(tx, _spec(table))

