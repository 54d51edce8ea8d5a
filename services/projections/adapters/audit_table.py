"""The audit timeline table (one entry per told event) and the connections it remembers to tell them."""

from __future__ import annotations

from dataclasses import dataclass

from services.projections.adapters import pages, tables
from shared.sql import Transaction

SPEC = tables.TableSpec(
    "audit_entries",
    {"position": "int", "tenant_id": "text", "connection_id": "text", "occurred_at": "text", "event_type": "text",
     "actor": "text", "correlation_id": "text", "causation_id": "text", "reason": "text", "summary": "text",
     "details": "json"},
    ("position",),
    {
        "tenant": ("tenant_id", "position"),
        "connection": ("connection_id", "position"),
        "correlation": ("tenant_id", "correlation_id", "position"),
    },
)
SUBJECTS = tables.TableSpec(
    "audit_subjects",
    {"connection_id": "text", "tenant_id": "text", "name": "text", "driver": "text", "mirror_id": "text"},
    ("connection_id",),
    {"mirror": ("mirror_id",)},
    write_indexes=("mirror",),  # a data model's events name their mirror: the view finds the connection by it
)
ORDER = ("position",)


@dataclass(frozen=True)
class TimelineQuery:
    """Newest first; one connection's entries, or the whole tenant's, optionally one correlation's."""

    tenant_id: str
    connection_id: str | None = None
    correlation_id: str | None = None
    actor: str | None = None
    limit: int = 50
    cursor: str | None = None


def query(tx: Transaction, q: TimelineQuery, spec: tables.TableSpec = SPEC) -> tuple[list[tables.Row], str | None]:
    where, params = ["tenant_id = ?"], [q.tenant_id]
    for column in ("connection_id", "correlation_id", "actor"):
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
    return pages.page([spec.decode(r) for r in tx.fetchall()], q.limit, ORDER)
