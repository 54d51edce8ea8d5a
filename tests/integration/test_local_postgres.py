"""The throwaway PostgreSQL cluster works for psycopg, eventsourcing and crash tests."""

from __future__ import annotations

from uuid import UUID

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from shared.local_postgres import LocalPostgres
from tests.support.postgres import eventsourcing_postgres_env
from tests.support.postgres import postgres_server, postgres_dsn  # noqa: F401

pytestmark = pytest.mark.postgres


class Channel(Aggregate):
    """Minimal aggregate, enough to write and replay events."""

    @event("Registered")
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Renamed")
    def rename(self, name: str) -> None:
        self.name = name


class ChannelRegistry(Application[UUID]):
    """Application whose events go to the ``channelregistry_events`` table."""

    def register(self, name: str) -> UUID:
        channel = Channel(name)
        self.save(channel)
        return channel.id

    def rename(self, channel_id: UUID, name: str) -> None:
        channel: Channel = self.repository.get(channel_id)
        channel.rename(name)
        self.save(channel)

    def name_of(self, channel_id: UUID) -> str:
        channel: Channel = self.repository.get(channel_id)
        return channel.name


def test_psycopg_connects_over_loopback(
    postgres_server: LocalPostgres,  # noqa: F811
    postgres_dsn: str,  # noqa: F811
) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        user, listen, encoding, fsync = (
            conn.execute(
                "SELECT current_user, current_setting('listen_addresses'),"
                " current_setting('server_encoding'), current_setting('fsync')"
            ).fetchone()
            or ()
        )
        conn.execute("CREATE TABLE probe (id int PRIMARY KEY)")
        conn.execute("INSERT INTO probe VALUES (1)")
        (count,) = conn.execute("SELECT count(*) FROM probe").fetchone() or (None,)

    assert user == postgres_server.user == "postgres"
    assert listen == "127.0.0.1"
    assert encoding == "UTF8"
    assert fsync == "off"
    assert count == 1
    assert postgres_dsn.startswith(
        f"postgresql://postgres@127.0.0.1:{postgres_server.port}/t_"
    )


def test_eventsourcing_postgres_backend_saves_and_reloads(
    postgres_dsn: str,  # noqa: F811
) -> None:
    env = eventsourcing_postgres_env(postgres_dsn)
    assert env["POSTGRES_PASSWORD"] == ""  # required key, but empty is accepted

    writer = ChannelRegistry(env=env)
    try:
        channel_id = writer.register("shopify")
        writer.rename(channel_id, "shopify-eu")
    finally:
        writer.close()

    # A fresh application has no cache: it must replay events from PostgreSQL.
    reader = ChannelRegistry(env=env)
    try:
        assert reader.name_of(channel_id) == "shopify-eu"
    finally:
        reader.close()

    with psycopg.connect(postgres_dsn) as conn:
        (stored,) = conn.execute(
            "SELECT count(*) FROM channelregistry_events"
        ).fetchone() or (None,)
    assert stored == 2


def test_kill_and_start_keep_committed_data(
    postgres_server: LocalPostgres,  # noqa: F811
    postgres_dsn: str,  # noqa: F811
) -> None:
    dbname = postgres_dsn.rsplit("/", 1)[1]
    # The cluster runs with synchronous_commit=off, so a SIGKILL can lose
    # commits from the last few hundred milliseconds. A crash test has to
    # opt in to durable commits for what it asserts on.
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{dbname}" SET synchronous_commit = on')

    env = eventsourcing_postgres_env(postgres_dsn)
    app = ChannelRegistry(env=env)
    try:
        channel_id = app.register("amazon")
    finally:
        app.close()
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("CREATE TABLE marker (note text)")
        conn.execute("INSERT INTO marker VALUES ('before crash')")

    port, old_pid = postgres_server.port, postgres_server.pid
    postgres_server.kill()
    assert not postgres_server.is_running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_dsn, connect_timeout=2).close()

    postgres_server.start()
    assert postgres_server.port == port
    assert postgres_server.pid not in (None, old_pid)

    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT note FROM marker").fetchall() == [("before crash",)]
    app = ChannelRegistry(env=env)
    try:
        assert app.name_of(channel_id) == "amazon"
    finally:
        app.close()


def test_stop_and_start_keep_data(
    postgres_server: LocalPostgres,  # noqa: F811
    postgres_dsn: str,  # noqa: F811
) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("CREATE TABLE marker (note text)")
        conn.execute("INSERT INTO marker VALUES ('before stop')")

    postgres_server.stop()
    assert not postgres_server.is_running()
    postgres_server.start()

    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT note FROM marker").fetchall() == [("before stop",)]
