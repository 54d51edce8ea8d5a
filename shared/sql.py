"""A small SQL seam over SQLite (embedded default) and PostgreSQL, for views, keys and positions.

SQL is written once with ``?`` placeholders and portable statements (``INSERT ... ON CONFLICT``);
the PostgreSQL side translates placeholders. Each ``transaction()`` commits or rolls back as a whole, which
is what lets a view store its rows and its tracked position atomically.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import psycopg
import psycopg_pool

Row = tuple[Any, ...]


class Transaction(Protocol):
    dialect: str  # "sqlite" or "postgres", for the few statements better written apart (``col = ANY(?)``)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def fetchone(self) -> Row | None: ...
    def fetchall(self) -> list[Row]: ...


class Database(Protocol):
    dialect: str

    def transaction(self, pipelined: bool = False) -> Any:
        """A context manager yielding a :class:`Transaction`, committed on exit, rolled back on error.

        ``pipelined``: on PostgreSQL, statements whose results nobody reads are sent without waiting for their
        answers (one round trip per read instead of per statement); SQLite ignores it.
        """

    def read_transaction(self) -> Any:
        """Like :meth:`transaction`, for reading only: it never waits for (or blocks) a writer."""

    def close(self) -> None: ...


class _SqliteTransaction:
    dialect = "sqlite"

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(sql, rows)

    def fetchone(self) -> Row | None:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Row]:
        return self._cursor.fetchall()


class SqliteDatabase:
    """One connection guarded by a lock; WAL so readers in other processes don't block the writer."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self, pipelined: bool = False) -> Iterator[_SqliteTransaction]:  # noqa: ARG002 - in-process
        with self._lock:
            cursor = self._conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTransaction(cursor)
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    @contextmanager
    def read_transaction(self) -> Iterator[_SqliteTransaction]:
        # A deferred transaction reads a WAL snapshot: open a second SqliteDatabase on the same file for
        # readers, and they never queue behind the writer's lock.
        with self._lock:
            cursor = self._conn.cursor()
            cursor.execute("BEGIN")
            try:
                yield _SqliteTransaction(cursor)
            finally:
                cursor.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()


class _PostgresTransaction:
    dialect = "postgres"

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor
        self._writer: psycopg.Cursor[Any] | None = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        # One statement text for every row: psycopg converts it once and prepares it after a few uses, and sends
        # the rows in pipeline mode (one round trip for all of them). On a cursor of its own: in a pipeline, the
        # answers to those rows can arrive after a later query was sent, and on the reading cursor they would
        # stand in for that query's rows ("the last operation didn't produce records").
        if self._writer is None:
            self._writer = self._cursor.connection.cursor()
        self._writer.executemany(sql.replace("?", "%s"), rows)  # type: ignore[arg-type]

    def fetchone(self) -> Row | None:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Row]:
        return self._cursor.fetchall()


class PostgresDatabase:
    dialect = "postgres"

    def __init__(self, url: str, pool_size: int = 5) -> None:
        self._url, self._pool_size = url, pool_size
        # check: a pooled connection is tested before use, so one left over from before a database restart is
        # replaced instead of failing the caller (the projection runner exited on it: tests/reliability).
        self._pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=pool_size, open=True,
                                                 kwargs={"autocommit": False},
                                                 check=psycopg_pool.ConnectionPool.check_connection)
        self._reads: psycopg_pool.ConnectionPool[Any] | None = None

    @contextmanager
    def transaction(self, pipelined: bool = False) -> Iterator[_PostgresTransaction]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            if not pipelined:
                yield _PostgresTransaction(cursor)
                return
            with conn.pipeline():
                yield _PostgresTransaction(cursor)

    @contextmanager
    def read_transaction(self) -> Iterator[_PostgresTransaction]:
        # Autocommit connections: one round trip per query instead of three (BEGIN, query, COMMIT). Reads of
        # views need no snapshot across statements: rows only move forward.
        if self._reads is None:
            self._reads = psycopg_pool.ConnectionPool(self._url, min_size=1, max_size=self._pool_size, open=True,
                                                      kwargs={"autocommit": True})
        with self._reads.connection() as conn, conn.cursor() as cursor:
            yield _PostgresTransaction(cursor)

    def close(self) -> None:
        self._pool.close()
        if self._reads is not None:
            self._reads.close()


_SCHEMA_LOCK = 7_441_001  # one advisory lock id for every schema change of this service


def ensure_schema(db: Database, *statements: str) -> None:
    """Run idempotent DDL; on PostgreSQL under an advisory lock, because concurrent
    ``CREATE TABLE IF NOT EXISTS`` from several starting processes can still collide."""
    with db.transaction() as tx:
        if db.dialect == "postgres":
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
        for statement in statements:
            tx.execute(statement)


def open_database(url: str, pool_size: int = 5) -> SqliteDatabase | PostgresDatabase:
    """``sqlite:///path/file.sqlite`` or ``postgresql://...``."""
    if url.startswith("sqlite:///"):
        return SqliteDatabase(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url, pool_size)
    raise ValueError(f"unsupported database url {url.split(':', 1)[0]!r}: use sqlite:/// or postgresql://")
