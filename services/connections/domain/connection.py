"""The Connection aggregate: one merchant's link to one marketplace through one driver.

Public methods check the product's rules and raise :class:`RuleViolated` naming the rule; the private
``@event`` methods only change state, so replaying stored events never re-checks rules.
Stored event names are explicit and versioned (``Connection.Created.v1``): renaming a class never changes them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.connections.domain.errors import RuleViolated
from services.connections.domain.jobs import Job, JobKind, JobState
from services.connections.domain.meta import Meta

DELETION_STEPS = ("cancel_jobs", "clean_up_marketplace", "remove_data_model")
MAX_JOB_ATTEMPTS = 3
"""A job failing for a retryable reason (marketplace down, worker died, timed out) is tried this often."""
HEARTBEAT_RECORD_SECONDS = 30.0
"""An unchanged progress report is recorded (as a sign of life for the watchdog) at most this often."""


class Status(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETING = "deleting"
    DELETED = "deleted"


class CredentialState(StrEnum):
    CHECKING = "checking"
    VERIFIED = "verified"
    REJECTED = "rejected"
    CHECK_FAILED = "check_failed"


class Connection(Aggregate):
    """A connection. ``credentials`` is the sealed (encrypted) form only; the domain never sees plaintext."""

    TOPIC = "Connection"

    @event("Created", topic="Connection.Created.v1")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - the library's name for the aggregate id
        tenant_id: str,
        name: str,
        driver: str,
        credentials: dict[str, Any],
        credentials_fingerprint: str,
        settings: dict[str, Any],
        meta: dict[str, Any],
    ) -> None:
        self.tenant_id = tenant_id
        self.name = name
        self.driver = driver
        self.credentials = credentials
        self.credentials_fingerprint = credentials_fingerprint
        self.settings = settings
        self.status = Status.ACTIVE
        self.credential_state = CredentialState.CHECKING
        self.established = False
        self.jobs: dict[str, Job] = {}
        self.deletion_step = 0
        self.last_sync_job: str | None = None

    # ----- queries -------------------------------------------------------------------------------------

    def running_job(self, kind: JobKind) -> Job | None:
        return next((job for job in self.jobs.values() if job.kind is kind), None)

    @property
    def is_deleted(self) -> bool:
        return self.status is Status.DELETED

    # ----- edit ----------------------------------------------------------------------------------------

    def edit(
        self,
        *,
        name: str | None,
        driver: str | None,
        credentials: dict[str, Any] | None,
        credentials_fingerprint: str | None,
        settings: dict[str, Any] | None,
        meta: Meta,
    ) -> list[str]:
        """Apply the changed fields; returns their names (empty when nothing changed)."""
        self._refuse_if_deleting("edited")
        if driver is not None and driver != self.driver:
            raise RuleViolated(
                f"the driver of connection {self.id} is {self.driver!r} and cannot be changed",
                "driver_read_only",
            )
        changed: list[str] = []
        if name is not None and name != self.name:
            changed.append("name")
        if credentials_fingerprint is not None and credentials_fingerprint != self.credentials_fingerprint:
            changed.append("credentials")
        if settings is not None and settings != self.settings:
            changed.append("settings")
        if changed:
            self._edited(
                name=name if "name" in changed else None,
                credentials=credentials if "credentials" in changed else None,
                credentials_fingerprint=credentials_fingerprint if "credentials" in changed else None,
                settings=settings if "settings" in changed else None,
                meta=meta.as_dict(),
            )
        return changed

    @event("Edited", topic="Connection.Edited.v1")
    def _edited(
        self,
        name: str | None,
        credentials: dict[str, Any] | None,
        credentials_fingerprint: str | None,
        settings: dict[str, Any] | None,
        meta: dict[str, Any],
    ) -> None:
        if name is not None:
            self.name = name
        if credentials is not None and credentials_fingerprint is not None:
            self.credentials = credentials
            self.credentials_fingerprint = credentials_fingerprint
        if settings is not None:
            self.settings = settings

    # ----- jobs ----------------------------------------------------------------------------------------

    def request_credential_check(self, job_id: str, meta: Meta) -> str:
        """Start "Checking credentials...": a check job replaces any check still pending."""
        self._refuse_if_deleting("checked")
        for job in list(self.jobs.values()):
            if job.kind in (JobKind.CHECK_CREDENTIALS, JobKind.SYNC):
                self._job_ended(job.job_id, job.kind, JobState.CANCELLED, None, None, "credentials changed", meta.as_dict())
        self._job_requested(job_id, JobKind.CHECK_CREDENTIALS, 1, meta.as_dict())
        return job_id

    def request_sync(self, job_id: str, meta: Meta) -> tuple[str, bool]:
        """Trigger a sync. Returns (job id, created); a sync already requested or running is returned as is."""
        self._refuse_if_deleting("synchronized")
        if self.status is not Status.ACTIVE:
            raise RuleViolated(f"connection {self.id} is inactive and synchronizes nothing", "connection_inactive")
        # Checked first: changed credentials of an established connection are unverified until checked.
        if self.credential_state is CredentialState.CHECKING:
            raise RuleViolated(
                f"the credentials of connection {self.id} are still being checked", "credentials_being_checked"
            )
        if not self.established:
            raise RuleViolated(
                f"connection {self.id} is not established: its credentials were not verified", "not_established"
            )
        if self.credential_state is CredentialState.CHECK_FAILED:
            # Changed credentials that could not be checked (marketplace unreachable): check them first; the
            # sync follows by itself once they are verified.
            return self.request_credential_check(job_id, meta), True
        running = self.running_job(JobKind.SYNC)
        if running is not None:
            return running.job_id, False
        self._job_requested(job_id, JobKind.SYNC, 1, meta.as_dict())
        return job_id, True

    def request_clean_up(self, job_id: str, meta: Meta) -> str:
        """Ask the driver's worker to clean up at the marketplace (a deletion step)."""
        self._job_requested(job_id, JobKind.CLEAN_UP, 1, meta.as_dict())
        return job_id

    @event("JobRequested", topic="Connection.JobRequested.v1")
    def _job_requested(self, job_id: str, kind: JobKind, attempt: int, meta: dict[str, Any]) -> None:
        self.jobs[job_id] = Job(job_id, JobKind(kind), attempt=attempt)
        if JobKind(kind) is JobKind.CHECK_CREDENTIALS:
            self.credential_state = CredentialState.CHECKING

    def record_started(self, job_id: str, worker: str, meta: Meta) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.state is JobState.RUNNING:
            return False  # unknown, ended or repeated report: nothing changes
        self._job_started(job_id, job.kind, worker, meta.as_dict())
        return True

    @event("JobStarted", topic="Connection.JobStarted.v1")
    def _job_started(self, job_id: str, kind: JobKind, worker: str, meta: dict[str, Any]) -> None:
        self.jobs[job_id] = self.jobs[job_id].started()

    def record_progress(self, job_id: str, done: int, total: int | None, now: datetime, meta: Meta) -> bool:
        """Record progress; an unchanged report is recorded only as a heartbeat, every so often."""
        job = self.jobs.get(job_id)
        if job is None:
            return False
        unchanged = job.done == done and job.total == total and job.state is JobState.RUNNING
        if unchanged and (now - self.modified_on).total_seconds() < HEARTBEAT_RECORD_SECONDS:
            return False
        self._job_progressed(job_id, job.kind, done, total, meta.as_dict())
        return True

    @event("JobProgressed", topic="Connection.JobProgressed.v1")
    def _job_progressed(
        self, job_id: str, kind: JobKind, done: int, total: int | None, meta: dict[str, Any]
    ) -> None:
        self.jobs[job_id] = self.jobs[job_id].progressed(done, total)

    def record_succeeded(self, job_id: str, meta: Meta) -> Job | None:
        """Ends the job as succeeded; returns it, or None when the report is late or repeated."""
        job = self.jobs.get(job_id)
        if job is None:
            return None
        self._job_ended(job_id, job.kind, JobState.SUCCEEDED, None, None, None, meta.as_dict())
        return job

    def record_failed(self, job_id: str, error_type: str, retryable: bool, message: str, meta: Meta) -> Job | None:
        """End the job as failed, or try it again when the reason is retryable and attempts are left.

        Returns the job when it ended; None when the report changed nothing or the job is tried again.
        """
        job = self.jobs.get(job_id)
        if job is None:
            return None
        if retryable and job.attempt < MAX_JOB_ATTEMPTS:
            self._job_retried(job_id, job.kind, job.attempt + 1, error_type, message, meta.as_dict())
            return None
        self._job_ended(job_id, job.kind, JobState.FAILED, error_type, retryable, message, meta.as_dict())
        return job

    def time_out(self, job_id: str, meta: Meta) -> Job | None:
        """The watchdog's verdict on a job that stopped reporting: tried again, or ended as timed out."""
        job = self.jobs.get(job_id)
        if job is None:
            return None
        reason = meta.reason or "no report in time"
        if job.attempt < MAX_JOB_ATTEMPTS:
            self._job_retried(job_id, job.kind, job.attempt + 1, "timed_out", reason, meta.as_dict())
            return None
        self._job_ended(job_id, job.kind, JobState.TIMED_OUT, "timed_out", True, reason, meta.as_dict())
        return job

    @event("JobRetried", topic="Connection.JobRetried.v1")
    def _job_retried(
        self, job_id: str, kind: JobKind, attempt: int, error_type: str, message: str, meta: dict[str, Any]
    ) -> None:
        self.jobs[job_id] = Job(job_id, JobKind(kind), attempt=attempt)

    def is_current_attempt(self, job_id: str, attempt: int) -> bool:
        """Reports about an earlier attempt of a job that was tried again change nothing."""
        job = self.jobs.get(job_id)
        return job is not None and job.attempt == attempt

    @event("JobEnded", topic="Connection.JobEnded.v1")
    def _job_ended(
        self,
        job_id: str,
        kind: JobKind,
        state: JobState,
        error_type: str | None,
        retryable: bool | None,
        message: str | None,
        meta: dict[str, Any],
    ) -> None:
        job = self.jobs.pop(job_id)
        state = JobState(state)
        if job.kind is JobKind.CHECK_CREDENTIALS and state is not JobState.CANCELLED:
            if state is JobState.SUCCEEDED:
                self.credential_state = CredentialState.VERIFIED
                self.established = True
            elif error_type == "credentials_rejected":
                self.credential_state = CredentialState.REJECTED
                self.established = False
            else:
                self.credential_state = CredentialState.CHECK_FAILED
        if job.kind is JobKind.SYNC and state is not JobState.CANCELLED:
            self.last_sync_job = job_id

    # ----- disable / enable ------------------------------------------------------------------------------

    def disable(self, meta: Meta) -> bool:
        """Deactivate; pending and running jobs are cancelled. False when already inactive."""
        self._refuse_if_deleting("disabled")
        if self.status is Status.INACTIVE:
            return False
        for job in list(self.jobs.values()):
            self._job_ended(job.job_id, job.kind, JobState.CANCELLED, None, None, "connection disabled", meta.as_dict())
        self._disabled(meta.as_dict())
        return True

    @event("Disabled", topic="Connection.Disabled.v1")
    def _disabled(self, meta: dict[str, Any]) -> None:
        self.status = Status.INACTIVE

    def enable(self, meta: Meta) -> bool:
        self._refuse_if_deleting("enabled")
        if self.status is Status.ACTIVE:
            return False
        self._enabled(meta.as_dict())
        return True

    @event("Enabled", topic="Connection.Enabled.v1")
    def _enabled(self, meta: dict[str, Any]) -> None:
        self.status = Status.ACTIVE

    # ----- delete ----------------------------------------------------------------------------------------

    def start_deletion(self, meta: Meta) -> bool:
        """Only an inactive connection can be deleted. False when its deletion is already under way."""
        if self.status in (Status.DELETING, Status.DELETED):
            return False
        # A connection never established (its credentials were rejected) can be discarded while active.
        if self.status is not Status.INACTIVE and self.established:
            raise RuleViolated(
                f"connection {self.id} is active: only inactive connections can be deleted", "connection_active"
            )
        self._deletion_started(list(DELETION_STEPS), meta.as_dict())
        return True

    @event("DeletionStarted", topic="Connection.DeletionStarted.v1")
    def _deletion_started(self, steps: list[str], meta: dict[str, Any]) -> None:
        self.status = Status.DELETING
        self.deletion_step = 0

    @property
    def next_deletion_step(self) -> str | None:
        if self.status is not Status.DELETING or self.deletion_step >= len(DELETION_STEPS):
            return None
        return DELETION_STEPS[self.deletion_step]

    def complete_deletion_step(self, step: str, meta: Meta) -> bool:
        if self.next_deletion_step != step:
            return False  # a repeated or out-of-order step changes nothing
        if step == "cancel_jobs":
            for job in list(self.jobs.values()):
                self._job_ended(job.job_id, job.kind, JobState.CANCELLED, None, None, "connection deleted", meta.as_dict())
        self._deletion_step_completed(step, self.deletion_step + 1, len(DELETION_STEPS), meta.as_dict())
        if self.next_deletion_step is None:
            self._deleted(meta.as_dict())
        return True

    @event("DeletionStepCompleted", topic="Connection.DeletionStepCompleted.v1")
    def _deletion_step_completed(self, step: str, number: int, of: int, meta: dict[str, Any]) -> None:
        self.deletion_step = number

    @event("Deleted", topic="Connection.Deleted.v1")
    def _deleted(self, meta: dict[str, Any]) -> None:
        self.status = Status.DELETED
        self.credentials = {}

    def _refuse_if_deleting(self, what: str) -> None:
        if self.status in (Status.DELETING, Status.DELETED):
            raise RuleViolated(
                f"connection {self.id} is being deleted and cannot be {what}", "connection_being_deleted"
            )
