"""The application suite on the in-memory (POPO) event store with an in-memory vault."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.connections.adapters.catalog import PydanticCatalog
from services.connections.application import Connections
from services.connections.ports import DriverCatalog
from tests.unit.application_suite import ApplicationSuite, MakeApp
from tests.unit.fakes import InMemoryVault


class TestApplicationInMemory(ApplicationSuite):
    @pytest.fixture
    def make_app(self) -> Iterator[MakeApp]:
        apps: list[Connections] = []

        def make(catalog: DriverCatalog | None = None) -> Connections:
            app = Connections(catalog or PydanticCatalog(), InMemoryVault(), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
            apps.append(app)
            return app

        yield make
        for app in apps:
            app.close()
