"""Composition root of the audit tools: everything built from one Settings object, nothing at import time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import services.connections.domain  # noqa: F401 - registers the stored event names for decoding
from services.audit.adapters.chain_table import SqlChainStore
from services.audit.adapters.driver_secrets import secret_fields_of
from services.audit.adapters.keys import SqlKeyRegistry
from services.audit.adapters.replay_publisher import KafkaReplayPublisher
from services.audit.adapters.view_rebuild import ReadSideViewRebuild
from services.audit.application import Audit
from services.audit.integrity import IntegrityFollower
from services.projections.application import EventStoreReader
from services.projections.bootstrap import rebuild_view
from services.projections.views import all_views
from shared.bus import Bus, kafka_security, make_broker
from shared.follower import NotificationFollower
from shared.logging import configure_logging
from shared.runtime import freeze_start_up_heap, stop_event_on_signals
from shared.settings import Settings, Store
from shared.sql import Database, open_database
from shared.store import open_store

T = TypeVar("T")


def store_sql_url(settings: Settings) -> str:
    """The event store's own database, where the integrity chain lives beside the stored events."""
    if settings.store is Store.SQLITE:
        return f"sqlite:///{settings.eventsourcing_env()['SQLITE_DBNAME']}"
    return settings.sql_url("events")


@dataclass
class AuditTools:
    settings: Settings
    store: EventStoreReader
    audit: Audit
    databases: list[Database]

    def integrity(self) -> IntegrityFollower:
        follower = NotificationFollower(self.store.recorder, self.settings.poll_interval, batch_size=1_000)
        return IntegrityFollower(follower, self.audit.chain)

    def close(self) -> None:
        self.store.close()
        for db in self.databases:
            db.close()


def build_audit(settings: Settings) -> AuditTools:
    store = open_store(lambda: EventStoreReader(env=settings.eventsourcing_env()))
    chain_db = open_database(store_sql_url(settings), pool_size=2)
    keys_db = open_database(settings.sql_url("keys"), pool_size=2)
    views_db = open_database(settings.sql_url("views"), pool_size=2)

    def replace(view: str) -> int:
        return rebuild_view(settings, view).position

    views = {p.name: ReadSideViewRebuild(store, views_db, p, replace) for p in all_views()}
    audit = Audit(store, SqlChainStore(chain_db), SqlKeyRegistry(keys_db), secret_fields_of, views)
    return AuditTools(settings, store, audit, [chain_db, keys_db, views_db])


async def with_replay_publisher(settings: Settings, work: Callable[[KafkaReplayPublisher], Awaitable[T]]) -> T:
    """Run ``work`` with a publisher connected to the configured Kafka and namespace."""
    broker = make_broker(settings.kafka_bootstrap, "connections-audit-republish", kafka_security(settings))
    await broker.connect()
    try:
        return await work(KafkaReplayPublisher(Bus(broker, settings.kafka_namespace)))
    finally:
        await broker.stop()


def run_chain_follower(settings: Settings) -> None:
    """The integrity chain process: seal every new stored record until SIGTERM."""
    configure_logging(settings.log_json)
    tools = build_audit(settings)
    freeze_start_up_heap()

    async def main() -> None:
        stop = stop_event_on_signals()
        await tools.integrity().run(stop)

    try:
        asyncio.run(main())
    finally:
        tools.close()
