"""The status of one connection, as pure functions: the list row plus jobs, settings and credential facts.

The document holds everything the connection list shows, the jobs not ended yet (with progress), the last
:data:`RECENT_JOBS` ended jobs with their outcome and failure reason, the settings with secret-named fields
masked, and of the credentials only their fingerprint and when it last changed. A deleted connection keeps its
document with status ``deleted``, so its last steps stay visible.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from services.projections.domain import connection_list, job_records
from services.projections.domain.connection_list import iso
from shared.masking import MASK as MASK, masked as masked  # the one masking rule, shared with the audit trail

Document = dict[str, Any]

RECENT_JOBS = 20


def _list_part(document: Document) -> connection_list.Row:
    return {column: document[column] for column in connection_list.COLUMNS}


def evolve(document: Document | None, topic: str, event: Any,
           secrets: Collection[str] | None = frozenset()) -> Document | None:
    """The document after ``event``; ``secrets`` are the driver's secret field names (dotted)."""
    if topic == "Connection.Created.v1":
        row = connection_list.evolve(None, topic, event)
        assert row is not None
        return {
            **row, "settings": masked(event.settings or {}, secrets),
            "credentials_fingerprint": event.credentials_fingerprint,
            "credentials_changed_at": iso(event.timestamp), "deletion_steps": None, "deleted_at": None,
            "current_jobs": [], "recent_jobs": [],
        }
    if document is None or not topic.startswith("Connection."):
        return document
    listed = connection_list.evolve(_list_part(document), topic, event)
    document = {**document, **(listed or {})}
    at = iso(event.timestamp)
    if topic == "Connection.Deleted.v1":
        document.update(status="deleted", deleted_at=at, updated_at=at, version=event.originator_version,
                        current_jobs=[])
    elif topic == "Connection.Edited.v1":
        if event.settings is not None:
            document["settings"] = masked(event.settings, secrets)
        if event.credentials_fingerprint is not None:
            document["credentials_fingerprint"] = event.credentials_fingerprint
            document["credentials_changed_at"] = at
    elif topic == "Connection.DeletionStarted.v1":
        document["deletion_steps"] = list(event.steps)
    elif topic in job_records.JOB_TOPICS:
        _job_event(document, topic, event)
    return document


def _job_event(document: Document, topic: str, event: Any) -> None:
    current = list(document["current_jobs"])
    index = next((i for i, job in enumerate(current) if job["job_id"] == event.job_id), None)
    record = job_records.evolve(current[index] if index is not None else None, topic, event)
    if job_records.is_open(record):
        if index is None:
            current.append(record)
        else:
            current[index] = record
    else:
        if index is not None:
            del current[index]
        document["recent_jobs"] = [record, *document["recent_jobs"]][:RECENT_JOBS]
    document["current_jobs"] = current


def current_job(document: Document) -> dict[str, Any] | None:
    """The job a dashboard shows as "running now": the most recently requested one not ended yet."""
    jobs = document.get("current_jobs") or []
    return jobs[-1] if jobs else None
