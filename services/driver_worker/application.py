"""The driver worker's job runner: one job in, started -> progress... -> succeeded | failed out.

Whatever the driver does, the job ends with exactly one final report; a driver's failure is reported with
its type, whether a retry may help, and a message for people, never as a stack trace.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from contracts.drivers import CATALOG
from contracts.jobs import DriverJob, JobKind
from contracts.chunking import model_digest, needs_chunks, split_model
from contracts.reports import JobFailed, JobProgressed, JobStarted, JobSucceeded, ModelChunk
from services.driver_worker.domain.errors import DriverError
from services.driver_worker.drivers.base import Driver
from services.driver_worker.ports import Reporter
from shared.logging import get_logger
from shared.sealing import SealError, open_sealed

log = get_logger(__name__)
PROGRESS_EVERY_SECONDS = 0.5
MAX_BACKOFF_WAIT_SECONDS = 120.0
HEARTBEAT_SECONDS = 10.0
"""A long job with no progress to tell still reports this often, so the watchdog knows it is alive."""
WATCH_SECONDS = 0.5


class JobCancelled(Exception):
    """The connections service cancelled the job (connection disabled, credentials changed, deleted)."""


class Cancellations:
    """Job ids the connections service cancelled, as seen on its event stream; bounded in memory."""

    def __init__(self, keep: int = 10_000) -> None:
        self._ids: dict[UUID, None] = {}
        self._keep = keep

    def cancel(self, job_id: UUID) -> None:
        self._ids[job_id] = None
        while len(self._ids) > self._keep:
            del self._ids[next(iter(self._ids))]

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._ids


class JobRunner:
    def __init__(
        self, driver_id: str, driver: Driver[Any, Any], worker_key: bytes, worker_name: str,
        cancellations: Cancellations | None = None,
    ) -> None:
        self.cancellations = cancellations or Cancellations()
        self.spec = CATALOG[driver_id]
        self.driver = driver
        self.worker_key = worker_key
        self.worker_name = worker_name

    async def run(self, job: DriverJob, reporter: Reporter) -> None:
        """Run ``job`` and report on it; returns after the final report was published."""
        ids = {"job_id": job.job_id, "connection_id": job.connection_id, "attempt": job.attempt}
        await self._wait_for_backoff(job)
        if job.job_id in self.cancellations:
            log.info("job_skipped_cancelled", job_id=str(job.job_id))
            return
        await reporter.report(JobStarted(worker=self.worker_name, **ids))
        started = time.monotonic()
        try:
            final = await self._supervised(job, reporter)
        except JobCancelled:
            final = JobFailed(error_type="cancelled", retryable=False, message="the job was cancelled", **ids)
        except DriverError as failure:
            final = JobFailed(error_type=failure.type, retryable=failure.retryable, message=failure.message, **ids)
        except SealError:
            final = JobFailed(error_type="credentials_unavailable", retryable=False,
                              message="the job's credentials could not be opened (erased or wrong worker key)", **ids)
        except ValidationError as invalid:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in invalid.errors())
            final = JobFailed(error_type="invalid_credentials", retryable=False,
                              message=f"stored credentials or settings are invalid for this driver: {fields}", **ids)
        except Exception as crash:  # noqa: BLE001 - a driver bug must still end the job with a reason
            log.exception("driver_crashed", job_id=str(job.job_id))
            final = JobFailed(error_type="driver_crashed", retryable=True,
                              message=f"the driver failed unexpectedly ({type(crash).__name__})", **ids)
        await reporter.report(final)
        log.info("job_done", job_id=str(job.job_id), kind=job.kind, outcome=final.message_type,
                 seconds=round(time.monotonic() - started, 3))

    @staticmethod
    async def _wait_for_backoff(job: DriverJob) -> None:
        """A retried job starts no sooner than the service's backoff allows (bounded, in case of clock skew)."""
        if job.not_before is not None:
            delay = (job.not_before - datetime.now(UTC)).total_seconds()
            if delay > 0:
                await asyncio.sleep(min(delay, MAX_BACKOFF_WAIT_SECONDS))

    async def _supervised(self, job: DriverJob, reporter: Reporter) -> JobSucceeded:
        """Run the job while watching it: a heartbeat every so often, and a stop as soon as it is cancelled."""
        progress = _Progress()
        work = asyncio.create_task(self._do(job, reporter, progress))
        try:
            while True:
                finished, _ = await asyncio.wait({work}, timeout=WATCH_SECONDS)
                if finished:
                    return work.result()
                if job.job_id in self.cancellations:
                    raise JobCancelled
                if time.monotonic() - progress.sent_at >= HEARTBEAT_SECONDS:
                    await progress.send(reporter, job)
        finally:
            if not work.done():
                work.cancel()

    async def _do(self, job: DriverJob, reporter: Reporter, progress: _Progress) -> JobSucceeded:
        plaintext = open_sealed(self.worker_key, job.sealed_credentials, str(job.job_id)) \
            if job.sealed_credentials else {}
        credentials = self.spec.credentials_model.model_validate(plaintext)
        settings = self.spec.settings_model.model_validate(job.settings)
        ids = {"job_id": job.job_id, "connection_id": job.connection_id, "attempt": job.attempt}
        if job.kind is JobKind.CHECK_CREDENTIALS:
            await self.driver.check_credentials(credentials, settings)
            return JobSucceeded(**ids)
        if job.kind is JobKind.CLEAN_UP:
            await self.driver.clean_up(credentials, settings)
            return JobSucceeded(**ids)

        async def report_progress(done: int, total: int | None) -> None:
            if job.job_id in self.cancellations:
                raise JobCancelled
            progress.done, progress.total = done, total
            if time.monotonic() - progress.sent_at >= PROGRESS_EVERY_SECONDS:
                await progress.send(reporter, job)

        model = await self.driver.fetch_model(credentials, settings, report_progress)
        if not needs_chunks(model):
            return JobSucceeded(data_model=model, **ids)
        # Too large for one Kafka message: the model goes in chunks, the final report names them and its hash.
        parts = split_model(model)
        for index, part in enumerate(parts):
            await reporter.report(ModelChunk(index=index, count=len(parts), attributes=list(part.attributes),
                                             attribute_sets=list(part.attribute_sets), **ids))
        return JobSucceeded(model_chunks=len(parts), model_sha256=model_digest(model), **ids)


class _Progress:
    """The last progress a job made, and when it was last reported (progress or heartbeat)."""

    def __init__(self) -> None:
        self.done = 0
        self.total: int | None = None
        self.sent_at = time.monotonic()

    async def send(self, reporter: Reporter, job: DriverJob) -> None:
        self.sent_at = time.monotonic()
        await reporter.report(JobProgressed(job_id=job.job_id, connection_id=job.connection_id,
                                            attempt=job.attempt, done=self.done, total=self.total))
