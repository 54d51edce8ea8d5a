"""Tracked positions in the event store's notification log, for followers that publish outside a database."""

from __future__ import annotations

from shared.sql import Database, Transaction, ensure_schema

_SCHEMA = "CREATE TABLE IF NOT EXISTS tracked_positions (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"


def create_positions_table(db: Database) -> None:
    ensure_schema(db, _SCHEMA)


def read_position(tx: Transaction, name: str) -> int:
    tx.execute("SELECT position FROM tracked_positions WHERE name = ?", (name,))
    row = tx.fetchone()
    return int(row[0]) if row else 0


def write_position(tx: Transaction, name: str, position: int) -> None:
    tx.execute(
        "INSERT INTO tracked_positions (name, position) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        (name, position),
    )
