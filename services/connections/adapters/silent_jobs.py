"""Finds jobs that stopped reporting, from the read side's processes view.

The view already knows every open job and when it last showed a sign of life (its last event: request,
start, progress, heartbeat, retry), so the watchdog asks it rather than scanning the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared.sql import Database


@dataclass(frozen=True)
class SilentJob:
    connection_id: UUID
    job_id: UUID
    attempt: int
    last_activity_at: str


class ProcessesViewJobs:
    """Open jobs whose last activity is older than a moment, oldest first."""

    def __init__(self, views: Database) -> None:
        self._views = views

    def silent_since(self, moment: datetime, limit: int = 500) -> list[SilentJob]:
        with self._views.transaction() as tx:
            try:
                tx.execute(
                    "SELECT connection_id, job_id, attempt, last_activity_at FROM processes "
                    "WHERE open = 1 AND job_id IS NOT NULL AND last_activity_at < ? "
                    "ORDER BY last_activity_at LIMIT ?",
                    (moment.isoformat(), limit),
                )
            except Exception:  # noqa: BLE001 - the view does not exist yet (read side not started): no jobs known
                return []
            rows = tx.fetchall()
        return [SilentJob(UUID(c), UUID(j), int(a or 1), str(t)) for c, j, a, t in rows]
