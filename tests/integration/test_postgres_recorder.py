"""The store's PostgreSQL recorder sends a save's events in binary; everything else is the library's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from eventsourcing.application import Application
from eventsourcing.cryptography import AESCipher
from eventsourcing.domain import Aggregate
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.conninfo import conninfo_to_dict

from shared.postgres_recorder import BinaryInsertRecorder, binary_insert
from shared.settings import Settings, Store
from tests.support.postgres import eventsourcing_postgres_env, postgres_dsn, postgres_server  # noqa: F401


@pytest.fixture
def datastore(postgres_dsn: str) -> Iterator[PostgresDatastore]:  # noqa: F811 - the fixture imported above
    params = conninfo_to_dict(postgres_dsn)
    store = PostgresDatastore(dbname=str(params["dbname"]), host=str(params["host"]), port=str(params["port"]),
                              user=str(params["user"]), password=str(params.get("password", "")))
    yield store
    store.close()


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text


@pytest.mark.postgres
def test_the_insert_takes_its_events_as_one_binary_array_and_is_otherwise_the_librarys(
        datastore: PostgresDatastore) -> None:
    library = PostgresApplicationRecorder(datastore, events_table_name="connections_events")
    ours = BinaryInsertRecorder(datastore, events_table_name="connections_events")
    text = library.insert_events_statement.as_string()
    assert "unnest(%s::" in text
    assert ours.insert_events_statement.as_string() == text.replace("unnest(%s::", "unnest(%b::")
    assert ours.select_events_statement.as_string() == library.select_events_statement.as_string()


@pytest.mark.postgres
def test_events_stored_in_binary_read_back_byte_for_byte(postgres_dsn: str) -> None:  # noqa: F811
    # Encrypted, as the service stores them: each state is arbitrary bytes, every byte value in some of them.
    cipher = {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher", "CIPHER_KEY": AESCipher.create_key(16)}
    env = {**eventsourcing_postgres_env(postgres_dsn), **cipher, "CREATE_TABLE": "y"}
    app: Application[uuid.UUID] = Application(env=env)
    try:
        assert isinstance(app.recorder, BinaryInsertRecorder)
        # Quotes, backslashes, braces, commas, NUL and non-ASCII: what a text composite literal must escape.
        notes = [Note(text=f'"{i}", {{\\}} (ü) \x00' * i) for i in range(1, 40)]
        recordings = app.save(*notes)
        assert [r.notification.id for r in recordings] == sorted(r.notification.id for r in recordings)
        for note in notes:
            stored = app.repository.get(note.id)
            assert stored.text == note.text
        states = {n.originator_id: n.state for n in app.recorder.select_notifications(1, 100)}
        assert states == {r.notification.originator_id: r.notification.state for r in recordings}
    finally:
        app.close()


def test_a_library_statement_of_another_shape_is_refused_not_sent() -> None:
    with pytest.raises(RuntimeError, match="changed shape"):
        binary_insert("INSERT INTO events SELECT * FROM unnest(%s::a[]), unnest(%s::b[])")
    with pytest.raises(RuntimeError, match="changed shape"):
        binary_insert("INSERT INTO events VALUES (%s, %s)")


def test_the_postgres_store_is_configured_with_it() -> None:
    env = Settings(store=Store.POSTGRES, database_url="postgresql://omni@127.0.0.1:5432/omni").eventsourcing_env()
    assert env["APPLICATION_RECORDER_TOPIC"] == "shared.postgres_recorder:BinaryInsertRecorder"
