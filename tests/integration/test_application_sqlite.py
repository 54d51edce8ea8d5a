"""The application suite on the SQLite event store, with the real SQL vault on SQLite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.connections.adapters.catalog import PydanticCatalog
from services.connections.adapters.vault import SqlVault
from services.connections.application import Connections
from services.connections.ports import DriverCatalog
from shared.sql import open_database
from tests.unit.application_suite import ApplicationSuite, BatchSuite, MakeApp


class TestApplicationSqlite(ApplicationSuite, BatchSuite):
    @pytest.fixture
    def make_app(self, tmp_path: Path) -> Iterator[MakeApp]:
        keys = open_database(f"sqlite:///{tmp_path / 'keys.sqlite'}")
        vault = SqlVault(keys, {"k1": os.urandom(32)}, "k1")
        apps: list[Connections] = []

        def make(catalog: DriverCatalog | None = None) -> Connections:
            env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "events.sqlite"),
                   "AGGREGATE_CACHE_MAXSIZE": "1000"}
            app = Connections(catalog or PydanticCatalog(), vault, env=env)
            apps.append(app)
            return app

        yield make
        for app in apps:
            app.close()
        keys.close()
