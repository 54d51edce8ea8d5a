"""Jobs for driver workers, on ``drivers.<driver>.jobs.v1`` keyed by connection id."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import Field

from contracts.envelope import Message


class JobKind(StrEnum):
    CHECK_CREDENTIALS = "check_credentials"
    SYNC = "sync"
    CLEAN_UP = "clean_up"


class DriverJob(Message):
    """Do one job against the marketplace and report on ``drivers.reports.v1``.

    Credentials are sealed for the driver's workers; they are never on the bus in plaintext.
    """

    message_type = "DriverJob"

    job_id: UUID
    connection_id: UUID
    driver: str
    kind: JobKind
    attempt: int = Field(default=1, ge=1)
    sealed_credentials: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
