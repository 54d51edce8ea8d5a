"""Composition root of the connections service (write side): everything built from one Settings object.

Nothing connects at import time; each ``run_*`` function is one process.
"""

from __future__ import annotations

import asyncio
import base64
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

from services.connections.adapters.catalog import PydanticCatalog
from services.connections.adapters.vault import SqlVault
from services.connections.application import Connections
from services.connections.entrypoints import bus
from services.connections.entrypoints.guard import BusGuard
from services.connections.entrypoints.http import create_app
from services.connections.relay import Relay
from services.connections.watchdog import Watchdog
from services.dashboard.web import allow_dashboard
from services.connections.adapters.silent_jobs import ProcessesViewJobs
from shared.auth import BusActors
from shared.bus import Bus, kafka_client_options, kafka_security, make_broker
from shared.follower import NotificationFollower
from shared.http import authenticator_from
from shared.health import add_readiness, broker_check, store_check
from shared.logging import configure_logging, get_logger
from shared.metrics import add_route as add_metrics_route
from shared.metrics import driver_job_groups, groups_of, observe_saves, sample_consumer_lag, sample_relay
from shared.metrics import serve as serve_metrics
from shared.positions import create_positions_table
from shared.runtime import freeze_start_up_heap, stop_event_on_signals
from shared.sealed_credentials import CommandKeys
from shared.settings import Settings
from shared.sql import Database, open_database
from shared.store import open_store
from shared.tracing import configure_tracing, trace_saves

log = get_logger(__name__)
# Stored events the relay reads, translates and publishes at a time: each batch waits once for the broker's
# acknowledgements. Relay bench, 40,000 events: 500 gave 0.36x the raw producer, 2,000 0.41x, 5,000 0.44x.
RELAY_BATCH = 5_000


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


def shred_leftover_keys(write: WriteSide) -> int:
    """Shred the data keys of connections whose deletion completed but whose key survived.

    Deleting saves the ``Deleted`` event, then shreds the key; a crash in between leaves the key. Only keys of
    connections that are deleted in the store are touched: a key without events yet may belong to a create in
    flight in another process.
    """
    keyed = set(write.vault.key_ids())
    shredded = 0
    for connection_id in write.app.deleted_connections():
        if str(connection_id) in keyed:
            write.vault.shred(connection_id)
            shredded += 1
    if shredded:
        log.warning("leftover_keys_shredded", count=shredded)
    return shredded


def build_relay(write: WriteSide, bus: Bus) -> tuple[Relay, Database]:
    positions = open_database(write.settings.sql_url("positions"))
    create_positions_table(positions)
    # PostgreSQL wakes the relay on every commit (NOTIFY) instead of at its next poll: a job reaches its
    # worker sooner (the sync round trip), polling stays the safety net.
    follower = NotificationFollower(write.app.recorder, write.settings.poll_interval,  # type: ignore[arg-type]
                                    batch_size=RELAY_BATCH, listen=True)
    relay = Relay(write.app, positions, bus, base64.b64decode(write.settings.worker_key), follower,
                  write.settings.job_retry_backoff)
    return relay, positions


def run_service(settings: Settings) -> None:
    """The write side: HTTP commands + the command and report consumers."""
    configure_logging(settings.log_json)
    configure_tracing("connections-serve", settings.traces_exporter, directory=settings.traces_dir)
    write = build_write_side(settings)
    observe_saves(write.app)
    trace_saves(write.app)
    security = kafka_security(settings)
    broker = make_broker(settings.kafka_bootstrap, "connections-service", security)
    shred_leftover_keys(write)
    command_keys = CommandKeys(settings.command_key, settings.command_previous_keys)
    guard = BusGuard(BusActors(settings.bus_actors), command_keys)
    results = bus.register(Bus(broker, settings.kafka_namespace), write.app, guard, settings.command_batch_size)
    api = create_app(write.app, authenticator_from(settings), command_keys)
    allow_dashboard(api, settings)  # the dashboard, served by the views process, posts commands here
    views = open_database(settings.sql_url("views"))
    watchdog = Watchdog(write.app, ProcessesViewJobs(views), settings.job_timeout, settings.watchdog_interval)
    add_metrics_route(api)  # the API traces its requests itself (create_app: FastAPI's own telemetry)
    add_readiness(api, {"store": store_check(write.app.recorder.max_notification_id), "broker": broker_check(broker)})

    @asynccontextmanager
    async def lifespan(_: object) -> AsyncIterator[None]:
        await broker.start()
        groups = groups_of(broker) + driver_job_groups(settings.kafka_namespace)
        lag = asyncio.create_task(sample_consumer_lag(settings.kafka_bootstrap, groups, settings.metrics_interval,
                                                      **kafka_client_options(security)))
        stop_watchdog = asyncio.Event()
        watching = asyncio.create_task(watchdog.run(stop_watchdog))
        log.info("connections_service_started", http=f"http://{settings.http_host}:{settings.http_port}")
        freeze_start_up_heap()
        yield
        stop_watchdog.set()
        await watching
        views.close()
        lag.cancel()
        await results.drain()  # the last command batch's results out and its offsets committed
        await broker.stop()
        write.close()

    api.router.lifespan_context = lifespan
    # The group commit's thread waits on PostgreSQL 28 times per batch (pool checks, the vault's keys, the
    # store's transaction); each time it comes back it needs the interpreter lock, which the event loop, busy
    # with requests, gives up only every switch interval (5 ms by default). A batch of 5 creates beside a
    # busy thread took 304 ms at 5 ms and 179 ms at 1 ms (median of 8; 7 ms of its own CPU; load 16).
    sys.setswitchinterval(0.001)
    # log_config=None: uvicorn keeps no handlers of its own, so its records pass our redacting root handler
    uvicorn.run(api, host=settings.http_host, port=settings.http_port, log_level="warning", log_config=None)


def run_relay(settings: Settings) -> None:
    """The relay process: store -> Kafka."""
    configure_logging(settings.log_json)
    configure_tracing("connections-relay", settings.traces_exporter, directory=settings.traces_dir)

    async def main() -> None:
        write = build_write_side(settings)
        broker = make_broker(settings.kafka_bootstrap, "connections-relay", kafka_security(settings))
        relay, positions = build_relay(write, Bus(broker, settings.kafka_namespace))
        sample_relay(relay.position, write.app.recorder.max_notification_id)
        serve_metrics(settings.metrics_port)
        stop = stop_event_on_signals()
        await broker.connect()
        freeze_start_up_heap()
        try:
            await relay.run(stop)
        finally:
            await broker.stop()
            positions.close()
            write.close()

    asyncio.run(main())
