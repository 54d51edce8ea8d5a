"""The connection list, as pure functions: how each stored event changes one row.

A row is a plain dict; ``None`` means the connection is not (or no longer) in the list. No I/O here: the
projection loads the row, calls :func:`evolve`, and stores the result with its position. Every value comes from
the events (their timestamps included), never from the clock, so a rebuilt list equals the live one.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

Row = dict[str, Any]

COLUMNS = (
    "connection_id", "tenant_id", "name", "driver", "status", "credential_state", "credential_reason",
    "credential_checked_at", "sync_state", "sync_job_id", "sync_done", "sync_total", "last_sync_state",
    "last_sync_at", "last_sync_error", "deletion_step", "created_at", "updated_at", "version",
)

# The list's sort orders. Each ends in the key, so pages never skip or repeat a row; each has an index behind it.
SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "connection_id"),
    "status": ("status", "name", "connection_id"),
    "driver": ("driver", "name", "connection_id"),
    "created_at": ("created_at", "connection_id"),
    "updated_at": ("updated_at", "connection_id"),
}

_FAILED = ("failed", "timed_out")


@lru_cache(maxsize=4096)  # every view formats the same event's time: format it once
def iso(moment: datetime) -> str:
    """Event times as fixed-width ISO text (``2026-01-31T09:30:00.000000+00:00``), so text order is time order in
    both databases."""
    # isoformat() without arguments is the same text but at a whole second (it then leaves the fraction out), and
    # costs a fifth less than with timespec="microseconds" (a keyword to parse on every call).
    return moment.isoformat() if moment.microsecond else moment.isoformat(timespec="microseconds")


def evolve(row: Row | None, topic: str, event: Any) -> Row | None:
    """The row after ``event`` (or ``row`` unchanged for events the list does not show)."""
    if topic == "Connection.Created.v1":
        return {
            "connection_id": str(event.originator_id), "tenant_id": event.tenant_id, "name": event.name,
            "driver": event.driver, "status": "active", "credential_state": "checking", "credential_reason": None,
            "credential_checked_at": None, "sync_state": None, "sync_job_id": None, "sync_done": None,
            "sync_total": None, "last_sync_state": None, "last_sync_at": None, "last_sync_error": None,
            "deletion_step": None, "created_at": iso(event.timestamp), "updated_at": iso(event.timestamp),
            "version": event.originator_version,
        }
    if row is None or not topic.startswith("Connection."):
        return row
    if topic == "Connection.Deleted.v1":
        return None
    row = {**row, "updated_at": iso(event.timestamp), "version": event.originator_version}
    match topic:
        case "Connection.Edited.v1":
            if event.name is not None:
                row["name"] = event.name
        case "Connection.Disabled.v1":
            row["status"] = "inactive"
        case "Connection.Enabled.v1":
            row["status"] = "active"
        case "Connection.DeletionStarted.v1":
            row["status"], row["deletion_step"] = "deleting", 0
        case "Connection.DeletionStepCompleted.v1":
            row["deletion_step"] = event.number
        case ("Connection.JobRequested.v1" | "Connection.JobStarted.v1" | "Connection.JobProgressed.v1"
              | "Connection.JobRetried.v1"):
            _job_moved(row, topic, event)
        case "Connection.JobEnded.v1":
            _job_ended(row, event)
    return row


def _job_moved(row: Row, topic: str, event: Any) -> None:
    if event.kind == "check_credentials":
        row["credential_state"], row["credential_reason"] = "checking", None
        return
    if event.kind != "sync":
        return
    if topic == "Connection.JobRequested.v1":
        row.update(sync_state="requested", sync_job_id=event.job_id, sync_done=None, sync_total=None)
    elif row["sync_job_id"] != event.job_id:
        return
    elif topic == "Connection.JobRetried.v1":
        row.update(sync_state="requested", sync_done=None, sync_total=None)
    else:
        row["sync_state"] = "running"
        if topic == "Connection.JobProgressed.v1":
            row["sync_done"], row["sync_total"] = event.done, event.total


def _job_ended(row: Row, event: Any) -> None:
    if event.kind == "check_credentials" and event.state != "cancelled":
        row["credential_checked_at"] = iso(event.timestamp)
        if event.state == "succeeded":
            row["credential_state"], row["credential_reason"] = "verified", None
        elif event.error_type == "credentials_rejected":
            row["credential_state"], row["credential_reason"] = "rejected", event.message
        else:
            row["credential_state"], row["credential_reason"] = "check_failed", event.message
    elif event.kind == "sync" and row["sync_job_id"] == event.job_id:
        row["sync_state"] = row["last_sync_state"] = event.state
        row["last_sync_at"] = iso(event.timestamp)
        row["last_sync_error"] = event.message if event.state in _FAILED else None
