"""Operations endpoints: views and their lag, rebuilds (platform operator role), health and Prometheus metrics.

A view holds every tenant's rows, so listing views and rebuilding one act on all tenants at once: they need
the ``platform-operator`` role, which no tenant admin has (:class:`shared.auth.Role`).
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from services.projections.entrypoints import schemas
from services.projections.read_side import ReadSide
from shared.auth import Principal, Role
from shared.health import run_checks
from shared.http import error_body
from shared.metrics import exposition

READY_LAG_SECONDS = 30.0  # a view further behind than this makes the process not ready


def admin_routes(side: ReadSide, requires: Callable[[Role], Any]) -> APIRouter:
    router = APIRouter(tags=["operations"])
    Admin = Annotated[Principal, requires(Role.PLATFORM_OPERATOR)]

    def unknown(view: str) -> JSONResponse:
        names = ", ".join(p.name for p in side.runner.projections)
        return JSONResponse(status_code=404, content=error_body("not_found", f"no view {view!r}; views: {names}"))

    @router.get("/v1/admin/views", response_model=list[schemas.ViewLag])
    async def views(_: Admin) -> Any:
        """Every view with its position and lag."""
        lags = (await side.lag())[1]
        return [{"view": lag.view, "position": lag.position, "lag_events": lag.events, "lag_seconds": lag.seconds}
                for lag in lags]

    @router.post("/v1/admin/views/{view}/rebuild", status_code=202, response_model=schemas.RebuildState)
    async def rebuild(view: str, _: Admin) -> Any:
        """Rebuild a view from the store while the service runs: shadow tables, catch up, swap."""
        try:
            progress, started = side.start_rebuild(view)
        except KeyError:
            return unknown(view)
        return {**progress.as_dict(), "started": started}

    @router.get("/v1/admin/views/{view}/rebuild", response_model=schemas.RebuildState)
    async def rebuild_progress(view: str, _: Admin) -> Any:
        """The progress of the view's last rebuild in this process."""
        progress = side.rebuilds.progress.get(view)
        if progress is None:
            return JSONResponse(status_code=404, content=error_body("not_found", f"no rebuild of {view!r} yet"))
        return progress.as_dict()

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready", response_model=schemas.Ready)
    async def ready() -> Any:
        """Each view's lag behind the store; 503 when one is more than 30 s behind or the store does not answer."""
        async def store_answers() -> None:
            await side.lag()

        ok, checks = await run_checks({"store": store_answers})  # reachable within a bound, or not ready
        if not ok:
            return JSONResponse(status_code=503, content={"status": "store_unreachable", "checks": checks})
        head, lags = await side.lag()
        worst_seconds = max((lag.seconds for lag in lags), default=0.0)
        body = {
            "status": "ok" if worst_seconds <= READY_LAG_SECONDS else "behind", "store_position": head,
            "lag_events": max((lag.events for lag in lags), default=0), "lag_seconds": worst_seconds,
            "views": [{"view": lag.view, "position": lag.position, "lag_events": lag.events,
                       "lag_seconds": lag.seconds} for lag in lags],
        }
        return body if body["status"] == "ok" else JSONResponse(status_code=503, content=body)

    @router.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        """Prometheus text: positions, lag in events and seconds, batches, rebuild progress, streams."""
        return PlainTextResponse(await side.metrics() + exposition()[0].decode(), media_type="text/plain; version=0.0.4")

    return router
