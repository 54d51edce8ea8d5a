"""The Tenant aggregate: an account or sandbox, the drivers installed in it and its connections per driver."""

from __future__ import annotations

import functools
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.connections.domain.errors import NotFound, RuleViolated

_TENANT_NAMESPACE = uuid5(NAMESPACE_URL, "omni-channel-connections:tenant")


class Tenant(Aggregate):
    TOPIC = "Tenant"

    @staticmethod
    @functools.lru_cache(maxsize=4096)  # every command looks its tenant up by this id
    def id_for(tenant_id: str) -> UUID:
        return uuid5(_TENANT_NAMESPACE, tenant_id)

    @event("Created", topic="Tenant.Created.v1")
    def __init__(self, id: UUID, tenant_id: str, meta: dict[str, Any]) -> None:
        self.tenant_id = tenant_id
        self.drivers: dict[str, str] = {}  # driver id -> installed version
        # Driver id -> number of connections not yet deleted. A count, not the ids: the tenant is loaded for
        # every create, so its state (and snapshot) must stay small however many connections it has.
        self.connection_counts: dict[str, int] = {}

    def install(self, driver: str, version: str, meta: dict[str, Any]) -> bool:
        if driver in self.drivers:
            return False
        self._installed(driver, version, meta)
        return True

    @event("DriverInstalled", topic="Tenant.DriverInstalled.v1")
    def _installed(self, driver: str, version: str, meta: dict[str, Any]) -> None:
        self.drivers[driver] = version
        self.connection_counts.setdefault(driver, 0)

    def uninstall(self, driver: str, meta: dict[str, Any]) -> bool:
        if driver not in self.drivers:
            return False
        in_use = self.connection_counts.get(driver, 0)
        if in_use:
            raise RuleViolated(
                f"driver {driver!r} is used by {in_use} connection(s); delete them before uninstalling",
                "driver_in_use",
            )
        self._uninstalled(driver, meta)
        return True

    @event("DriverUninstalled", topic="Tenant.DriverUninstalled.v1")
    def _uninstalled(self, driver: str, meta: dict[str, Any]) -> None:
        del self.drivers[driver]
        self.connection_counts.pop(driver, None)

    def require_installed(self, driver: str) -> None:
        if driver not in self.drivers:
            raise NotFound(f"driver {driver!r} is not installed for tenant {self.tenant_id!r}", "driver_not_installed")

    def add_connection(self, driver: str, connection_id: UUID, meta: dict[str, Any]) -> None:
        self.require_installed(driver)
        self._connection_added(driver, str(connection_id), meta)

    @event("ConnectionAdded", topic="Tenant.ConnectionAdded.v1")
    def _connection_added(self, driver: str, connection_id: str, meta: dict[str, Any]) -> None:
        self.connection_counts[driver] = self.connection_counts.get(driver, 0) + 1

    def remove_connection(self, driver: str, connection_id: UUID, meta: dict[str, Any]) -> None:
        """Called once per connection, by the last deletion step (which never runs twice)."""
        if self.connection_counts.get(driver, 0) > 0:
            self._connection_removed(driver, str(connection_id), meta)

    @event("ConnectionRemoved", topic="Tenant.ConnectionRemoved.v1")
    def _connection_removed(self, driver: str, connection_id: str, meta: dict[str, Any]) -> None:
        self.connection_counts[driver] -= 1
