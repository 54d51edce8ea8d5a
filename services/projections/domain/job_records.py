"""One job (credential check, sync, clean-up) as the views show it: its whole life from the job events.

Shared by the connection status (current and last jobs) and the processes view, so both tell the same story.
Pure functions over plain dicts; times are the events' own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.projections.domain.connection_list import iso

Record = dict[str, Any]

JOB_TOPICS = frozenset({
    "Connection.JobRequested.v1", "Connection.JobStarted.v1", "Connection.JobProgressed.v1",
    "Connection.JobRetried.v1", "Connection.JobEnded.v1",
})
OPEN_STATES = ("requested", "running")


def seconds_between(start: str | None, end: str) -> float | None:
    """Seconds from one ISO event time to another (None without a start)."""
    if start is None:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 6)


def new_record(event: Any) -> Record:
    """A job as first requested."""
    meta = event.meta or {}
    at = iso(event.timestamp)
    return {
        "job_id": event.job_id, "connection_id": str(event.originator_id), "tenant_id": meta.get("tenant_id"),
        "kind": str(event.kind), "state": "requested", "attempt": getattr(event, "attempt", 1), "done": None,
        "total": None, "requested_at": at, "started_at": None, "ended_at": None, "duration_seconds": None,
        "last_activity_at": at, "worker": None, "error_type": None, "retryable": None, "message": None,
        "reason": meta.get("reason"), "requested_by": meta.get("actor"), "correlation_id": meta.get("correlation_id"),
    }


def evolve(record: Record | None, topic: str, event: Any) -> Record:
    """The job after one of its events (a record is made up when its request is missing)."""
    if topic == "Connection.JobRequested.v1":
        if record is None:
            return new_record(event)
        return {**record, "state": "requested", "attempt": event.attempt, "last_activity_at": iso(event.timestamp)}
    record = dict(record) if record is not None else new_record(event)
    at = iso(event.timestamp)
    record["last_activity_at"] = at
    if topic == "Connection.JobStarted.v1":
        record.update(state="running", worker=event.worker or None)
        record["started_at"] = record["started_at"] or at
    elif topic == "Connection.JobProgressed.v1":
        record.update(state="running", done=event.done, total=event.total)
        record["started_at"] = record["started_at"] or at
    elif topic == "Connection.JobRetried.v1":
        # Waiting for its next attempt; the failure that caused it stays visible until the job moves on.
        record.update(state="requested", attempt=event.attempt, done=None, total=None, error_type=event.error_type,
                      retryable=True, message=event.message)
    elif topic == "Connection.JobEnded.v1":
        record.update(state=str(event.state), ended_at=at, error_type=event.error_type, retryable=event.retryable,
                      message=event.message)
        record["duration_seconds"] = seconds_between(record["started_at"] or record["requested_at"], at)
    return record


def is_open(record: Record) -> bool:
    return record["state"] in OPEN_STATES
