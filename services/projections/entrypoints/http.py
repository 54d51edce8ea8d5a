"""Query HTTP API over the views: tenant-scoped, cursor-paginated, read-your-writes on request."""



import asyncio
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse

from services.projections.adapters import connection_list_table as table
from services.projections.application import ConnectionListProjection
from shared.auth import Principal, Role, StaticTokens
from shared.http import error_body, install_error_handlers, principal_dependency

MAX_WAIT_SECONDS = 5.0


def create_app(projection: ConnectionListProjection, tokens: StaticTokens) -> FastAPI:
    api = FastAPI(title="Omni-Channel Connections: views", version="1")
    install_error_handlers(api)
    requires = principal_dependency(tokens)
    Viewer = Annotated[Principal, requires(Role.VIEWER)]

    async def caught_up(min_position: int | None) -> JSONResponse | None:
        if min_position and not await projection.wait_for(min_position, MAX_WAIT_SECONDS):
            return JSONResponse(status_code=503, content=error_body(
                "view_behind", f"the view has not reached position {min_position} within {MAX_WAIT_SECONDS} s"))
        return None

    @api.get("/v1/connections")
    async def list_connections(
        principal: Viewer,
        status: Literal["active", "inactive", "deleting"] | None = None,
        driver: Annotated[str | None, Query(max_length=50)] = None,
        q: Annotated[str | None, Query(max_length=200, description="text in the name")] = None,
        sort: Literal["name", "created_at", "updated_at", "status", "driver"] = "name",
        order: Literal["asc", "desc"] = "asc",
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(max_length=2000)] = None,
        min_position: Annotated[int | None, Query(ge=0, description="wait until the view reached it")] = None,
    ) -> Any:
        """The Connections tab: the tenant's connections with their Status column, a page at a time."""
        if (behind := await caught_up(min_position)) is not None:
            return behind
        query = table.ListQuery(principal.tenant_id, status, driver, q, sort, order == "desc", limit, cursor)

        def read() -> tuple[list[dict[str, Any]], str | None]:
            with projection.views.transaction() as tx:
                return table.query(tx, query)

        try:
            rows, next_cursor = await asyncio.to_thread(read)
        except ValueError as exc:
            return JSONResponse(status_code=422, content=error_body("invalid_input", str(exc)))
        return {"items": rows, "next_cursor": next_cursor}

    @api.get("/v1/connections/{connection_id}")
    async def get_connection(principal: Viewer, connection_id: str, min_position: int | None = None) -> Any:
        if (behind := await caught_up(min_position)) is not None:
            return behind

        def read() -> dict[str, Any] | None:
            with projection.views.transaction() as tx:
                return table.load(tx, connection_id)

        row = await asyncio.to_thread(read)
        if row is None or row["tenant_id"] != principal.tenant_id:
            return JSONResponse(status_code=404, content=error_body("not_found",
                                                                    f"connection {connection_id} not found"))
        return row

    @api.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/health/ready")
    async def ready() -> dict[str, Any]:
        return {"status": "ok", "lag_events": await asyncio.to_thread(projection.lag)}

    return api
