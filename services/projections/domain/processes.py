"""The processes view, as pure functions: every job and every deletion of a tenant, running or finished.

A process row is a job record (see :mod:`job_records`) with the connection's name and driver, or a deletion:
requested with its steps, progressing one step at a time, succeeded when the connection is deleted.
"""

from __future__ import annotations

from typing import Any

from services.projections.domain import job_records
from services.projections.domain.connection_list import iso

Row = dict[str, Any]

DELETION_TOPICS = frozenset({
    "Connection.DeletionStarted.v1", "Connection.DeletionStepCompleted.v1", "Connection.Deleted.v1",
})
CONNECTION_TOPICS = frozenset({"Connection.Created.v1", "Connection.Edited.v1"})
TOPICS = job_records.JOB_TOPICS | DELETION_TOPICS | CONNECTION_TOPICS


def process_id(topic: str, event: Any) -> str | None:
    """The key of the process an event belongs to (None for events that are no process's)."""
    if topic in job_records.JOB_TOPICS:
        return str(event.job_id)
    if topic in DELETION_TOPICS:
        return f"deletion:{event.originator_id}"
    return None


def connection_of(row: Row | None, topic: str, event: Any) -> Row | None:
    """What processes show of their connection: name and driver (kept after deletion for its history)."""
    if topic == "Connection.Created.v1":
        return {"connection_id": str(event.originator_id), "tenant_id": event.tenant_id, "name": event.name,
                "driver": event.driver}
    if row is not None and topic == "Connection.Edited.v1" and event.name is not None:
        return {**row, "name": event.name}
    return row


def evolve(row: Row | None, topic: str, event: Any, connection: Row | None) -> Row | None:
    """The process row after ``event``; ``connection`` is the row :func:`connection_of` keeps."""
    if topic in job_records.JOB_TOPICS:
        record = job_records.evolve(_record_part(row), topic, event)
        return _decorated(row, record, connection, process_id(topic, event) or "")
    if topic in DELETION_TOPICS:
        return _deletion(row, topic, event, connection)
    return row


def _record_part(row: Row | None) -> job_records.Record | None:
    if row is None:
        return None
    return {k: v for k, v in row.items() if k not in ("process_id", "connection_name", "driver", "detail")}


def _decorated(row: Row | None, record: job_records.Record, connection: Row | None, key: str) -> Row:
    name = row["connection_name"] if row else (connection or {}).get("name")
    driver = row["driver"] if row else (connection or {}).get("driver")
    detail = row["detail"] if row else None
    return {**record, "process_id": key, "connection_name": name, "driver": driver, "detail": detail}


def _deletion(row: Row | None, topic: str, event: Any, connection: Row | None) -> Row:
    at = iso(event.timestamp)
    meta = event.meta or {}
    if topic == "Connection.DeletionStarted.v1" or row is None:
        steps = list(getattr(event, "steps", []) or [])
        row = {
            "process_id": f"deletion:{event.originator_id}", "job_id": None,
            "connection_id": str(event.originator_id), "tenant_id": meta.get("tenant_id"),
            "connection_name": (connection or {}).get("name"), "driver": (connection or {}).get("driver"),
            "kind": "deletion", "state": "running", "attempt": 1, "done": 0, "total": len(steps) or None,
            "requested_at": at, "started_at": at, "ended_at": None, "duration_seconds": None,
            "last_activity_at": at, "worker": None, "error_type": None, "retryable": None, "message": None,
            "reason": meta.get("reason"), "requested_by": meta.get("actor"),
            "correlation_id": meta.get("correlation_id"), "detail": steps[0] if steps else None,
        }
        if topic == "Connection.DeletionStarted.v1":
            return row
    row = {**row, "last_activity_at": at}
    if topic == "Connection.DeletionStepCompleted.v1":
        row.update(done=event.number, total=event.of, detail=f"{event.step} completed")
    elif topic == "Connection.Deleted.v1":
        row.update(state="succeeded", ended_at=at, detail="deleted",
                   duration_seconds=job_records.seconds_between(row["started_at"], at))
    return row
