"""The audit timeline, as pure functions: who did what to which connection, when, why, in which correlation.

Each stored event worth telling becomes one entry with a readable summary. Entries never carry secrets:
credentials appear only as "credentials changed (fingerprint ...)", settings only with secret-named fields
masked. Progress reports are left out (they say nothing about who did what), and so are the tenant's own
bookkeeping events that repeat a connection's creation or deletion.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from services.projections.domain.connection_list import iso
from services.projections.domain.connection_status import masked

Row = dict[str, Any]

TOPICS = frozenset({
    "Connection.Created.v1", "Connection.Edited.v1", "Connection.JobRequested.v1", "Connection.JobStarted.v1",
    "Connection.JobRetried.v1", "Connection.JobEnded.v1", "Connection.Disabled.v1", "Connection.Enabled.v1", "Connection.DeletionStarted.v1",
    "Connection.DeletionStepCompleted.v1", "Connection.Deleted.v1", "DataModelMirror.Created.v1",
    "DataModelMirror.Synced.v1", "DataModelMirror.Cleared.v1", "Tenant.Created.v1", "Tenant.DriverInstalled.v1",
    "Tenant.DriverUninstalled.v1",
})
_KIND = {"check_credentials": "credential check", "sync": "sync", "clean_up": "clean-up"}


def subject_of(subject: Row | None, topic: str, event: Any) -> Row | None:
    """What the timeline remembers of a connection to tell later events: tenant, name, driver, mirror id."""
    if topic == "Connection.Created.v1":
        return {"connection_id": str(event.originator_id), "tenant_id": event.tenant_id, "name": event.name,
                "driver": event.driver, "mirror_id": None}
    if subject is None:
        return None
    if topic == "Connection.Edited.v1" and event.name is not None:
        return {**subject, "name": event.name}
    if topic == "DataModelMirror.Created.v1":
        return {**subject, "mirror_id": str(event.originator_id)}
    return subject


def fingerprint(value: str | None) -> str:
    return f"{value[:12]}…" if value else "none"


def entry(position: int, topic: str, event: Any, subject: Row | None,
          secrets: Collection[str] | None = frozenset()) -> Row | None:
    """The timeline entry of one event (None for events the timeline leaves out).

    ``subject`` is the connection as :func:`subject_of` kept it *before* this event; ``secrets`` the secret
    field names of its driver.
    """
    meta = getattr(event, "meta", None) or {}
    told = _tell(topic, event, subject or {}, secrets)
    if told is None:
        return None
    summary, details = told
    tenant_id = meta.get("tenant_id") or getattr(event, "tenant_id", None) or (subject or {}).get("tenant_id")
    connection_id = (subject or {}).get("connection_id") if not topic.startswith("Tenant.") else None
    if topic.startswith("Connection."):
        connection_id = str(event.originator_id)
    return {
        "position": position, "tenant_id": tenant_id, "connection_id": connection_id,
        "occurred_at": iso(event.timestamp), "event_type": topic, "actor": meta.get("actor"),
        "correlation_id": meta.get("correlation_id"), "causation_id": meta.get("causation_id"),
        "reason": meta.get("reason"), "summary": summary, "details": details,
    }


def _tell(topic: str, event: Any, subject: Row, secrets: Collection[str] | None) -> tuple[str, Row] | None:
    actor = (getattr(event, "meta", None) or {}).get("actor") or "someone"
    name = subject.get("name")
    match topic:
        case "Connection.Created.v1":
            return (f"{actor} created connection '{event.name}' ({event.driver}); credentials fingerprint "
                    f"{fingerprint(event.credentials_fingerprint)}",
                    {"name": event.name, "driver": event.driver, "settings": masked(event.settings or {}, secrets),
                     "credentials_fingerprint": event.credentials_fingerprint})
        case "Connection.Edited.v1":
            return _edited(actor, event, subject, secrets)
        case "Connection.JobRequested.v1":
            return (f"{_KIND.get(event.kind, event.kind)} requested"
                    + (f" ({event.meta.get('reason')})" if (event.meta or {}).get("reason") else ""),
                    {"job_id": event.job_id, "kind": event.kind, "attempt": event.attempt})
        case "Connection.JobStarted.v1":
            return (f"{_KIND.get(event.kind, event.kind)} started" + (f" by worker {event.worker}" if event.worker else ""),
                    {"job_id": event.job_id, "kind": event.kind, "worker": event.worker})
        case "Connection.JobRetried.v1":
            return (f"{_KIND.get(event.kind, event.kind)} attempt {event.attempt - 1} failed ({event.error_type}: "
                    f"{event.message}); trying again as attempt {event.attempt}",
                    {"job_id": event.job_id, "kind": event.kind, "attempt": event.attempt,
                     "error_type": event.error_type, "message": event.message})
        case "Connection.JobEnded.v1":
            return _job_ended(event)
        case "Connection.Disabled.v1":
            return f"{actor} disabled connection '{name}'", {}
        case "Connection.Enabled.v1":
            return f"{actor} enabled connection '{name}'", {}
        case "Connection.DeletionStarted.v1":
            return (f"{actor} started deleting connection '{name}' ({len(event.steps)} steps)",
                    {"steps": list(event.steps)})
        case "Connection.DeletionStepCompleted.v1":
            return (f"deletion step {event.number} of {event.of} done: {event.step}",
                    {"step": event.step, "number": event.number, "of": event.of})
        case "Connection.Deleted.v1":
            return f"connection '{name}' deleted; its stored credentials are erased", {}
        case "DataModelMirror.Synced.v1":
            return _synced(event)
        case "DataModelMirror.Cleared.v1":
            return "data model removed", {}
        case "Tenant.Created.v1":
            return f"tenant {event.tenant_id} created", {}
        case "Tenant.DriverInstalled.v1":
            return f"{actor} installed driver {event.driver} {event.version}", {"driver": event.driver,
                                                                                "version": event.version}
        case "Tenant.DriverUninstalled.v1":
            return f"{actor} uninstalled driver {event.driver}", {"driver": event.driver}
    return None


def _edited(actor: str, event: Any, subject: Row, secrets: Collection[str] | None) -> tuple[str, Row]:
    parts: list[str] = []
    details: Row = {}
    if event.name is not None:
        parts.append(f"renamed '{subject.get('name')}' to '{event.name}'")
        details["name"] = event.name
    if event.credentials_fingerprint is not None:
        parts.append(f"credentials changed (fingerprint {fingerprint(event.credentials_fingerprint)})")
        details["credentials_fingerprint"] = event.credentials_fingerprint
    if event.settings is not None:
        parts.append("settings changed")
        details["settings"] = masked(event.settings, secrets)
    return f"{actor} edited connection '{subject.get('name') or event.name}': " + "; ".join(parts or ["nothing"]), details


def _job_ended(event: Any) -> tuple[str, Row]:
    text = f"{_KIND.get(event.kind, event.kind)} {str(event.state).replace('_', ' ')}"
    if event.error_type:
        text += f": {event.error_type}"
    if event.message:
        text += f": {event.message}"
    return text, {"job_id": event.job_id, "kind": event.kind, "state": event.state, "error_type": event.error_type,
                  "retryable": event.retryable, "message": event.message}


def _synced(event: Any) -> tuple[str, Row]:
    counts = {
        "attributes_added": len(event.added_attributes), "attributes_changed": len(event.changed_attributes),
        "attributes_removed": len(event.removed_attributes), "sets_added": len(event.added_sets),
        "sets_changed": len(event.changed_sets), "sets_removed": len(event.removed_sets),
    }
    text = (f"data model synced: attributes +{counts['attributes_added']} ~{counts['attributes_changed']} "
            f"-{counts['attributes_removed']}, sets +{counts['sets_added']} ~{counts['sets_changed']} "
            f"-{counts['sets_removed']} (now {event.attributes_total} attributes, {event.sets_total} sets)")
    return text, {"job_id": event.job_id, "attributes_total": event.attributes_total,
                  "sets_total": event.sets_total, **counts}
