"""Integration events: what the connections service tells the platform, on ``connections.events.v1``.

Keyed by connection id (driver events by tenant id), in store order per key. Each carries the event store
``position`` it was derived from, so a consumer can dedupe by ``message_id`` and resume from a position.
Domain events stay inside the service; these are their public translation.

Delivery is at least once: a consumer must treat a ``message_id`` it has already handled as a no-op.
Newer releases may add optional fields and enum values; consumers ignore fields they do not know and treat
an unknown enum value like "something else happened" rather than failing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import ConfigDict, Field

from contracts.envelope import Message
from contracts.jobs import JobKind

_CONNECTION = "3f1c2a9e-8d4b-4f6a-9c1e-2b7d5e8a0f11"
_CHECK_JOB = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
_SYNC_JOB = "c4d5e6f7-a8b9-4c0d-8e1f-2a3b4c5d6e7f"


class ConnectionStatus(StrEnum):
    """A connection's lifecycle: new connections are active; only inactive ones can be deleted."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETING = "deleting"
    DELETED = "deleted"


class JobState(StrEnum):
    """A job's state: requested -> running -> one of succeeded, failed, cancelled, timed_out."""

    REQUESTED = "requested"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class ConnectionEvent(Message):
    """Fields every event about one connection carries (not sent on its own)."""

    connection_id: UUID
    position: int = Field(description="event store notification id this was derived from")
    version: int = Field(description="the connection's version after the event")


class ConnectionCreated(ConnectionEvent):
    """A connection exists; its credentials are being checked next.

    Sent once per connection, after a ``CreateConnection`` was accepted. Consumers add the connection to
    what they know about the tenant (it belongs to the envelope's ``tenant_id`` and to ``driver`` for good).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "connection_id": _CONNECTION,
                    "position": 41,
                    "version": 1,
                    "name": "Berlin store",
                    "driver": "shopware6",
                    "status": "active",
                }
            ]
        }
    )

    message_type = "ConnectionCreated"

    name: str
    driver: str
    status: ConnectionStatus = ConnectionStatus.ACTIVE


class ConnectionEdited(ConnectionEvent):
    """Name, credentials or settings changed (secrets are never included, only the field names).

    Sent after an ``EditConnection`` changed something. Consumers update the name when present and may
    re-read settings they depend on through the query API; ``changed`` lists what changed.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "connection_id": _CONNECTION,
                    "position": 57,
                    "version": 9,
                    "name": "Berlin flagship store",
                    "changed": ["name"],
                },
                {"connection_id": _CONNECTION, "position": 58, "version": 10, "changed": ["credentials"]},
            ]
        }
    )

    message_type = "ConnectionEdited"

    name: str | None = Field(default=None, description="the new name, when it changed")
    changed: list[str]


class ConnectionStatusChanged(ConnectionEvent):
    """Disabled, enabled, deletion started, advanced a step, or finished.

    Sent on every status change and on every completed deletion step (``deletion_step`` of
    ``deletion_steps``). Consumers stop working with an ``inactive`` connection, show ``deleting`` as a
    running process, and forget the connection on ``deleted``.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"connection_id": _CONNECTION, "position": 60, "version": 11, "status": "inactive"},
                {
                    "connection_id": _CONNECTION,
                    "position": 61,
                    "version": 12,
                    "status": "deleting",
                    "deletion_step": 0,
                    "deletion_steps": 3,
                },
                {"connection_id": _CONNECTION, "position": 65, "version": 16, "status": "deleted"},
            ]
        }
    )

    message_type = "ConnectionStatusChanged"

    status: ConnectionStatus
    deletion_step: int | None = None
    deletion_steps: int | None = None


class CredentialsChecked(ConnectionEvent):
    """The driver's worker accepted or rejected the credentials; rejected connections are not established.

    Sent when a credential check job ends (after creating a connection or changing its credentials).
    When ``verified`` is false, ``reason`` says why, for the merchant; the connection stays until edited.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"connection_id": _CONNECTION, "position": 44, "version": 4, "verified": True},
                {
                    "connection_id": _CONNECTION,
                    "position": 44,
                    "version": 4,
                    "verified": False,
                    "reason": "the shop refused the access key (401)",
                },
            ]
        }
    )

    message_type = "CredentialsChecked"

    verified: bool
    reason: str | None = None


class JobStateChanged(ConnectionEvent):
    """A job (credential check, sync, clean-up) moved to another state or made progress.

    Sent when a job is requested, starts, reports progress (``done`` of ``total``) and ends. Consumers that
    show running processes keep the latest state per ``job_id``; a job ends exactly once, in one of
    ``succeeded``, ``failed`` (``error_type``, ``retryable``, ``message``), ``cancelled`` or ``timed_out``.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "connection_id": _CONNECTION,
                    "position": 42,
                    "version": 2,
                    "job_id": _CHECK_JOB,
                    "kind": "check_credentials",
                    "state": "requested",
                    "attempt": 1,
                },
                {
                    "connection_id": _CONNECTION,
                    "position": 47,
                    "version": 6,
                    "job_id": _SYNC_JOB,
                    "kind": "sync",
                    "state": "running",
                    "done": 120,
                    "total": 480,
                },
                {
                    "connection_id": _CONNECTION,
                    "position": 49,
                    "version": 8,
                    "job_id": _SYNC_JOB,
                    "kind": "sync",
                    "state": "failed",
                    "error_type": "marketplace_unavailable",
                    "retryable": True,
                    "message": "the shop answered 503 three times",
                },
            ]
        }
    )

    message_type = "JobStateChanged"

    job_id: UUID
    kind: JobKind
    state: JobState
    attempt: int = 1
    done: int | None = None
    total: int | None = None
    error_type: str | None = None
    retryable: bool | None = None
    message: str | None = None


class DataModelChanged(ConnectionEvent):
    """A sync mirrored the marketplace's data model; counts of what changed since the previous sync.

    Sent after every successful sync. Consumers that use the data model (DataHub) re-read it through the
    query API when ``added``, ``changed`` or ``removed`` is not zero.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "connection_id": _CONNECTION,
                    "position": 50,
                    "version": 1,
                    "job_id": _SYNC_JOB,
                    "attributes": 480,
                    "attribute_sets": 12,
                    "added": 492,
                    "changed": 0,
                    "removed": 0,
                }
            ]
        }
    )

    message_type = "DataModelChanged"

    job_id: UUID
    attributes: int
    attribute_sets: int
    added: int
    changed: int
    removed: int


class DriverInstallationChanged(Message):
    """A tenant installed or uninstalled a driver. Keyed by tenant id.

    Sent after an ``InstallDriver`` or ``UninstallDriver`` changed something. Consumers offer the driver
    to the tenant's merchants while ``installed`` is true.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"driver": "shopware6", "installed": True, "at": "2025-01-15T09:30:00Z", "position": 3}]
        }
    )

    message_type = "DriverInstallationChanged"

    driver: str
    installed: bool
    at: datetime | None = None
    position: int = Field(description="event store notification id this was derived from")


ALL_EVENTS: tuple[type[Message], ...] = (
    ConnectionCreated,
    ConnectionEdited,
    ConnectionStatusChanged,
    CredentialsChecked,
    JobStateChanged,
    DataModelChanged,
    DriverInstallationChanged,
)
