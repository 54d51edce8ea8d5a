"""The connection status table: one JSON document per connection, with the columns queries filter on."""

from __future__ import annotations

from typing import Any

from services.projections.adapters import tables
from shared.sql import Transaction

SPEC = tables.TableSpec(
    "connection_status",
    {"connection_id": "text", "tenant_id": "text", "status": "text", "updated_at": "text", "document": "json"},
    ("connection_id",),
    {"tenant": ("tenant_id", "connection_id")},
)


def to_row(document: dict[str, Any]) -> tables.Row:
    return {"connection_id": document["connection_id"], "tenant_id": document["tenant_id"],
            "status": document["status"], "updated_at": document["updated_at"], "document": document}


def get(tx: Transaction, tenant_id: str, connection_id: str, spec: tables.TableSpec = SPEC) -> dict[str, Any] | None:
    """The tenant's connection's status document; None for unknown ids and other tenants' connections alike."""
    found = tables.load_many(tx, spec, "connection_id", [connection_id], "tenant_id = ?", [tenant_id])
    return found[0]["document"] if found else None


def exists(tx: Transaction, tenant_id: str, connection_id: str, spec: tables.TableSpec = SPEC) -> bool:
    """Whether the tenant has (or had) this connection: the one ownership check of per-connection queries."""
    tx.execute(f"SELECT 1 FROM {spec.name} WHERE connection_id = ? AND tenant_id = ?", (connection_id, tenant_id))
    return tx.fetchone() is not None
