"""The view suite on PostgreSQL: events, views and keys in one database, as deployments run."""

from __future__ import annotations

import pytest

from tests.integration.views.harness import Backend
from tests.integration.views.suite import ViewSuite
from tests.support.postgres import eventsourcing_postgres_env


@pytest.mark.postgres
class TestViewsPostgres(ViewSuite):
    @pytest.fixture
    def backend(self, postgres_dsn: str) -> Backend:
        return Backend(events_env=eventsourcing_postgres_env(postgres_dsn), views_url=postgres_dsn,
                       keys_url=postgres_dsn)
