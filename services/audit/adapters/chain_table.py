"""The ``integrity_chain`` table, in the event store's own database (see docs/adr/0002-tamper-evidence.md).

One row per sealed record: its position, which record it was, and the chain's hash up to it. Appends check
that the head is still where the sealer read it, so two sealers never interleave two different chains.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from services.audit.domain.chain import Link
from shared.sql import Database, Row, ensure_schema

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS integrity_chain ("
    " position BIGINT PRIMARY KEY, originator_id TEXT NOT NULL, originator_version BIGINT NOT NULL,"
    " hash TEXT NOT NULL, sealed_at TEXT NOT NULL)"
)
_COLUMNS = "position, originator_id, originator_version, hash"
_APPEND_LOCK = 7_441_002  # PostgreSQL advisory lock serialising sealers (SQLite's BEGIN IMMEDIATE does it there)


class SqlChainStore:
    """A :class:`~services.audit.ports.ChainStore` on the project's SQL seam."""

    def __init__(self, db: Database) -> None:
        self._db = db
        ensure_schema(db, _SCHEMA)

    def head(self) -> Link | None:
        with self._db.transaction() as tx:
            tx.execute(f"SELECT {_COLUMNS} FROM integrity_chain ORDER BY position DESC LIMIT 1")
            row = tx.fetchone()
        return _link(row) if row else None

    def append(self, links: Sequence[Link], after: int) -> bool:
        if not links:
            return True
        sealed_at = datetime.now(UTC).isoformat(timespec="microseconds")
        with self._db.transaction() as tx:
            if self._db.dialect == "postgres":
                tx.execute("SELECT pg_advisory_xact_lock(?)", (_APPEND_LOCK,))
            tx.execute("SELECT MAX(position) FROM integrity_chain")
            row = tx.fetchone()
            if ((row[0] if row else None) or 0) != after:
                return False
            tx.executemany(
                "INSERT INTO integrity_chain (position, originator_id, originator_version, hash, sealed_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(k.position, k.originator_id, k.version, k.hash, sealed_at) for k in links],
            )
        return True

    def links(self, after: int, limit: int) -> Sequence[Link]:
        with self._db.transaction() as tx:
            tx.execute(f"SELECT {_COLUMNS} FROM integrity_chain WHERE position > ? ORDER BY position LIMIT ?",
                       (after, limit))
            return [_link(row) for row in tx.fetchall()]

    def link_at(self, position: int) -> Link | None:
        with self._db.transaction() as tx:
            tx.execute(f"SELECT {_COLUMNS} FROM integrity_chain WHERE position = ?", (position,))
            row = tx.fetchone()
        return _link(row) if row else None


def _link(row: Row) -> Link:
    position, originator_id, version, hash_hex = row
    return Link(int(position), str(originator_id), int(version), str(hash_hex))
