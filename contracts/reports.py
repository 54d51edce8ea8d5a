"""What driver workers report back, on ``drivers.reports.v1`` keyed by connection id.

A job reports ``JobStarted``, any number of ``JobProgressed`` (also the heartbeat of long jobs), then exactly
one of ``JobSucceeded`` or ``JobFailed``. Reports may arrive twice; the connections service ignores repeats.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import ConfigDict, Field

from contracts.datamodel import Attribute, AttributeSet, DataModel
from contracts.envelope import Message

_JOB = "c4d5e6f7-a8b9-4c0d-8e1f-2a3b4c5d6e7f"
_CONNECTION = "3f1c2a9e-8d4b-4f6a-9c1e-2b7d5e8a0f11"


class JobReport(Message):
    """Fields every report carries (not sent on its own)."""

    job_id: UUID
    connection_id: UUID
    attempt: int = Field(default=1, ge=1, description="the job's attempt this report is about (echo of DriverJob.attempt)")


class JobStarted(JobReport):
    """A worker took the job.

    Sent by the driver worker before it talks to the marketplace. The connections service marks the job
    running (``JobStateChanged`` running); a repeat from a redelivery is ignored.
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"job_id": _JOB, "connection_id": _CONNECTION, "worker": "shopware6-1"}]}
    )

    message_type = "JobStarted"

    worker: str = Field(default="", max_length=200)


class JobProgressed(JobReport):
    """The job made progress; also the heartbeat that keeps a long job from timing out.

    Sent by the worker at least every few seconds while it works. The connections service records the
    progress (``done`` of ``total``, when known) and resets the job's timeout.
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"job_id": _JOB, "connection_id": _CONNECTION, "done": 120, "total": 480}]}
    )

    message_type = "JobProgressed"

    done: int = Field(ge=0)
    total: int | None = Field(default=None, ge=0)


class JobSucceeded(JobReport):
    """The job is done; a sync carries the whole mirrored data model.

    Sent once, at the end. The connections service ends the job; after a credential check it starts the
    first sync, after a sync it mirrors ``data_model`` (``DataModelChanged``), after a clean-up it goes on
    with the deletion.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": _JOB,
                    "connection_id": _CONNECTION,
                    "data_model": {
                        "attributes": [
                            {
                                "code": "color",
                                "labels": {"default": "Color", "de": "Farbe"},
                                "type": "select",
                                "options": [{"code": "red", "labels": {"default": "Red"}}],
                                "required": False,
                                "multi_value": False,
                            }
                        ],
                        "attribute_sets": [
                            {"code": "apparel", "labels": {"default": "Apparel"}, "attribute_codes": ["color"]}
                        ],
                    },
                },
                {"job_id": _JOB, "connection_id": _CONNECTION},
            ]
        }
    )

    message_type = "JobSucceeded"

    data_model: DataModel | None = None
    model_chunks: int | None = Field(
        default=None, ge=1, description="a large model came in this many ModelChunk reports before this one"
    )
    model_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the whole chunked model (canonical JSON)"
    )


class ModelChunk(JobReport):
    """One part of a data model too large for one Kafka message (the default limit is 1 MB).

    Sent by a sync's worker before ``JobSucceeded``, in order, on the same key. The connections service keeps
    the chunks until ``JobSucceeded`` names their count and the SHA-256 of the whole model, then checks the
    hash of the reassembled model before mirroring it; a model that does not match fails the job.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": _JOB,
                    "connection_id": _CONNECTION,
                    "index": 0,
                    "count": 2,
                    "attributes": [{"code": "color", "labels": {"default": "Color"}, "type": "select"}],
                    "attribute_sets": [],
                }
            ]
        }
    )

    message_type = "ModelChunk"

    index: int = Field(ge=0)
    count: int = Field(ge=1)
    attributes: list[Attribute] = Field(default_factory=list)
    attribute_sets: list[AttributeSet] = Field(default_factory=list)


class JobFailed(JobReport):
    """The job failed; ``retryable`` says whether trying again later may help.

    Sent once, at the end, instead of ``JobSucceeded``. The connections service ends the job as failed and,
    for a credential check, marks the credentials as not verified with ``message`` as the reason. The
    watchdog of the connections service sends itself the same report (``error_type: timed_out``) for a job
    that stopped reporting.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": _JOB,
                    "connection_id": _CONNECTION,
                    "error_type": "invalid_credentials",
                    "retryable": False,
                    "message": "the shop refused the access key (401)",
                }
            ]
        }
    )

    message_type = "JobFailed"

    error_type: str = Field(max_length=100)
    retryable: bool = False
    message: str = Field(max_length=2000)


ALL_REPORTS: tuple[type[JobReport], ...] = (JobStarted, JobProgressed, ModelChunk, JobSucceeded, JobFailed)
