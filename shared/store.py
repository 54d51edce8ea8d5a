"""Opening the event store from several processes at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import PersistenceError

T = TypeVar("T")


def open_store(construct: Callable[[], T], attempts: int = 10) -> T:
    """Construct an eventsourcing application, retrying while another process creates the same tables.

    PostgreSQL's ``CREATE TABLE IF NOT EXISTS`` is not safe against a concurrent twin (it can fail on the
    table's row type); the loser simply tries again and finds the tables there.
    """
    for attempt in range(1, attempts + 1):
        try:
            return construct()
        except PersistenceError:
            if attempt == attempts:
                raise
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable")


def stored_originators(recorder: object, ids: Sequence[UUID]) -> set[UUID] | None:
    """Which of ``ids`` have events in ``recorder``'s table, found in one query instead of one per id.

    ``None`` when the recorder is not one of the library's SQL recorders (the in-memory one in unit tests):
    the caller then looks each id up as usual.
    """
    from eventsourcing.postgres import PostgresAggregateRecorder
    from eventsourcing.sqlite import SQLiteAggregateRecorder

    if not ids:
        return set()
    if isinstance(recorder, PostgresAggregateRecorder):
        from psycopg.sql import SQL, Identifier

        datastore = recorder.datastore
        statement = SQL("SELECT DISTINCT originator_id FROM {}.{} WHERE originator_id = ANY(%s)").format(
            Identifier(datastore.schema), Identifier(recorder.events_table_name))
        values = list(ids) if datastore.originator_id_type == "uuid" else [str(i) for i in ids]
        with datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (values,))
            return {UUID(str(row["originator_id"])) for row in curs.fetchall()}
    if isinstance(recorder, SQLiteAggregateRecorder):
        marks = ",".join("?" * len(ids))
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute(f"SELECT DISTINCT originator_id FROM {recorder.events_table_name} "  # noqa: S608 - the library's table name
                         f"WHERE originator_id IN ({marks})", [i.hex for i in ids])
            return {UUID(row[0]) for row in curs.fetchall()}
    return None
