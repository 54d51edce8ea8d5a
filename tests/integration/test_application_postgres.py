"""The application suite on the PostgreSQL event store, with the real SQL vault on the same database."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from services.connections.adapters.catalog import PydanticCatalog
from services.connections.adapters.vault import SqlVault
from services.connections.application import Connections
from services.connections.ports import DriverCatalog
from shared.sql import open_database
from tests.support.postgres import eventsourcing_postgres_env, postgres_dsn, postgres_server  # noqa: F401
from tests.unit.application_suite import ApplicationSuite, BatchSuite, MakeApp


@pytest.mark.postgres
class TestApplicationPostgres(ApplicationSuite, BatchSuite):
    @pytest.fixture
    def make_app(self, postgres_dsn: str) -> Iterator[MakeApp]:  # noqa: F811 - the fixture imported above
        keys = open_database(postgres_dsn)
        vault = SqlVault(keys, {"k1": os.urandom(32)}, "k1")
        apps: list[Connections] = []

        def make(catalog: DriverCatalog | None = None) -> Connections:
            env = {**eventsourcing_postgres_env(postgres_dsn), "AGGREGATE_CACHE_MAXSIZE": "1000"}
            app = Connections(catalog or PydanticCatalog(), vault, env=env)
            apps.append(app)
            return app

        yield make
        for app in apps:
            app.close()
        keys.close()
