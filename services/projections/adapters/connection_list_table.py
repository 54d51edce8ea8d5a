"""The connection list's SQL table: rows keyed by connection id, queried per tenant."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from services.projections.domain.connection_list import COLUMNS, Row
from shared.sql import Transaction

TABLE = "connection_list"
_INTEGER_COLUMNS = {"sync_done", "sync_total", "deletion_step", "version"}
SORTABLE = ("name", "created_at", "updated_at", "status", "driver")


def schema(table: str = TABLE) -> list[str]:
    columns = ", ".join(
        f"{c} {'BIGINT' if c in _INTEGER_COLUMNS else 'TEXT'}" + (" PRIMARY KEY" if c == "connection_id" else "")
        for c in COLUMNS
    )
    return [
        f"CREATE TABLE IF NOT EXISTS {table} ({columns})",
        f"CREATE INDEX IF NOT EXISTS {table}_tenant_name ON {table} (tenant_id, name, connection_id)",
        f"CREATE INDEX IF NOT EXISTS {table}_tenant_status ON {table} (tenant_id, status)",
    ]


def create_table(tx: Transaction, table: str = TABLE) -> None:
    for statement in schema(table):
        tx.execute(statement)


def load(tx: Transaction, connection_id: str, table: str = TABLE) -> Row | None:
    tx.execute(f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE connection_id = ?", (connection_id,))
    found = tx.fetchone()
    return dict(zip(COLUMNS, found, strict=True)) if found else None


def save(tx: Transaction, row: Row, table: str = TABLE) -> None:
    names = ", ".join(COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "connection_id")
    tx.execute(
        f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT (connection_id) DO UPDATE SET {updates}",
        [row[c] for c in COLUMNS],
    )


def delete(tx: Transaction, connection_id: str, table: str = TABLE) -> None:
    tx.execute(f"DELETE FROM {table} WHERE connection_id = ?", (connection_id,))


@dataclass(frozen=True)
class ListQuery:
    tenant_id: str
    status: str | None = None
    driver: str | None = None
    text: str | None = None
    sort: str = "name"
    descending: bool = False
    limit: int = 50
    cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise ValueError("invalid cursor") from None
    if not isinstance(values, list) or len(values) != 2:
        raise ValueError("invalid cursor")
    return values


def query(tx: Transaction, q: ListQuery, table: str = TABLE) -> tuple[list[Row], str | None]:
    """One page of the tenant's list; keyset pagination on (sort column, connection id)."""
    if q.sort not in SORTABLE:
        raise ValueError(f"cannot sort by {q.sort!r}; use one of {', '.join(SORTABLE)}")
    where, params = ["tenant_id = ?"], [q.tenant_id]
    if q.status:
        where.append("status = ?")
        params.append(q.status)
    if q.driver:
        where.append("driver = ?")
        params.append(q.driver)
    if q.text:
        where.append("LOWER(name) LIKE ?")
        params.append("%" + q.text.lower().replace("%", "").replace("_", "") + "%")
    op, order = ("<", "DESC") if q.descending else (">", "ASC")
    if q.cursor:
        after_value, after_id = decode_cursor(q.cursor)
        where.append(f"({q.sort} {op} ? OR ({q.sort} = ? AND connection_id {op} ?))")
        params.extend([after_value, after_value, after_id])
    tx.execute(
        f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE {' AND '.join(where)} "
        f"ORDER BY {q.sort} {order}, connection_id {order} LIMIT ?",
        [*params, q.limit + 1],
    )
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in tx.fetchall()]
    page, more = rows[: q.limit], len(rows) > q.limit
    next_cursor = encode_cursor([page[-1][q.sort], page[-1]["connection_id"]]) if more and page else None
    return page, next_cursor


def all_rows(tx: Transaction, table: str = TABLE) -> list[Row]:
    tx.execute(f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY connection_id")
    return [dict(zip(COLUMNS, r, strict=True)) for r in tx.fetchall()]
