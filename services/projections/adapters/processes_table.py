"""The processes table (one row per job or deletion) and the connections it names, queried per tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.projections.adapters import pages, tables
from shared.sql import Transaction

_KINDS = {
    "process_id": "text", "job_id": "text", "connection_id": "text", "tenant_id": "text", "connection_name": "text",
    "driver": "text", "kind": "text", "state": "text", "open": "bool", "attempt": "int", "done": "int",
    "total": "int", "requested_at": "text", "started_at": "text", "ended_at": "text", "duration_seconds": "float",
    "last_activity_at": "text", "worker": "text", "error_type": "text", "retryable": "bool", "message": "text",
    "reason": "text", "requested_by": "text", "correlation_id": "text", "detail": "text",
}
SPEC = tables.TableSpec(
    "processes", _KINDS, ("process_id",),
    {
        "tenant_requested": ("tenant_id", "requested_at", "process_id"),
        "tenant_open": ("tenant_id", "open", "requested_at", "process_id"),
        "connection": ("connection_id", "requested_at", "process_id"),
    },
)
CONNECTIONS = tables.TableSpec(
    "process_connections",
    {"connection_id": "text", "tenant_id": "text", "name": "text", "driver": "text"},
    ("connection_id",),
)
ORDER = ("requested_at", "process_id")
OPEN_STATES = ("requested", "running")


def to_row(process: dict[str, Any]) -> tables.Row:
    return {**process, "open": process["state"] in OPEN_STATES}


@dataclass(frozen=True)
class ProcessQuery:
    """Newest first. ``state``: running (requested or running), finished, or all; ``finished_since`` keeps
    only finished processes that ended at or after that ISO time (running ones always show)."""

    tenant_id: str
    state: str = "all"
    kind: str | None = None
    connection_id: str | None = None
    finished_since: str | None = None
    limit: int = 50
    cursor: str | None = None


def query(tx: Transaction, q: ProcessQuery, spec: tables.TableSpec = SPEC) -> tuple[list[tables.Row], str | None]:
    where, params = ["tenant_id = ?"], [q.tenant_id]
    if q.state == "running":
        where.append("open = 1")
    elif q.state == "finished":
        where.append("open = 0")
    elif q.state != "all":
        raise ValueError(f"unknown process state filter {q.state!r}; use running, finished or all")
    if q.finished_since:
        where.append("(open = 1 OR ended_at >= ?)")
        params.append(q.finished_since)
    for column in ("kind", "connection_id"):
        value = getattr(q, column)
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    after, after_params = pages.after(ORDER, q.cursor, descending=True)
    if after:
        where.append(after)
        params.extend(after_params)
    tx.execute(f"{spec.select()} WHERE {' AND '.join(where)} ORDER BY {pages.order_by(ORDER, True)} LIMIT ?",
               [*params, q.limit + 1])
    rows = [spec.decode(r) for r in tx.fetchall()]
    return pages.page(rows, q.limit, ORDER)
