"""Jobs a connection hands to its driver's workers: credential checks, syncs and clean-ups."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class JobKind(StrEnum):
    CHECK_CREDENTIALS = "check_credentials"
    SYNC = "sync"
    CLEAN_UP = "clean_up"


class JobState(StrEnum):
    REQUESTED = "requested"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def is_final(self) -> bool:
        return self not in (JobState.REQUESTED, JobState.RUNNING)


@dataclass(frozen=True)
class Job:
    """A job that has not ended yet. Ended jobs leave the aggregate; their history is in the events."""

    job_id: str
    kind: JobKind
    state: JobState = JobState.REQUESTED
    attempt: int = 1
    done: int | None = None
    total: int | None = None

    def started(self) -> Job:
        return replace(self, state=JobState.RUNNING)

    def progressed(self, done: int, total: int | None) -> Job:
        return replace(self, state=JobState.RUNNING, done=done, total=total)
