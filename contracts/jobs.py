"""Jobs for driver workers, on ``drivers.<driver>.jobs.v1`` keyed by connection id."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import ConfigDict, Field

from contracts.envelope import Message


class JobKind(StrEnum):
    """What a job does: check the credentials, mirror the data model, or clean up before a deletion."""

    CHECK_CREDENTIALS = "check_credentials"
    SYNC = "sync"
    CLEAN_UP = "clean_up"


class DriverJob(Message):
    """Do one job against the marketplace and report on ``drivers.reports.v1``.

    Sent by the connections service's relay when a job is requested (credential check, sync, clean-up), to
    the job topic of the connection's driver, keyed by connection id; one consumer group per driver. The
    worker reports ``JobStarted``, ``JobProgressed`` while it works, then ``JobSucceeded`` or ``JobFailed``,
    and commits the job's offset only after the final report, so a job whose worker dies is redelivered
    (``attempt`` counts the service's retries, not Kafka redeliveries: a worker may see the same job twice
    and just runs it again).

    Credentials are sealed for the driver's workers; they are never on the bus in plaintext.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "c4d5e6f7-a8b9-4c0d-8e1f-2a3b4c5d6e7f",
                    "connection_id": "3f1c2a9e-8d4b-4f6a-9c1e-2b7d5e8a0f11",
                    "driver": "shopware6",
                    "kind": "sync",
                    "attempt": 1,
                    "sealed_credentials": "base64(nonce + AES-GCM ciphertext bound to the job id)",
                    "settings": {"default_language": "de-DE"},
                }
            ]
        }
    )

    message_type = "DriverJob"

    job_id: UUID
    connection_id: UUID
    driver: str
    kind: JobKind
    attempt: int = Field(default=1, ge=1)
    not_before: datetime | None = Field(default=None, description="a retried job waits until then (backoff)")
    sealed_credentials: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
