"""What driver workers report back, on ``drivers.reports.v1`` keyed by connection id.

A job reports ``JobStarted``, any number of ``JobProgressed`` (also the heartbeat of long jobs), then exactly
one of ``JobSucceeded`` or ``JobFailed``. Reports may arrive twice; the connections service ignores repeats.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from contracts.datamodel import DataModel
from contracts.envelope import Message


class JobReport(Message):
    job_id: UUID
    connection_id: UUID


class JobStarted(JobReport):
    message_type = "JobStarted"

    worker: str = Field(default="", max_length=200)


class JobProgressed(JobReport):
    message_type = "JobProgressed"

    done: int = Field(ge=0)
    total: int | None = Field(default=None, ge=0)


class JobSucceeded(JobReport):
    """The job is done; a sync carries the whole mirrored data model."""

    message_type = "JobSucceeded"

    data_model: DataModel | None = None


class JobFailed(JobReport):
    message_type = "JobFailed"

    error_type: str = Field(max_length=100)
    retryable: bool = False
    message: str = Field(max_length=2000)


ALL_REPORTS: tuple[type[JobReport], ...] = (JobStarted, JobProgressed, JobSucceeded, JobFailed)
