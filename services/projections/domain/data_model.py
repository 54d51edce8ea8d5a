"""The mirrored data model as DataHub reads it, as pure functions: rows to write for each mirror event.

A sync event carries only what changed, so the rows it implies are computed from the event plus the documents
stored before it (needed to name the changed fields and to show what was removed). Each sync also becomes a
summary row and a numbered change list, so DataHub can show what any sync changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.projections.domain.connection_list import iso

Row = dict[str, Any]
Documents = dict[str, dict[str, Any]]

TOPICS = frozenset({"DataModelMirror.Created.v1", "DataModelMirror.Synced.v1", "DataModelMirror.Cleared.v1"})


@dataclass
class ModelUpdate:
    """What one mirror event does to the model of one connection."""

    connection_id: str
    summary: Row
    upsert_attributes: list[Row] = field(default_factory=list)
    remove_attributes: list[str] = field(default_factory=list)
    upsert_sets: list[Row] = field(default_factory=list)
    remove_sets: list[str] = field(default_factory=list)
    changes: list[Row] = field(default_factory=list)
    clear: bool = False


def mirror_of(event: Any) -> Row:
    """Which connection (and tenant) a mirror belongs to: only its first event says so."""
    return {"mirror_id": str(event.originator_id), "connection_id": event.connection_id,
            "tenant_id": event.tenant_id}


def attribute_row(connection_id: str, tenant_id: str, document: dict[str, Any]) -> Row:
    return {"connection_id": connection_id, "code": document["code"], "tenant_id": tenant_id,
            "type": document.get("type"), "required": bool(document.get("required", False)), "document": document}


def set_row(connection_id: str, tenant_id: str, document: dict[str, Any]) -> Row:
    return {"connection_id": connection_id, "code": document["code"], "tenant_id": tenant_id,
            "attribute_count": len(document.get("attribute_codes") or ()), "document": document}


def _changed_fields(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    before = before or {}
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def synced(position: int, event: Any, tenant_id: str, attributes_before: Documents,
           sets_before: Documents) -> ModelUpdate:
    """Rows after a sync; ``*_before`` hold the stored documents of the changed and removed codes."""
    connection_id = str(event.connection_id)
    meta = event.meta or {}
    changes: list[Row] = []

    def note(item: str, change: str, code: str, document: dict[str, Any] | None, fields: list[str] | None) -> None:
        changes.append({"connection_id": connection_id, "sync_id": position, "seq": len(changes), "tenant_id": tenant_id,
                        "item": item, "change": change, "code": code, "fields": fields, "document": document})

    for item, added, changed, removed, before in (
        ("attribute", event.added_attributes, event.changed_attributes, event.removed_attributes, attributes_before),
        ("set", event.added_sets, event.changed_sets, event.removed_sets, sets_before),
    ):
        for document in added:
            note(item, "added", document["code"], document, None)
        for document in changed:
            note(item, "changed", document["code"], document, _changed_fields(before.get(document["code"]), document))
        for code in removed:
            note(item, "removed", code, before.get(code), None)
    summary = {
        "connection_id": connection_id, "sync_id": position, "tenant_id": tenant_id, "kind": "synced",
        "job_id": event.job_id, "at": iso(event.timestamp), "attributes_total": event.attributes_total,
        "sets_total": event.sets_total, "attributes_added": len(event.added_attributes),
        "attributes_changed": len(event.changed_attributes), "attributes_removed": len(event.removed_attributes),
        "sets_added": len(event.added_sets), "sets_changed": len(event.changed_sets),
        "sets_removed": len(event.removed_sets), "actor": meta.get("actor"),
        "correlation_id": meta.get("correlation_id"),
    }
    return ModelUpdate(
        connection_id, summary,
        upsert_attributes=[attribute_row(connection_id, tenant_id, d)
                           for d in (*event.added_attributes, *event.changed_attributes)],
        remove_attributes=list(event.removed_attributes),
        upsert_sets=[set_row(connection_id, tenant_id, d) for d in (*event.added_sets, *event.changed_sets)],
        remove_sets=list(event.removed_sets),
        changes=changes,
    )


def cleared(position: int, event: Any, mirror: Row, attributes: int, sets: int) -> ModelUpdate:
    """The model removed (a deletion step); the summary counts what went."""
    meta = event.meta or {}
    summary = {
        "connection_id": mirror["connection_id"], "sync_id": position, "tenant_id": mirror["tenant_id"],
        "kind": "cleared", "job_id": None, "at": iso(event.timestamp), "attributes_total": 0, "sets_total": 0,
        "attributes_added": 0, "attributes_changed": 0, "attributes_removed": attributes, "sets_added": 0,
        "sets_changed": 0, "sets_removed": sets, "actor": meta.get("actor"), "correlation_id": meta.get("correlation_id"),
    }
    return ModelUpdate(mirror["connection_id"], summary, clear=True)
