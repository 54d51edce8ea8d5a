"""Copy the embedded SQLite store into PostgreSQL, then prove the copy equal record by record.

What moves (the service must be stopped while it runs):
- the event store: every stored event with its notification id (positions stay the same, so the relay's
  tracked position, the audit chain and every exported position keep their meaning), and the snapshots;
- ``connection_keys`` (the wrapped per-connection data keys), ``tracked_positions`` (the relay resumes where
  it stopped: nothing is published twice), ``integrity_chain`` (the audit seals stay valid).
Views are not copied: the projections process rebuilds them from the store on its first start.

Everything is written in one PostgreSQL transaction: a failed migration leaves the target as it was.
Verification reads both sides again: counts, each aggregate's versions, and a SHA-256 digest over every
record of every table, in order.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment
from psycopg import sql

from shared.settings import Settings, Store

APPLICATION = "connections"  # the eventsourcing application's name: PostgreSQL tables are named after it
BATCH = 1000
# Side tables: (SQLite file under the data folder, table). Their DDL is portable (written once for both
# dialects by the modules that own them), so it is read from SQLite and run on PostgreSQL as it is.
SIDE_TABLES: tuple[tuple[str, str], ...] = (
    ("keys.sqlite", "connection_keys"),
    ("positions.sqlite", "tracked_positions"),
    ("events.sqlite", "integrity_chain"),
)

Progress = Callable[[str], None]


class MigrationError(Exception):
    """The migration cannot start or did not verify; the message says which and why."""


@dataclass
class Digest:
    """What one side holds: counts, each aggregate's versions, and a running digest per table."""

    counts: dict[str, int] = field(default_factory=dict)
    versions: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # id -> (events, first, last)
    digests: dict[str, str] = field(default_factory=dict)

    def differences(self, other: Digest) -> list[str]:
        found = [f"{table}: {n} rows in SQLite, {other.counts.get(table, 0)} in PostgreSQL"
                 for table, n in self.counts.items() if other.counts.get(table, 0) != n]
        for aggregate, versions in self.versions.items():
            if other.versions.get(aggregate) != versions:
                found.append(f"aggregate {aggregate}: versions {versions} in SQLite, "
                             f"{other.versions.get(aggregate)} in PostgreSQL")
                if len(found) > 20:
                    break
        found += [f"{table}: digest differs" for table, d in self.digests.items() if other.digests.get(table) != d]
        return found


@dataclass(frozen=True)
class Report:
    events: int
    snapshots: int
    aggregates: int
    side_rows: dict[str, int]
    digest: str  # of all tables together: the same on both sides


def _record_bytes(row: Sequence[Any]) -> bytes:
    """A record as bytes, the same whichever database it was read from (uuid/str, memoryview/bytes)."""
    parts = []
    for value in row:
        if isinstance(value, memoryview | bytes | bytearray):
            parts.append(b"b:" + bytes(value).hex().encode())
        else:
            parts.append(b"v:" + str(value).encode())
    return b"\x1f".join(parts) + b"\x1e"


