"""The processes view: every job and deletion per tenant, with progress, times, duration and attempts."""

from __future__ import annotations

from collections.abc import Sequence

from services.projections.adapters import processes_table as table
from services.projections.adapters import tables
from services.projections.adapters.tables import Row, TableSpec
from services.projections.domain import processes
from services.projections.projection import Change, Recorded
from shared.sql import Transaction


class ProcessesView:
    name = "processes"
    version = 1
    topics = processes.TOPICS

    def __init__(self, spec: TableSpec = table.SPEC, connections: TableSpec = table.CONNECTIONS) -> None:
        self.spec = spec
        self.connections = connections

    def tables(self) -> list[TableSpec]:
        return [self.spec, self.connections]

    def on_tables(self, suffix: str) -> ProcessesView:
        return ProcessesView(table.SPEC.named(table.SPEC.name + suffix),
                             table.CONNECTIONS.named(table.CONNECTIONS.name + suffix))

    def apply(self, tx: Transaction, events: Sequence[Recorded], *, changes: bool = True) -> list[Change]:
        connection_ids = {str(r.event.originator_id) for r in events}
        known = {r["connection_id"]: r for r in tables.load_many(tx, self.connections, "connection_id", connection_ids)}
        keys = [processes.process_id(r.topic, r.event) for r in events]
        rows: dict[str, Row | None] = {
            r["process_id"]: _without_open(r)
            for r in tables.load_many(tx, self.spec, "process_id", [k for k in keys if k])
        }
        touched_connections: dict[str, Row] = {}
        touched: dict[str, Row] = {}
        made: list[Change] = []
        for key, recorded in zip(keys, events, strict=True):
            connection_id = str(recorded.event.originator_id)
            if recorded.topic in processes.CONNECTION_TOPICS:
                after_connection = processes.connection_of(known.get(connection_id), recorded.topic, recorded.event)
                if after_connection is not None:
                    known[connection_id] = touched_connections[connection_id] = after_connection
            if key is None:
                continue
            after = processes.evolve(rows.get(key), recorded.topic, recorded.event, known.get(connection_id))
            if after is None or after is rows.get(key):
                continue
            rows[key] = touched[key] = after
            if changes:
                made.append(Change(self.name, str(after["tenant_id"]), key, after, recorded.position))
        tables.upsert(tx, self.connections, touched_connections.values())
        tables.upsert(tx, self.spec, [table.to_row(r) for r in touched.values()])
        return made


def _without_open(row: Row) -> Row:
    return {k: v for k, v in row.items() if k != "open"}
