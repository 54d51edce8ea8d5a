"""Commands other platform services (and the HTTP API) send to the connections service.

Sent on ``connections.commands.v1`` keyed by connection id (tenant id for creates and driver commands). The
envelope's ``message_id`` is the command id: sending the same command again returns the first outcome on
``connections.command-results.v1`` and changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import Field

from contracts.envelope import Message

Name = Annotated[str, Field(min_length=1, max_length=200)]
DriverId = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z0-9_]+$")]
ConnectionIds = Annotated[list[UUID], Field(min_length=1, max_length=500)]


class CreateConnection(Message):
    """Create a connection through an installed driver; its credentials are checked, then it syncs."""

    message_type = "CreateConnection"

    connection_id: UUID | None = Field(default=None, description="chosen by the caller, or derived from the command id")
    name: Name
    driver: DriverId
    credentials: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)


class EditConnection(Message):
    """Change name, credentials (partial: omitted or masked secrets keep their value) or settings."""

    message_type = "EditConnection"

    connection_id: UUID
    name: Name | None = None
    driver: DriverId | None = Field(default=None, description="read-only: any other driver is refused")
    credentials: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None


class RequestSync(Message):
    """Synchronize active, established connections with their marketplaces."""

    message_type = "RequestSync"

    connection_ids: ConnectionIds


class DisableConnections(Message):
    """Stop synchronizing the given connections; pending and running jobs are cancelled."""

    message_type = "DisableConnections"

    connection_ids: ConnectionIds


class EnableConnections(Message):
    """Let the given connections synchronize again."""

    message_type = "EnableConnections"

    connection_ids: ConnectionIds


class DeleteConnections(Message):
    """Delete inactive connections: a long-running process, after which they leave the list."""

    message_type = "DeleteConnections"

    connection_ids: ConnectionIds


class InstallDriver(Message):
    """Make a driver available to the tenant."""

    message_type = "InstallDriver"

    driver: DriverId


class UninstallDriver(Message):
    """Remove a driver from the tenant; refused while connections of that driver exist."""

    message_type = "UninstallDriver"

    driver: DriverId


ALL_COMMANDS: tuple[type[Message], ...] = (
    CreateConnection,
    EditConnection,
    RequestSync,
    DisableConnections,
    EnableConnections,
    DeleteConnections,
    InstallDriver,
    UninstallDriver,
)
