"""The answer to every command, on ``connections.command-results.v1`` keyed by command id."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from contracts.envelope import Message


class Outcome(StrEnum):
    DONE = "done"
    ALREADY = "already"
    REFUSED = "refused"
    NOT_FOUND = "not_found"


class ItemOutcome(Message):
    """What happened to one connection (or driver) named by the command."""

    message_type = "ItemOutcome"

    connection_id: UUID | None = None
    driver: str | None = None
    outcome: Outcome
    reason_code: str | None = Field(default=None, description="machine-readable rule that refused it")
    message: str | None = None
    job_id: UUID | None = Field(default=None, description="the job the command started or found running")


class CommandResult(Message):
    """Sent once per command id. ``accepted`` means at least one item was done or already so."""

    message_type = "CommandResult"

    command_id: UUID
    command_type: str
    accepted: bool
    reason_code: str | None = None
    message: str | None = None
    items: list[ItemOutcome] = Field(default_factory=list)
    position: int | None = Field(default=None, description="event store position after the command; read-your-writes")
