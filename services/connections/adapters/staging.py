"""Where the chunks of a large data model wait for their job's final report.

In memory on purpose: the chunks of one job arrive in order on one partition, so they reach the same
consumer just before the job's ``JobSucceeded``. If the process restarts (or the partition moves) in between,
the final report finds chunks missing and the sync is tried again; nothing half-stored, nothing lost.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from contracts.datamodel import DataModel

MAX_JOBS = 64
"""Models in flight kept at most; the oldest is dropped first (its job will then be tried again)."""


class InMemoryModelStaging:
    def __init__(self, max_jobs: int = MAX_JOBS) -> None:
        self._jobs: OrderedDict[tuple[str, int], dict[int, DataModel]] = OrderedDict()
        self._max_jobs = max_jobs
        self._lock = threading.Lock()

    def put(self, job_id: str, attempt: int, index: int, part: DataModel) -> None:
        with self._lock:
            parts = self._jobs.setdefault((job_id, attempt), {})
            parts[index] = part
            self._jobs.move_to_end((job_id, attempt))
            while len(self._jobs) > self._max_jobs:
                self._jobs.popitem(last=False)

    def parts(self, job_id: str, attempt: int, count: int) -> list[DataModel] | None:
        """All ``count`` parts in order, or None when any is missing."""
        with self._lock:
            parts = dict(self._jobs.get((job_id, attempt), {}))
        if sorted(parts) != list(range(count)):
            return None
        return [parts[i] for i in range(count)]

    def forget(self, job_id: str, attempt: int) -> None:
        with self._lock:
            self._jobs.pop((job_id, attempt), None)
