"""Composition root of the read side: projection runner + query API in one process."""

from __future__ import annotations

import asyncio

import uvicorn

from services.projections.application import ConnectionListProjection, EventStoreReader
from services.projections.entrypoints.http import create_app
from shared.auth import StaticTokens
from shared.follower import NotificationFollower
from shared.logging import configure_logging, get_logger
from shared.settings import Settings
from shared.sql import open_database
from shared.store import open_store

log = get_logger(__name__)


def build_projection(settings: Settings) -> ConnectionListProjection:
    store = open_store(lambda: EventStoreReader(env=settings.eventsourcing_env()))
    views = open_database(settings.sql_url("views"), pool_size=settings.db_pool_size)
    follower = NotificationFollower(store.recorder, settings.poll_interval)  # type: ignore[arg-type]
    return ConnectionListProjection(store, views, follower)


def run_projections(settings: Settings) -> None:
    """Runs the projection and serves the query API until SIGTERM."""
    configure_logging(settings.log_json)
    projection = build_projection(settings)
    api = create_app(projection, StaticTokens(settings.api_tokens))
    config = uvicorn.Config(api, host=settings.http_host, port=settings.query_port, log_level="warning")
    server = uvicorn.Server(config)

    async def main() -> None:
        stop = asyncio.Event()
        runner = asyncio.create_task(projection.run(stop))

        def runner_ended(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                log.error("projection_failed", error=repr(task.exception()))
                server.should_exit = True  # a dead runner must not leave a server answering stale views

        runner.add_done_callback(runner_ended)
        log.info("projections_started", http=f"http://{settings.http_host}:{settings.query_port}")
        try:
            await server.serve()  # returns on SIGTERM / SIGINT
        finally:
            stop.set()
            await runner  # re-raises the runner's failure: the process exits non-zero
            projection.views.close()
            projection.store.close()

    asyncio.run(main())
