"""The application suite on the PostgreSQL event store, with the real SQL vault on the same database."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from services.connections.adapters.catalog import PydanticCatalog
from services.connections.adapters.vault import SqlVault
from services.connections.application import Connections
from shared.sql import open_database
from tests.support.postgres import eventsourcing_postgres_env, postgres_dsn, postgres_server  # noqa: F401
from tests.unit.application_suite import ApplicationSuite, MakeApp


@pytest.mark.postgres
class TestApplicationPostgres(ApplicationSuite):
    @pytest.fixture
    def make_app(self, postgres_dsn: str) -> Iterator[MakeApp]:  # noqa: F811 - the fixture imported above
        keys = open_database(postgres_dsn)
        vault = SqlVault(keys, {"k1": os.urandom(32)}, "k1")
        apps: list[Connections] = []

        def make() -> Connections:
            app = Connections(PydanticCatalog(), vault, env=eventsourcing_postgres_env(postgres_dsn))
            apps.append(app)
            return app

        yield make
        for app in apps:
            app.close()
        keys.close()
