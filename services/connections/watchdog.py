"""The watchdog: a job that stops reporting is tried again, and after its last attempt ends as timed out.

Runs in the write side's process. Its verdict is an ordinary report (``JobFailed`` with ``timed_out``) for
the attempt it saw, so a worker's late report and the watchdog can never both win, and several service
replicas running it at once change nothing twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from services.connections.adapters.silent_jobs import ProcessesViewJobs
from services.connections.application import Connections
from services.connections.domain.meta import Meta
from shared.logging import get_logger

log = get_logger(__name__)


class Watchdog:
    def __init__(self, app: Connections, jobs: ProcessesViewJobs, timeout: float, interval: float) -> None:
        self.app = app
        self.jobs = jobs
        self.timeout = timeout
        self.interval = interval

    def sweep(self, now: datetime | None = None) -> int:
        """Time out every job silent for longer than the timeout; returns how many were timed out."""
        moment = (now or datetime.now(UTC)) - timedelta(seconds=self.timeout)
        timed_out = 0
        for job in self.jobs.silent_since(moment):
            reason = f"no report for {self.timeout:g} s (last sign of life {job.last_activity_at})"
            meta = Meta(tenant_id="", actor="watchdog", correlation_id=str(job.job_id), reason=reason)
            if self.app.time_out_job(job.connection_id, job.job_id, job.attempt, meta):
                timed_out += 1
                log.warning("job_timed_out", job_id=str(job.job_id), connection_id=str(job.connection_id),
                            attempt=job.attempt)
        return timed_out

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:  # noqa: BLE001 - a failed sweep is logged and tried again at the next interval
                log.exception("watchdog_sweep_failed")
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except TimeoutError:
                pass
