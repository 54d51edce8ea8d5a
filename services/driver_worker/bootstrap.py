"""Composition root of a driver worker process: one driver, its HTTP client, its consumer group."""

from __future__ import annotations

import asyncio
import base64
import os
import socket

import httpx

from contracts.drivers import AmazonAppCredentials
from services.driver_worker.application import JobRunner
from services.driver_worker.drivers.base import build_driver
from services.driver_worker.entrypoints import bus
from shared.bus import Bus, kafka_client_options, kafka_security, make_broker
from shared.logging import configure_logging, get_logger
from shared.metrics import groups_of, sample_consumer_lag
from shared.metrics import serve as serve_metrics
from shared.runtime import freeze_start_up_heap, stop_event_on_signals
from shared.settings import Settings
from shared.tracing import configure_tracing

log = get_logger(__name__)


def run_worker(settings: Settings, driver_id: str, endpoints: dict[str, str] | None = None) -> None:
    """Consume ``drivers.<driver_id>.jobs.v1`` until SIGTERM."""
    configure_logging(settings.log_json)
    configure_tracing(f"driver-worker-{driver_id}", settings.traces_exporter, directory=settings.traces_dir)
    serve_metrics(settings.metrics_port)

    async def main() -> None:
        worker_name = f"{driver_id}@{socket.gethostname()}:{os.getpid()}"
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as http:
            amazon_app = None
            if settings.amazon_app_client_id and settings.amazon_app_client_secret:
                amazon_app = AmazonAppCredentials(client_id=settings.amazon_app_client_id,
                                                  client_secret=settings.amazon_app_client_secret)
            driver = build_driver(driver_id, http, endpoints, amazon_app=amazon_app)
            runner = JobRunner(driver_id, driver, base64.b64decode(settings.worker_key), worker_name)
            security = kafka_security(settings)
            broker = make_broker(settings.kafka_bootstrap, f"driver-worker-{driver_id}", security)
            bus.register(Bus(broker, settings.kafka_namespace), driver_id, runner)
            stop = stop_event_on_signals()
            await broker.start()
            lag = asyncio.create_task(sample_consumer_lag(settings.kafka_bootstrap, groups_of(broker),
                                                          settings.metrics_interval, stop,
                                                          **kafka_client_options(security)))
            freeze_start_up_heap()
            log.info("worker_started", driver=driver_id, worker=worker_name)
            await stop.wait()
            await broker.stop()
            await lag

    asyncio.run(main())
