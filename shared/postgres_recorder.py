"""The event store's PostgreSQL recorder: the library's, sending the events of a save to the server in binary.

The library inserts a save's events as one array of its composite ``stored_event`` type (``unnest(%s::...[])``).
With psycopg's default placeholder that array is dumped as text: every event's state escaped byte by byte into
a quoted composite literal, in Python. It was the largest single cost of a batch of creates (about a fifth of
the write side's CPU). With a binary placeholder psycopg sends the same values (uuid, bigint, text, bytea) as
they are: the stored rows are identical.

Chosen through the library's ``APPLICATION_RECORDER_TOPIC`` (:meth:`shared.settings.Settings.eventsourcing_env`).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL

_TEXT_ARRAY = "unnest(%s::"
_BINARY_ARRAY = "unnest(%b::"


class BinaryInsertRecorder(PostgresApplicationRecorder):
    """:class:`PostgresApplicationRecorder` whose insert statement takes its array of events in binary."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.insert_events_statement = binary_insert(self.insert_events_statement.as_string())


def binary_insert(statement: str) -> SQL:
    """The library's insert statement with its one array placeholder made binary (``%s`` -> ``%b``)."""
    if statement.count(_TEXT_ARRAY) != 1:
        raise RuntimeError(f"the library's insert statement changed shape, expected one {_TEXT_ARRAY!r}: {statement}")
    return SQL(statement.replace(_TEXT_ARRAY, _BINARY_ARRAY))  # type: ignore[arg-type]  # the library's own text
