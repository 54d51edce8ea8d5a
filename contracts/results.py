"""The answer to every command, on ``connections.command-results.v1`` keyed by command id.

The command id is the command envelope's ``message_id``; the result's envelope carries it again as
``causation_id`` and repeats the command's ``correlation_id``.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import ConfigDict, Field

from contracts.envelope import Message

_COMMAND = "5d9e3b1a-7c2f-4a8e-b6d0-1c2b3a4d5e6f"
_CONNECTION = "3f1c2a9e-8d4b-4f6a-9c1e-2b7d5e8a0f11"
_OTHER_CONNECTION = "b8e2d7c4-1a3f-4e5b-8c9d-0f1e2d3c4b5a"
_JOB = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"


class Outcome(StrEnum):
    """What a command did to one item: ``done`` (changed now), ``already`` (was so; nothing changed),
    ``refused`` (a rule refused it, see ``reason_code``), ``not_found`` (no such item for this tenant)."""

    DONE = "done"
    ALREADY = "already"
    REFUSED = "refused"
    NOT_FOUND = "not_found"


class ItemOutcome(Message):
    """What happened to one connection (or driver) named by the command.

    Part of :class:`CommandResult`, never sent alone. Bulk commands get one item per distinct connection
    id, in the order they were named, so a caller can act on each one (e.g. show which connection refused).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"connection_id": _CONNECTION, "outcome": "done", "job_id": _JOB},
                {
                    "connection_id": _OTHER_CONNECTION,
                    "outcome": "refused",
                    "reason_code": "connection_inactive",
                    "message": f"connection {_OTHER_CONNECTION} is inactive and synchronizes nothing",
                },
            ]
        }
    )

    message_type = "ItemOutcome"

    connection_id: UUID | None = None
    driver: str | None = None
    outcome: Outcome
    reason_code: str | None = Field(default=None, description="machine-readable rule that refused it")
    message: str | None = None
    job_id: UUID | None = Field(default=None, description="the job the command started or found running")


class CommandResult(Message):
    """The outcome of one command.

    Sent by the connections service after it handled a command from ``connections.commands.v1``; key: the
    command id. The sender reads the topic for its own command ids (other senders' results share the topic:
    skip keys you did not send) and takes the first result per key (a redelivered or repeated command is
    answered again). ``accepted`` is true when at least one item was done or already so; a
    refusal of the whole command has ``accepted: false`` with ``reason_code`` and ``message`` and no items.
    ``position`` is the event store position after the command: a reader that waits until a view or the
    events topic reached it sees the command's effects (read-your-writes).

    A repeated command id (a retry, a redelivery) is answered as follows:

    - a command that changed something is recorded with its result: it is never applied again, and every
      repeat answers that first result again (same ``accepted``, items and job ids; ``position`` may be
      null in a repeated answer: wait for the first answer's position, or for the command's events);
    - a command that changed nothing is not recorded, and a repeat is evaluated afresh against the state
      of that moment, so its answer (and effect) can differ. That is every refusal (``accepted: false``;
      its cause may have been fixed since), and also an accepted command whose items are all ``already``
      (or ``already`` beside refused / not found ones): e.g. an ``EnableConnections`` answered ``already``
      and repeated after the connection was disabled enables it (``done``). Resend a command only while
      its result has not arrived.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "command_id": _COMMAND,
                    "command_type": "CreateConnection",
                    "accepted": True,
                    "items": [{"connection_id": _CONNECTION, "outcome": "done", "job_id": _JOB}],
                    "position": 42,
                },
                {
                    "command_id": _COMMAND,
                    "command_type": "CreateConnection",
                    "accepted": False,
                    "reason_code": "driver_not_installed",
                    "message": "driver 'shopware6' is not installed for tenant 'acme'",
                    "items": [],
                },
            ]
        }
    )

    message_type = "CommandResult"

    command_id: UUID
    command_type: str
    accepted: bool
    reason_code: str | None = None
    message: str | None = None
    items: list[ItemOutcome] = Field(default_factory=list)
    position: int | None = Field(default=None, description="event store position after the command; read-your-writes")
