"""Many connections stored quickly: the state of a large tenant without sending 100,000 commands first.

The aggregates are the product's own (``Connection``, ``Tenant``) saved by the product's application, many
per transaction; only the command bookkeeping (``ProcessedCommand``) and credential keys are left out (POS
connections carry no credentials). The write path's own speed is measured separately.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from services.connections.adapters.catalog import PydanticCatalog
from services.connections.application import Connections
from services.connections.domain.connection import Connection
from services.connections.domain.meta import Meta
from services.connections.domain.tenant import Tenant
from shared.settings import Settings

WORDS = ("Berlin store", "Hamburg till", "Outlet", "Webshop", "Marketplace", "Munich kiosk", "Cologne pop-up",
         "Warehouse", "Airport", "Station", "Flagship", "Franchise")
DRIVERS = ("pos", "shopware6")


class _NoVault:
    """Seeded POS connections have no credentials, so nothing is sealed or opened."""

    def seal(self, connection_id: uuid.UUID, plaintext: dict[str, Any]) -> dict[str, Any]:
        return {}

    def open(self, connection_id: uuid.UUID, sealed: dict[str, Any]) -> dict[str, Any]:
        return {}

    def fingerprint(self, connection_id: uuid.UUID, plaintext: dict[str, Any]) -> str:
        return ""

    def shred(self, connection_id: uuid.UUID) -> None:
        return None


class _SeedingConnections(Connections):
    """The product's application without automatic snapshots: a save of 2,000 connections would otherwise
    replay the tenant's 2,000 new events to snapshot it; :meth:`Seeder.snapshot` takes one at the end."""

    name = "connections"  # the library names a subclass's tables after the class unless told otherwise

    def _take_snapshots(self, processing_event: Any) -> None:
        return None


class Seeder:
    """Saves connections of one tenant straight through the application, ``save`` by ``save``."""

    def __init__(self, settings: Settings, tenant_id: str) -> None:
        env = settings.eventsourcing_env()
        env.pop("AGGREGATE_CACHE_MAXSIZE", None)  # one writer that keeps its tenant in hand needs no cache
        self.app = _SeedingConnections(PydanticCatalog(), _NoVault(), env=env)  # type: ignore[arg-type]
        self.meta = Meta(tenant_id, "bench-seed", "seed")
        self.tenant_id = tenant_id
        try:
            tenant = self.app.repository.get(Tenant.id_for(tenant_id))
            assert isinstance(tenant, Tenant)
        except AggregateNotFoundError:
            tenant = Tenant(id=Tenant.id_for(tenant_id), tenant_id=tenant_id, meta=self.meta.as_dict())
        for driver in DRIVERS:
            tenant.install(driver, "1.0.0", self.meta.as_dict())
        self.tenant = tenant

    def refresh(self) -> None:
        """Load the tenant again: the service has changed it since (its creates count connections too)."""
        self.app.save(self.tenant)
        tenant = self.app.repository.get(Tenant.id_for(self.tenant_id))
        assert isinstance(tenant, Tenant)
        self.tenant = tenant

    def save(self, first: int, count: int) -> tuple[int, list[uuid.UUID]]:
        """Connections ``first .. first+count-1`` in one transaction (every fifth inactive): head and ids."""
        batch: list[Connection] = []
        for i in range(first, first + count):
            driver = DRIVERS[i % len(DRIVERS)]
            connection = Connection(id=uuid.uuid4(), tenant_id=self.tenant_id, name=f"{WORDS[i % len(WORDS)]} {i:07d}",
                                    driver=driver, credentials={}, credentials_fingerprint="", settings={},
                                    meta=self.meta.as_dict())
            connection.request_credential_check(str(uuid.uuid4()), self.meta)
            if i % 5 == 4:
                connection.disable(self.meta)
            self.tenant.add_connection(driver, connection.id, self.meta.as_dict())
            batch.append(connection)
        recordings = self.app.save(self.tenant, *batch)
        return recordings[-1].notification.id, [c.id for c in batch]

    def snapshot(self) -> None:
        """Snapshot the tenant, as the service does every 100 of its events, so loading it stays cheap."""
        self.app.take_snapshot(self.tenant.id, version=self.tenant.version)

    def close(self) -> None:
        self.app.close()


def seed(settings: Settings, tenant_id: str, first: int, count: int, per_save: int = 2_000) -> int:
    """Store connections ``first .. first+count-1`` of ``tenant_id``; returns the store's head."""
    seeder = Seeder(settings, tenant_id)
    try:
        position = 0
        for start in range(first, first + count, per_save):
            position, _ = seeder.save(start, min(per_save, first + count - start))
        seeder.snapshot()
        return position
    finally:
        seeder.close()