class _Source:
    """The SQLite files of a data folder, opened read-only."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        if not (data_dir / "events.sqlite").is_file():
            raise MigrationError(f"no event store at {data_dir / 'events.sqlite'} (is --from-sqlite the data folder?)")
        self._connections: dict[str, sqlite3.Connection] = {}

    def db(self, file: str) -> sqlite3.Connection | None:
        path = self.data_dir / file
        if not path.is_file():
            return None
        if file not in self._connections:
            self._connections[file] = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        return self._connections[file]

    def has_table(self, file: str, table: str) -> bool:
        db = self.db(file)
        return db is not None and db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None

    def ddl(self, file: str, table: str) -> str:
        db = self.db(file)
        assert db is not None
        row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        statement = str(row[0])
        return statement if "IF NOT EXISTS" in statement.upper() else statement.replace(
            "CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)

    def rows(self, file: str, query: str) -> Iterator[tuple[Any, ...]]:
        db = self.db(file)
        assert db is not None
        cursor = db.execute(query)
        while batch := cursor.fetchmany(BATCH):
            yield from batch

    def close(self) -> None:
        for db in self._connections.values():
            db.close()


def _target_tables(url: str) -> tuple[str, str, str]:
    """Create the event store's tables in PostgreSQL with the library's own DDL; (schema, events, snapshots)."""
    env = Settings(store=Store.POSTGRES, database_url=url).eventsourcing_env()
    factory = InfrastructureFactory.construct(Environment(APPLICATION, env))
    events = factory.application_recorder()
    snapshots = factory.aggregate_recorder("snapshots")
    schema = events.datastore.schema  # type: ignore[attr-defined]
    names = events.events_table_name, snapshots.events_table_name  # type: ignore[attr-defined]
    factory.close()
    return schema, *names


def _events_query(table: str) -> str:
    return f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} ORDER BY rowid"  # noqa: S608


def migrate(data_dir: Path, url: str, progress: Progress = lambda _: None) -> Report:
    """Copy, then verify; raises :class:`MigrationError` when the target is not empty or the copy differs."""
    source = _Source(data_dir)
    try:
        schema, events_table, snapshots_table = _target_tables(url)
        events_id = sql.Identifier(schema, events_table)
        snapshots_id = sql.Identifier(schema, snapshots_table)
        side = [(f, t) for f, t in SIDE_TABLES if source.has_table(f, t)]
        with psycopg.connect(url) as conn:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(events_id))
                existing = cur.fetchone()
                if existing and existing[0]:
                    raise MigrationError(f"the target store already holds {existing[0]} events; "
                                         "migrate into an empty database")
            with conn.transaction(), conn.cursor() as cur:
                copied = _copy_events(source, cur, events_id, progress)
                snaps = _copy_snapshots(source, cur, snapshots_id)
                side_rows = {table: _copy_side_table(source, cur, file, table) for file, table in side}
                # bigserial continues after the copied ids, so new events follow the old ones.
                cur.execute(sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'notification_id'), "
                                    "GREATEST((SELECT max(notification_id) FROM {}), 1))").format(
                    sql.Literal(f"{schema}.{events_table}"), events_id))
            progress(f"copied {copied:,} events, {snaps:,} snapshots, "
                     + ", ".join(f"{n:,} rows of {t}" for t, n in side_rows.items()))
            before = _digest_sqlite(source, side)
            after = _digest_postgres(conn, events_id, snapshots_id, side, set(before.counts))
        problems = before.differences(after)
        if problems:
            raise MigrationError("the copy differs from the source:\n  " + "\n  ".join(problems))
        overall = hashlib.sha256("".join(f"{t}={d};" for t, d in sorted(before.digests.items())).encode())
        progress(f"verified: counts, versions of {len(before.versions):,} aggregates and the digest of every record")
        return Report(copied, snaps, len(before.versions), side_rows, overall.hexdigest())
    finally:
        source.close()


def _copy_events(source: _Source, cur: psycopg.Cursor[Any], table: sql.Identifier, progress: Progress) -> int:
    statement = sql.SQL("INSERT INTO {} (notification_id, originator_id, originator_version, topic, state) "
                        "VALUES (%s, %s, %s, %s, %s)").format(table)
    copied = 0
    batch: list[tuple[Any, ...]] = []
    for rowid, originator_id, version, topic, state in source.rows("events.sqlite", _events_query("stored_events")):
        batch.append((rowid, UUID(str(originator_id)), version, topic, state))
        if len(batch) == BATCH:
            cur.executemany(statement, batch)
            copied += len(batch)
            batch.clear()
            progress(f"{copied:,} events copied")
    cur.executemany(statement, batch)
    return copied + len(batch)


def _copy_snapshots(source: _Source, cur: psycopg.Cursor[Any], table: sql.Identifier) -> int:
    if not source.has_table("events.sqlite", "stored_snapshots"):
        return 0
    rows = [(UUID(str(o)), v, t, s) for o, v, t, s in source.rows(
        "events.sqlite", "SELECT originator_id, originator_version, topic, state FROM stored_snapshots")]
    cur.executemany(sql.SQL("INSERT INTO {} (originator_id, originator_version, topic, state) "
                            "VALUES (%s, %s, %s, %s)").format(table), rows)
    return len(rows)


def _columns(source: _Source, file: str, table: str) -> list[str]:
    db = source.db(file)
    assert db is not None
    return [str(r[1]) for r in db.execute(f"PRAGMA table_info({table})")]


def _copy_side_table(source: _Source, cur: psycopg.Cursor[Any], file: str, table: str) -> int:
    cur.execute(source.ddl(file, table))  # type: ignore[arg-type] - the owning module's portable DDL
    columns = _columns(source, file, table)
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
    existing = cur.fetchone()
    if existing and existing[0]:
        raise MigrationError(f"the target already has rows in {table}; migrate into an empty database")
    rows = list(source.rows(file, f"SELECT {', '.join(columns)} FROM {table}"))  # noqa: S608 - names from PRAGMA
    cur.executemany(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table), names, sql.SQL(", ").join(sql.Placeholder() * len(columns))), rows)
    return len(rows)


def _fold(digest: Digest, table: str, rows: Iterator[Sequence[Any]], versions: bool = False,
          ordered: bool = True) -> None:
    """Count and digest ``rows``; unordered tables digest their sorted row hashes (no collation to agree on)."""
    hasher = hashlib.sha256()
    row_hashes: list[bytes] = []
    count = 0
    for row in rows:
        if ordered:
            hasher.update(_record_bytes(row))
        else:
            row_hashes.append(hashlib.sha256(_record_bytes(row)).digest())
        count += 1
        if versions:
            aggregate, version = str(row[1]), int(row[2])
            events, first, _ = digest.versions.get(aggregate, (0, version, version))
            digest.versions[aggregate] = (events + 1, min(first, version), version)
    for row_hash in sorted(row_hashes):
        hasher.update(row_hash)
    digest.counts[table] = count
    digest.digests[table] = hasher.hexdigest()


def _as_uuid(rows: Iterator[tuple[Any, ...]], index: int) -> Iterator[tuple[Any, ...]]:
    """SQLite keeps originator ids as 32 hex digits, PostgreSQL as uuid: compare them as UUIDs."""
    for row in rows:
        yield (*row[:index], UUID(str(row[index])), *row[index + 1:])


def _digest_sqlite(source: _Source, side: list[tuple[str, str]]) -> Digest:
    digest = Digest()
    _fold(digest, "events", _as_uuid(source.rows("events.sqlite", _events_query("stored_events")), 1), versions=True)
    if source.has_table("events.sqlite", "stored_snapshots"):
        _fold(digest, "snapshots", _as_uuid(source.rows(
            "events.sqlite", "SELECT originator_id, originator_version, topic, state FROM stored_snapshots"), 0),
            ordered=False)
    for file, table in side:
        columns = _columns(source, file, table)
        _fold(digest, table, source.rows(file, f"SELECT {', '.join(columns)} FROM {table}"),  # noqa: S608
              ordered=False)
    return digest


def _digest_postgres(conn: psycopg.Connection[Any], events: sql.Identifier, snapshots: sql.Identifier,
                     side: list[tuple[str, str]], source_tables: set[str]) -> Digest:
    def rows(query: sql.Composable) -> Iterator[tuple[Any, ...]]:
        with conn.cursor(name="migrate_digest") as cur:  # server-side: the whole store never sits in memory
            cur.itersize = BATCH
            cur.execute(query)
            yield from cur

    digest = Digest()
    _fold(digest, "events", rows(sql.SQL("SELECT notification_id, originator_id, originator_version, topic, state "
                                         "FROM {} ORDER BY notification_id").format(events)), versions=True)
    if "snapshots" in source_tables:
        _fold(digest, "snapshots", rows(sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}").format(snapshots)), ordered=False)
    with conn.cursor() as cur:
        for _, table in side:
            cur.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(sql.Identifier(table)))
            columns = [c.name for c in cur.description or ()]
            names = sql.SQL(", ").join(map(sql.Identifier, columns))
            _fold(digest, table, rows(sql.SQL("SELECT {} FROM {}").format(names, sql.Identifier(table))),
                  ordered=False)
    return digest
