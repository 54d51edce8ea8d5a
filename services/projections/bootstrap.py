"""Composition root of the read side: the projection runner, live hub and query API in one process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import FrameType

import uvicorn

from services.dashboard.web import mount_dashboard
from services.projections.application import EventStoreReader, ProjectionRunner
from services.projections.entrypoints.http import create_app
from services.projections.live import ChangeHub
from services.projections.read_side import ReadSide
from services.projections.rebuild import RebuildProgress, rebuild
from services.projections.views import all_views
from shared.http import authenticator_from
from shared.follower import NotificationFollower
from shared.logging import configure_logging, get_logger
from shared.runtime import freeze_start_up_heap
from shared.settings import Settings, Store
from shared.sql import open_database
from shared.store import open_store
from shared.tracing import configure_tracing

log = get_logger(__name__)


def build_read_side(settings: Settings) -> ReadSide:
    """Everything the read side needs, from one settings object; nothing runs yet."""
    store = open_store(lambda: EventStoreReader(env=settings.eventsourcing_env()))  # may race the write side's
    url = settings.sql_url("views")
    views = open_database(url, pool_size=settings.db_pool_size)
    # SQLite: a second connection for queries, reading WAL snapshots beside the runner's writes.
    reads = open_database(url) if settings.store is Store.SQLITE else views
    follower = NotificationFollower(store.recorder, settings.poll_interval, listen=True)
    hub = ChangeHub()
    runner = ProjectionRunner(store, views, all_views(), follower, hub)
    return ReadSide(store, views, reads, runner, hub)


def rebuild_view(settings: Settings, view: str,
                 report: Callable[[RebuildProgress], None] | None = None) -> RebuildProgress:
    """Rebuild one view from the store (for tools and the audit CLI); safe while the service runs.

    The swap waits for the running service's runner (it locks the view's position), so both can go on.
    """
    side = build_read_side(settings)
    try:
        progress = RebuildProgress(view)
        result = rebuild(side.store, side.views, side.runner.by_name(view), progress=progress)
        if report is not None:
            report(result)
        return result
    finally:
        side.close()


def run_projections(settings: Settings) -> None:
    """Runs the projections and serves the query API until SIGTERM."""
    configure_logging(settings.log_json)
    configure_tracing("connections-projections", settings.traces_exporter, directory=settings.traces_dir)
    side = build_read_side(settings)
    api = create_app(side, authenticator_from(settings))  # JWTs + static tokens
    mount_dashboard(api, settings)  # the web dashboard at / (docs/dashboard.md)
    config = uvicorn.Config(api, host=settings.http_host, port=settings.query_port, log_level="warning",
                            log_config=None, timeout_graceful_shutdown=3)  # records go through our redaction
    server = uvicorn.Server(config)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        runner = asyncio.create_task(side.runner.run(stop))
        exiting = server.handle_exit

        def handle_exit(sig: int, frame: FrameType | None) -> None:
            # Open live streams would keep uvicorn waiting: end them first, on the loop's thread.
            loop.call_soon_threadsafe(side.hub.close)
            exiting(sig, frame)

        server.handle_exit = handle_exit  # type: ignore[method-assign]

        def runner_ended(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                log.error("projection_failed", error=repr(task.exception()))
                side.hub.close()
                server.should_exit = True  # a dead runner must not leave a server answering stale views

        runner.add_done_callback(runner_ended)
        freeze_start_up_heap()
        log.info("projections_started", http=f"http://{settings.http_host}:{settings.query_port}",
                 views=[p.name for p in side.runner.projections])
        try:
            await server.serve()  # returns on SIGTERM / SIGINT
        finally:
            stop.set()
            await runner  # re-raises the runner's failure: the process exits non-zero
            side.close()

    asyncio.run(main())

