"""Integration events: what the connections service tells the platform, on ``connections.events.v1``.

Keyed by connection id (driver events by tenant id), in store order per key. Each carries the event store
``position`` it was derived from, so a consumer can dedupe by ``message_id`` and resume from a position.
Domain events stay inside the service; these are their public translation.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from contracts.envelope import Message
from contracts.jobs import JobKind


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETING = "deleting"
    DELETED = "deleted"


class JobState(StrEnum):
    REQUESTED = "requested"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class ConnectionEvent(Message):
    connection_id: UUID
    position: int = Field(description="event store notification id this was derived from")
    version: int = Field(description="the connection's version after the event")


class ConnectionCreated(ConnectionEvent):
    """A connection exists; its credentials are being checked next."""

    message_type = "ConnectionCreated"

    name: str
    driver: str
    status: ConnectionStatus = ConnectionStatus.ACTIVE


class ConnectionEdited(ConnectionEvent):
    """Name, credentials or settings changed (secrets are never included, only the field names)."""

    message_type = "ConnectionEdited"

    name: str | None = Field(default=None, description="the new name, when it changed")
    changed: list[str]


class ConnectionStatusChanged(ConnectionEvent):
    """Disabled, enabled, deletion started or finished."""

    message_type = "ConnectionStatusChanged"

    status: ConnectionStatus
    deletion_step: int | None = None
    deletion_steps: int | None = None


class CredentialsChecked(ConnectionEvent):
    """The driver's worker accepted or rejected the credentials; rejected connections are not established."""

    message_type = "CredentialsChecked"

    verified: bool
    reason: str | None = None


class JobStateChanged(ConnectionEvent):
    """A job (credential check, sync, clean-up) moved to another state or made progress."""

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
    """A sync mirrored the marketplace's data model; counts of what changed since the previous sync."""

    message_type = "DataModelChanged"

    job_id: UUID
    attributes: int
    attribute_sets: int
    added: int
    changed: int
    removed: int


class DriverInstallationChanged(Message):
    """A tenant installed or uninstalled a driver. Keyed by tenant id."""

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
