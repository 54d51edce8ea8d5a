"""A cached tenant that another writer moved far ahead is loaded from its newest snapshot, not fast-forwarded
through every event since (which held them all in memory at once)."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from services.connections.adapters.catalog import PydanticCatalog
from services.connections.application import Connections
from services.connections.domain.meta import Meta
from services.connections.domain.tenant import Tenant
from tests.unit.fakes import InMemoryVault

META = Meta("acme", "tester", "corr", "m")


def _app(tmp_path: Path) -> Connections:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "events.sqlite"),
           "AGGREGATE_CACHE_MAXSIZE": "100", "AGGREGATE_CACHE_FASTFORWARD": "y"}
    return Connections(PydanticCatalog(), InMemoryVault(), env=env)


def test_a_cached_tenant_far_behind_loads_from_the_snapshot(tmp_path: Path) -> None:
    serving, other = _app(tmp_path), _app(tmp_path)
    try:
        tenant = Tenant(id=Tenant.id_for("acme"), tenant_id="acme", meta=META.as_dict())
        tenant.install("pos", "1.0.0", META.as_dict())
        serving.save(tenant)
        assert serving.repository.get(tenant.id).version == 2  # now cached at version 2

        ahead = other.repository.get(tenant.id)
        for _ in range(1_200):  # another writer (a replica, a bulk import): snapshots at 500 and 1,000
            ahead.add_connection("pos", uuid4(), META.as_dict())
        other.save(ahead)

        read: list[int] = []
        events = serving.repository.event_store
        original = events.get

        def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
            found = list(original(*args, **kwargs))
            read.append(len(found))
            return found

        events.get = counting  # type: ignore[method-assign]
        loaded = serving.repository.get(tenant.id)
        assert loaded.version == ahead.version and loaded.connection_counts == {"pos": 1_200}
        assert sum(read) < 500, read  # from the snapshot at 1,000, not 1,200 events from version 2

        read.clear()
        assert serving.repository.get(tenant.id).version == ahead.version  # and cached again: nothing to read
        assert sum(read) == 0
    finally:
        serving.close()
        other.close()
