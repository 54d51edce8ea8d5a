"""The Tenant aggregate: an account or sandbox, the drivers installed in it and its connections per driver."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.connections.domain.errors import NotFound, RuleViolated

_TENANT_NAMESPACE = uuid5(NAMESPACE_URL, "omni-channel-connections:tenant")


class Tenant(Aggregate):
    TOPIC = "Tenant"

    @staticmethod
    def id_for(tenant_id: str) -> UUID:
        return uuid5(_TENANT_NAMESPACE, tenant_id)

    @event("Created", topic="Tenant.Created.v1")
    def __init__(self, id: UUID, tenant_id: str, meta: dict[str, Any]) -> None:
        self.tenant_id = tenant_id
        self.drivers: dict[str, str] = {}  # driver id -> installed version
        self.connections: dict[str, list[str]] = {}  # driver id -> connection ids not yet deleted

    def install(self, driver: str, version: str, meta: dict[str, Any]) -> bool:
        if driver in self.drivers:
            return False
        self._installed(driver, version, meta)
        return True

    @event("DriverInstalled", topic="Tenant.DriverInstalled.v1")
    def _installed(self, driver: str, version: str, meta: dict[str, Any]) -> None:
        self.drivers[driver] = version
        self.connections.setdefault(driver, [])

    def uninstall(self, driver: str, meta: dict[str, Any]) -> bool:
        if driver not in self.drivers:
            return False
        in_use = self.connections.get(driver, [])
        if in_use:
            raise RuleViolated(
                f"driver {driver!r} is used by {len(in_use)} connection(s); delete them before uninstalling",
                "driver_in_use",
            )
        self._uninstalled(driver, meta)
        return True

    @event("DriverUninstalled", topic="Tenant.DriverUninstalled.v1")
    def _uninstalled(self, driver: str, meta: dict[str, Any]) -> None:
        del self.drivers[driver]
        self.connections.pop(driver, None)

    def require_installed(self, driver: str) -> None:
        if driver not in self.drivers:
            raise NotFound(f"driver {driver!r} is not installed for tenant {self.tenant_id!r}", "driver_not_installed")

    def add_connection(self, driver: str, connection_id: UUID, meta: dict[str, Any]) -> None:
        self.require_installed(driver)
        self._connection_added(driver, str(connection_id), meta)

    @event("ConnectionAdded", topic="Tenant.ConnectionAdded.v1")
    def _connection_added(self, driver: str, connection_id: str, meta: dict[str, Any]) -> None:
        self.connections.setdefault(driver, []).append(connection_id)

    def remove_connection(self, driver: str, connection_id: UUID, meta: dict[str, Any]) -> None:
        if str(connection_id) in self.connections.get(driver, []):
            self._connection_removed(driver, str(connection_id), meta)

    @event("ConnectionRemoved", topic="Tenant.ConnectionRemoved.v1")
    def _connection_removed(self, driver: str, connection_id: str, meta: dict[str, Any]) -> None:
        self.connections[driver].remove(connection_id)
