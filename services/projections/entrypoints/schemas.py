"""Response models of the query API: what each view's rows look like in the OpenAPI document."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of results; pass ``next_cursor`` as ``cursor`` for the next one (null on the last page)."""

    items: list[T]
    next_cursor: str | None = None


class ConnectionRow(BaseModel):
    """A row of the Connections tab."""

    connection_id: str
    tenant_id: str
    name: str
    driver: str
    status: str = Field(description="active, inactive or deleting")
    credential_state: str = Field(description="checking, verified, rejected or check_failed")
    credential_reason: str | None = None
    credential_checked_at: str | None = None
    sync_state: str | None = Field(None, description="state of the latest sync: requested, running, succeeded, ...")
    sync_job_id: str | None = None
    sync_done: int | None = None
    sync_total: int | None = None
    last_sync_state: str | None = Field(None, description="outcome of the last sync that ended")
    last_sync_at: str | None = None
    last_sync_error: str | None = None
    deletion_step: int | None = None
    created_at: str
    updated_at: str
    version: int


class JobRecord(BaseModel):
    """A job (credential check, sync, clean-up) with its progress and outcome."""

    job_id: str | None
    connection_id: str
    tenant_id: str | None
    kind: str
    state: str = Field(description="requested, running, succeeded, failed, cancelled or timed_out")
    attempt: int | None = None
    done: int | None = None
    total: int | None = None
    requested_at: str
    started_at: str | None = None
    ended_at: str | None = None
    duration_seconds: float | None = None
    last_activity_at: str
    worker: str | None = None
    error_type: str | None = None
    retryable: bool | None = None
    message: str | None = Field(None, description="failure reason or why the job was cancelled")
    reason: str | None = Field(None, description="why the job was requested")
    requested_by: str | None = None
    correlation_id: str | None = None


class ConnectionStatus(ConnectionRow):
    """Everything about one connection: the list row, jobs, masked settings, credential fingerprint."""

    status: str = Field(description="active, inactive, deleting or deleted")
    settings: dict[str, Any] = Field(description="secret-named fields are masked")
    credentials_fingerprint: str | None = Field(None, description="keyed fingerprint; credentials never appear")
    credentials_changed_at: str | None = None
    deletion_steps: list[str] | None = None
    deleted_at: str | None = None
    current_job: JobRecord | None = Field(None, description="the most recently requested job not ended yet")
    current_jobs: list[JobRecord]
    recent_jobs: list[JobRecord] = Field(description="the last 20 ended jobs, newest first")


class Process(JobRecord):
    """A running or finished process of the tenant: a job, or a deletion (kind ``deletion``)."""

    process_id: str
    connection_name: str | None = None
    driver: str | None = None
    detail: str | None = Field(None, description="for deletions, the last step completed")
    age_seconds: float | None = Field(None, description="for running processes, seconds since started (or requested)")


class AttributeSet(BaseModel):
    code: str
    attribute_count: int
    document: dict[str, Any] = Field(description="labels and attribute_codes, as mirrored")


class Attribute(BaseModel):
    code: str
    type: str | None
    required: bool
    document: dict[str, Any] = Field(description="labels, type, options, ..., as mirrored")


class SyncSummary(BaseModel):
    """What one sync changed in the mirrored model (``kind`` cleared: the model was removed)."""

    sync_id: int = Field(description="store position of the sync's event; use it to page its changes")
    connection_id: str
    kind: str
    job_id: str | None
    at: str
    attributes_total: int
    sets_total: int
    attributes_added: int
    attributes_changed: int
    attributes_removed: int
    sets_added: int
    sets_changed: int
    sets_removed: int
    actor: str | None = None
    correlation_id: str | None = None


class ModelChange(BaseModel):
    seq: int
    item: str = Field(description="attribute or set")
    change: str = Field(description="added, changed or removed")
    code: str
    fields: list[str] | None = Field(None, description="for changes, the fields that differ")
    document: dict[str, Any] | None = Field(None, description="new document; for removals, the last one")


class DataModelSummary(BaseModel):
    connection_id: str
    attributes: int
    sets: int
    last_sync: SyncSummary | None


class AuditEntry(BaseModel):
    """Who did what, when and why; secrets never appear (credentials only as a fingerprint)."""

    position: int
    tenant_id: str
    connection_id: str | None
    occurred_at: str
    event_type: str
    actor: str | None
    correlation_id: str | None
    causation_id: str | None
    reason: str | None
    summary: str
    details: dict[str, Any]


class ViewLag(BaseModel):
    view: str
    position: int
    lag_events: int
    lag_seconds: float


class Ready(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str
    store_position: int
    lag_events: int = Field(description="the largest lag of any view, in events")
    lag_seconds: float
    views: list[ViewLag]


class RebuildState(BaseModel):
    view: str
    state: str = Field(description="pending, building, swapping, done or failed")
    position: int
    target: int
    fraction: float
    events_applied: int
    events_per_second: float
    seconds: float
    error: str | None = None
    started: bool | None = Field(None, description="false when a rebuild of this view was already running")
