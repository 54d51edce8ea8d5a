"""The view suite on SQLite: the event store and the views in their own files, as the embedded default runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.views.harness import Backend
from tests.integration.views.suite import ViewSuite


class TestViewsSqlite(ViewSuite):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Backend:
        return Backend(
            events_env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "events.sqlite"),
                        "SQLITE_LOCK_TIMEOUT": "10"},
            views_url=f"sqlite:///{tmp_path / 'views.sqlite'}",
            keys_url=f"sqlite:///{tmp_path / 'keys.sqlite'}",
        )
