"""Pytest fixtures that provide a throwaway local PostgreSQL cluster.

Import them where they are needed (a test module or ``tests/conftest.py``)::

    from tests.support.postgres import postgres_server, postgres_dsn  # noqa: F401

``postgres_server`` is started once per test session on a free loopback port
in a temporary directory and stopped (and deleted) at the end. Tests may
``stop()``, ``kill()`` and ``start()`` it; ``postgres_dsn`` restarts it if a
test left it down. ``postgres_dsn`` gives every test its own empty database.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from psycopg.conninfo import conninfo_to_dict

from shared.local_postgres import LocalPostgres

__all__ = ["eventsourcing_postgres_env", "postgres_dsn", "postgres_server"]

# PostgreSQL truncates identifiers beyond 63 bytes.
_MAX_DB_NAME = 63


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A started :class:`LocalPostgres` shared by the whole session.

    Not placed under pytest's ``tmp_path``: when the tests run as root the
    server runs as an unprivileged user, which cannot enter pytest's private
    (0700, root-owned) ``/tmp/pytest-of-root``. ``LocalPostgres()`` makes its
    own temporary directory that the server user can use.
    """
    with LocalPostgres() as server:
        yield server


@pytest.fixture
def postgres_dsn(
    postgres_server: LocalPostgres, request: pytest.FixtureRequest
) -> Iterator[str]:
    """DSN of a fresh, uniquely named database, dropped after the test.

    The name contains the test name (handy when inspecting the server log)
    and a random suffix (unique across reruns and xdist workers).
    """
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")
    suffix = uuid.uuid4().hex[:8]
    name = f"t_{slug[: _MAX_DB_NAME - len(suffix) - 3]}_{suffix}"
    dsn = postgres_server.create_database(name)
    try:
        yield dsn
    finally:
        # A fault-injection test may have left the server stopped or killed;
        # bring it back so the drop and later tests work.
        if not postgres_server.is_running():
            postgres_server.start()
        postgres_server.drop_database(name)


def eventsourcing_postgres_env(dsn: str) -> dict[str, str]:
    """Settings for ``eventsourcing.postgres`` that point at the database in ``dsn``.

    Pass the result as ``env=`` to an ``eventsourcing`` ``Application``. The
    library requires ``POSTGRES_PASSWORD`` to be present, but accepts an
    empty string, which is fine under the cluster's trust authentication.
    """
    params = conninfo_to_dict(dsn)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(params["dbname"]),
        "POSTGRES_HOST": str(params["host"]),
        "POSTGRES_PORT": str(params["port"]),
        "POSTGRES_USER": str(params["user"]),
        "POSTGRES_PASSWORD": str(params.get("password", "")),
        # The recorder the service's store uses (shared/settings.py), so the suites run what production runs.
        "APPLICATION_RECORDER_TOPIC": "shared.postgres_recorder:BinaryInsertRecorder",
    }
