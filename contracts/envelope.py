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
    """Base of every payload. Unknown fields are ignored so that newer producers don't break older consumers."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_type: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1


class Envelope(BaseModel):
    """Identity, tenancy and tracing of one message; ``payload`` is validated against ``type`` on decode."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: UUID = Field(default_factory=uuid4, description="unique per message; consumers dedupe on it")
    type: str = Field(min_length=1, max_length=100)
    schema_version: int = Field(default=1, ge=1)
    tenant_id: str = Field(pattern=TENANT_ID_PATTERN)
    correlation_id: str = Field(default_factory=lambda: str(uuid4()), min_length=1, max_length=100)
    causation_id: str | None = Field(default=None, max_length=100)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    actor: str = Field(default="system", min_length=1, max_length=200, description="who caused it")
    payload: dict[str, Any]
