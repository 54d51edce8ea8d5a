"""Domain events -> public messages. The only place that decides what the platform sees of the store.

Integration events go to ``connections.events.v1``; requested jobs also become a :class:`DriverJob` on the
driver's job topic. Message ids are derived from the store position, so a republished event keeps its id
and consumers can drop the duplicate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts import events as ev
from contracts import topics
from contracts.envelope import Message
from contracts.jobs import DriverJob, JobKind
from contracts.registry import encode
from services.connections.domain.connection import DELETION_STEPS
from shared.bus import Outgoing

_MESSAGE_NAMESPACE = uuid5(NAMESPACE_URL, "omni-channel-connections:message")
_MESSAGE_NAMESPACE_BYTES = _MESSAGE_NAMESPACE.bytes

JobBuilder = Callable[[Any, int], DriverJob]
"""Builds the job for a ``JobRequested``/``JobRetried`` event (needs the connection's state at that version)."""
SILENT_TOPICS = frozenset({
    "ProcessedCommand.Created.v1", "Tenant.Created.v1", "Tenant.ConnectionAdded.v1", "Tenant.ConnectionRemoved.v1",
    "DataModelMirror.Created.v1", "DataModelMirror.Cleared.v1",
})
"""Stored events that become no public message (:func:`public_payloads` gives none): the relay passes over
them without decoding them."""
RETRY_BACKOFF_SECONDS = 5.0
"""By default a retried job waits 5 s before its 2nd attempt, 10 s before its 3rd, ..."""


def retry_not_before(event: Any, backoff: float = RETRY_BACKOFF_SECONDS) -> datetime | None:
    """When a job's attempt may start: at once for the first, after an exponential backoff for retries."""
    if event.attempt <= 1:
        return None
    return event.timestamp + timedelta(seconds=backoff * 2 ** (event.attempt - 2))


def _status_change(topic: str, event: Any) -> tuple[ev.ConnectionStatus, int | None] | None:
    match topic:
        case "Connection.Disabled.v1":
            return ev.ConnectionStatus.INACTIVE, None
        case "Connection.Enabled.v1":
            return ev.ConnectionStatus.ACTIVE, None
        case "Connection.DeletionStarted.v1":
            return ev.ConnectionStatus.DELETING, 0
        case "Connection.DeletionStepCompleted.v1":
            return ev.ConnectionStatus.DELETING, int(event.number)
        case "Connection.Deleted.v1":
            return ev.ConnectionStatus.DELETED, None
    return None


def public_payloads(topic: str, event: Any, position: int) -> list[Message]:
    """The integration events a stored domain event becomes (often one, sometimes none)."""
    common: dict[str, Any] = {"position": position}
    if topic.startswith("Connection."):
        common |= {"connection_id": event.originator_id, "version": event.originator_version}
    match topic:
        case "Connection.Created.v1":
            return [ev.ConnectionCreated(name=event.name, driver=event.driver, **common)]
        case "Connection.Edited.v1":
            changed = [f for f in ("name", "credentials", "settings") if getattr(event, f) is not None]
            return [ev.ConnectionEdited(name=event.name, changed=changed, **common)]
        case "Connection.JobRequested.v1":
            return [ev.JobStateChanged(job_id=event.job_id, kind=event.kind, state=ev.JobState.REQUESTED,
                                       attempt=event.attempt, **common)]
        case "Connection.JobRetried.v1":
            return [ev.JobStateChanged(job_id=event.job_id, kind=event.kind, state=ev.JobState.REQUESTED,
                                       attempt=event.attempt, error_type=event.error_type, retryable=True,
                                       message=event.message, **common)]
        case "Connection.JobStarted.v1":
            return [ev.JobStateChanged(job_id=event.job_id, kind=event.kind, state=ev.JobState.RUNNING, **common)]
        case "Connection.JobProgressed.v1":
            return [ev.JobStateChanged(job_id=event.job_id, kind=event.kind, state=ev.JobState.RUNNING,
                                       done=event.done, total=event.total, **common)]
        case "Connection.JobEnded.v1":
            out: list[Message] = [ev.JobStateChanged(
                job_id=event.job_id, kind=event.kind, state=event.state, error_type=event.error_type,
                retryable=event.retryable, message=event.message, **common,
            )]
            if event.kind == JobKind.CHECK_CREDENTIALS and event.state != ev.JobState.CANCELLED:
                verified = event.state == ev.JobState.SUCCEEDED
                out.append(ev.CredentialsChecked(verified=verified, reason=None if verified else event.message,
                                                 **common))
            return out
        case "DataModelMirror.Synced.v1":
            return [ev.DataModelChanged(
                connection_id=event.connection_id, version=event.originator_version, position=position,
                job_id=event.job_id, attributes=event.attributes_total, attribute_sets=event.sets_total,
                added=len(event.added_attributes) + len(event.added_sets),
                changed=len(event.changed_attributes) + len(event.changed_sets),
                removed=len(event.removed_attributes) + len(event.removed_sets),
            )]
        case "Tenant.DriverInstalled.v1" | "Tenant.DriverUninstalled.v1":
            return [ev.DriverInstallationChanged(driver=event.driver, installed=topic.endswith("Installed.v1"),
                                                 at=event.timestamp, position=position)]
    status = _status_change(topic, event)
    if status is not None:
        state, step = status
        return [ev.ConnectionStatusChanged(status=state, deletion_step=step,
                                           deletion_steps=len(DELETION_STEPS) if step is not None else None,
                                           **common)]
    return []


def outgoing(topic: str, event: Any, position: int, build_job: JobBuilder) -> list[Outgoing]:
    """Everything the relay publishes for one stored event, in order."""
    meta = getattr(event, "meta", None) or {}
    tenant_id = meta.get("tenant_id") or getattr(event, "tenant_id", "unknown")
    key = str(event.originator_id) if topic.startswith("Connection.") else tenant_id
    if topic.startswith("DataModelMirror."):
        # Keyed by the connection, so a connection's model changes stay in order with its other events.
        key = str(getattr(event, "connection_id", None) or getattr(event, "originator_id"))
    envelope_fields = {
        "tenant_id": tenant_id,
        "correlation_id": meta.get("correlation_id") or str(event.originator_id),
        "causation_id": meta.get("causation_id"),
        "actor": meta.get("actor") or "system",
        "occurred_at": event.timestamp,
    }
    messages: list[Outgoing] = []
    for index, payload in enumerate(public_payloads(topic, event, position)):
        envelope = encode({**envelope_fields, "message_id": _message_id(position, index)}, payload)
        messages.append(Outgoing(topics.EVENTS, key, envelope))
    if topic in ("Connection.JobRequested.v1", "Connection.JobRetried.v1"):
        job = build_job(event, position)
        envelope = encode({**envelope_fields, "message_id": _message_id(position, 99)}, job)
        messages.append(Outgoing(topics.driver_jobs(job.driver), key, envelope))
    return messages


def _message_id(position: int, index: int) -> UUID:
    """``uuid5(_MESSAGE_NAMESPACE, f"{position}/{index}")``, spelled out: the library's function imports hashlib
    again on every call, a visible share of the relay's time at three messages per connection."""
    digest = hashlib.sha1(_MESSAGE_NAMESPACE_BYTES + f"{position}/{index}".encode(), usedforsecurity=False).digest()
    return UUID(bytes=digest[:16], version=5)
