"""Composition root of the connections service (write side): everything built from one Settings object.

Nothing connects at import time; each ``run_*`` function is one process.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

from services.connections.adapters.catalog import PydanticCatalog
from services.connections.adapters.vault import SqlVault
from services.connections.application import Connections
from services.connections.entrypoints import bus
from services.connections.entrypoints.http import create_app
from services.connections.relay import Relay
from shared.auth import StaticTokens
from shared.bus import Bus, make_broker
from shared.follower import NotificationFollower
from shared.logging import configure_logging, get_logger
from shared.positions import create_positions_table
from shared.runtime import stop_event_on_signals
from shared.settings import Settings
from shared.sql import Database, open_database
from shared.store import open_store

log = get_logger(__name__)


@dataclass
class WriteSide:
    settings: Settings
    app: Connections
    vault: SqlVault
    keys_db: Database

    def close(self) -> None:
        self.app.close()
        self.keys_db.close()


def build_write_side(settings: Settings) -> WriteSide:
    keys_db = open_database(settings.sql_url("keys"), pool_size=settings.db_pool_size)
    masters = {key_id: base64.b64decode(key) for key_id, key in settings.master_keys.items()}
    vault = SqlVault(keys_db, masters, settings.master_key_id)
    app = open_store(lambda: Connections(PydanticCatalog(), vault, env=settings.eventsourcing_env()))
    return WriteSide(settings, app, vault, keys_db)


def build_relay(write: WriteSide, bus: Bus) -> tuple[Relay, Database]:
    positions = open_database(write.settings.sql_url("positions"))
    create_positions_table(positions)
    follower = NotificationFollower(write.app.recorder, write.settings.poll_interval)  # type: ignore[arg-type]
    relay = Relay(write.app, positions, bus, base64.b64decode(write.settings.worker_key), follower)
    return relay, positions


def run_service(settings: Settings) -> None:
    """The write side: HTTP commands + the command and report consumers."""
    configure_logging(settings.log_json)
    write = build_write_side(settings)
    broker = make_broker(settings.kafka_bootstrap, "connections-service")
    bus.register(Bus(broker, settings.kafka_namespace), write.app)
    api = create_app(write.app, StaticTokens(settings.api_tokens))

    @asynccontextmanager
    async def lifespan(_: object) -> AsyncIterator[None]:
        await broker.start()
        log.info("connections_service_started", http=f"http://{settings.http_host}:{settings.http_port}")
        yield
        await broker.stop()
        write.close()

    api.router.lifespan_context = lifespan
    uvicorn.run(api, host=settings.http_host, port=settings.http_port, log_level="warning")


def run_relay(settings: Settings) -> None:
    """The relay process: store -> Kafka."""
    configure_logging(settings.log_json)

    async def main() -> None:
        write = build_write_side(settings)
        broker = make_broker(settings.kafka_bootstrap, "connections-relay")
        relay, positions = build_relay(write, Bus(broker, settings.kafka_namespace))
        stop = stop_event_on_signals()
        await broker.connect()
        try:
            await relay.run(stop)
        finally:
            await broker.stop()
            positions.close()
            write.close()

    asyncio.run(main())
