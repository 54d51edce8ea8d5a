"""The connection status view: one document per connection with jobs, masked settings and credential facts."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from contracts.drivers import secret_fields
from services.projections.adapters import connection_status_table as table
from services.projections.adapters.tables import Row, TableSpec
from services.projections.domain import connection_status
from services.projections.projection import Change, Recorded
from services.projections.views.connection_list import BY_CONNECTION, TOPICS
from services.projections.views.keyed import apply_keyed
from shared.sql import Transaction


@lru_cache(maxsize=64)
def driver_secrets(driver: str) -> frozenset[str] | None:
    """The driver's secret field names; None for a driver the catalog does not know (then mask everything)."""
    try:
        return frozenset(secret_fields(driver))
    except KeyError:
        return None


class ConnectionStatusView:
    name = "connection_status"
    version = 1
    topics = TOPICS

    def __init__(self, spec: TableSpec = table.SPEC) -> None:
        self.spec = spec

    def tables(self) -> list[TableSpec]:
        return [self.spec]

    def on_tables(self, suffix: str) -> ConnectionStatusView:
        return ConnectionStatusView(table.SPEC.named(table.SPEC.name + suffix))

    def apply(self, tx: Transaction, events: Sequence[Recorded], *, changes: bool = True) -> list[Change]:
        def evolve(document: Row | None, topic: str, event: Any) -> Row | None:
            driver = document["driver"] if document else getattr(event, "driver", "")
            return connection_status.evolve(document, topic, event, driver_secrets(driver))

        return apply_keyed(tx, self.name, self.spec, events, BY_CONNECTION, evolve, to_row=table.to_row,
                           from_row=lambda row: row["document"], changes=changes)
