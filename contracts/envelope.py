"""The envelope every message on the bus travels in.

The envelope carries identity and tracing; the ``payload`` is one of the typed messages of this package,
chosen by ``type`` and ``schema_version`` (see :mod:`contracts.registry`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class Message(BaseModel):
    """Base of every payload. Unknown fields are ignored so that newer producers don't break older consumers.

    ``message_type`` and ``schema_version`` are class-level: together they name the payload's schema on the
    wire (``type`` and ``schema_version`` in the envelope) and never change for a published schema; a
    breaking change gets a new ``schema_version`` (see :mod:`contracts.compat`).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_type: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1


class Envelope(BaseModel):
    """Identity, tenancy and tracing of one message; ``payload`` is validated against ``type`` on decode.

    Producers always set ``message_id`` (for a command it is the command id the result is keyed by) and
    keep it when they send the same message again, so consumers can drop the repeat.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: UUID = Field(default_factory=uuid4, description="unique per message; consumers dedupe on it")
    type: str = Field(min_length=1, max_length=100, description="the payload's message type, e.g. CreateConnection")
    schema_version: int = Field(default=1, ge=1, description="the payload's schema version for its type")
    tenant_id: str = Field(pattern=TENANT_ID_PATTERN, description="the tenant (account or sandbox) it concerns")
    correlation_id: str = Field(
        default_factory=lambda: str(uuid4()), min_length=1, max_length=100,
        description="ties together everything one request caused; copied from cause to effect",
    )
    causation_id: str | None = Field(
        default=None, max_length=100, description="message_id of the message that caused this one",
    )
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC), description="when it happened (UTC)")
    actor: str = Field(default="system", min_length=1, max_length=200, description="who caused it")
    payload: dict[str, Any]
