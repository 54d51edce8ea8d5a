"""Where each view is: its tracked position (in the views' database, beside its rows) and its version.

A view whose code version differs from the stored one is reset (tables dropped and recreated, position 0) and
the runner fills it again from the store.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.projections.adapters import tables
from services.projections.projection import Projection, schema
from shared.positions import create_positions_table, write_position
from shared.sql import Database, Transaction, ensure_schema

__all__ = ["lock_positions", "positions", "prepare", "write_position", "write_positions"]

_VERSIONS = "CREATE TABLE IF NOT EXISTS view_versions (name TEXT PRIMARY KEY, version BIGINT NOT NULL)"


def prepare(db: Database, projections: Sequence[Projection]) -> list[str]:
    """Create what is missing; reset views whose version changed. Returns the names of the views reset."""
    create_positions_table(db)
    ensure_schema(db, _VERSIONS)
    reset: list[str] = []
    with db.transaction() as tx:
        if db.dialect == "postgres":
            tx.execute("SELECT pg_advisory_xact_lock(?)", (7_441_002,))  # one preparer at a time
        for projection in projections:
            tx.execute("SELECT version FROM view_versions WHERE name = ?", (projection.name,))
            found = tx.fetchone()
            if found is not None and int(found[0]) == projection.version:
                continue
            if found is not None or _has_position(tx, projection.name):
                reset.append(projection.name)
                for spec in projection.tables():
                    tables.drop(tx, spec)
                write_position(tx, projection.name, 0)
            tx.execute("INSERT INTO view_versions (name, version) VALUES (?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                       (projection.name, projection.version))
        for projection in projections:
            tx.execute("INSERT INTO tracked_positions (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
                       (projection.name,))
    ensure_schema(db, *[s for p in projections for s in schema(p, trigram_enabled(db))])
    return reset


def trigram_enabled(db: Database) -> bool:
    """Whether substring searches get trigram indexes: PostgreSQL with pg_trgm (installed here if allowed)."""
    if db.dialect != "postgres":
        return False
    try:
        ensure_schema(db, "CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # noqa: BLE001 - no contrib package or no right to install it: search scans instead
        pass
    with db.transaction() as tx:
        tx.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        return tx.fetchone() is not None


def _has_position(tx: Transaction, name: str) -> bool:
    tx.execute("SELECT position FROM tracked_positions WHERE name = ?", (name,))
    found = tx.fetchone()
    return found is not None and int(found[0]) > 0


def positions(tx: Transaction, names: Sequence[str]) -> dict[str, int]:
    tx.execute(f"SELECT name, position FROM tracked_positions WHERE name IN ({', '.join('?' for _ in names)})",
               list(names))
    found = {str(name): int(position) for name, position in tx.fetchall()}
    return {name: found.get(name, 0) for name in names}


def lock_positions(tx: Transaction, dialect: str, names: Sequence[str]) -> dict[str, int]:
    """The views' positions, locked until the transaction ends (SQLite's write transaction locks anyway).

    Whoever moves a view's position (the runner, a rebuild's swap) locks it first, so they take turns.
    """
    lock = " ORDER BY name FOR UPDATE" if dialect == "postgres" else ""
    tx.execute(f"SELECT name, position FROM tracked_positions WHERE name IN ({', '.join('?' for _ in names)}){lock}",
               list(names))
    found = {str(name): int(position) for name, position in tx.fetchall()}
    return {name: found.get(name, 0) for name in names}


def write_positions(tx: Transaction, moved: dict[str, int]) -> None:
    """Several views' new positions in one statement (the runner moves them all with each batch)."""
    if moved:
        marks = ", ".join("(?, ?)" for _ in moved)
        tx.execute(f"INSERT INTO tracked_positions (name, position) VALUES {marks} "
                   "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                   [value for item in moved.items() for value in item])
