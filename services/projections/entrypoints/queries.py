"""Query endpoints over the views: every one scoped to the caller's tenant, paged by cursor, and able to wait
(bounded) until the views reached a position the caller's command returned (read-your-writes)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.projections.adapters import audit_table, connection_list_table, connection_status_table, view_state
from services.projections.adapters import data_model_tables as dm
from services.projections.adapters import processes_table
from services.projections.domain.connection_status import current_job
from services.projections.entrypoints import schemas
from services.projections.read_side import ReadSide
from shared.auth import Principal, Role
from shared.http import error_body
from shared.sql import Transaction

MAX_WAIT_SECONDS = 5.0
T = TypeVar("T")

MinPosition = Annotated[int | None, Query(ge=0, description="wait (up to 5 s) until the views applied this store "
                                                            "position, e.g. the position a command returned")]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=2000, description="next_cursor of the previous page")]
ConnectionId = Annotated[str, Query(max_length=100)]


class NotFound(Exception):
    """The tenant has no such connection (other tenants' ids answer exactly the same)."""


def not_found(what: str) -> JSONResponse:
    return JSONResponse(status_code=404, content=error_body("not_found", f"{what} not found"))


def query_routes(side: ReadSide, requires: Callable[[Role], Any]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["views"])
    Viewer = Annotated[Principal, requires(Role.VIEWER)]
    # Whether names have a trigram index (PostgreSQL with pg_trgm): how a name search finds its matches.
    search_indexed = view_state.trigram_enabled(side.reads)

    async def caught_up(min_position: int | None, *views: str) -> JSONResponse | None:
        if min_position and not await side.runner.wait_for(min_position, views, MAX_WAIT_SECONDS):
            return JSONResponse(status_code=503, content=error_body(
                "view_behind", f"the views have not reached position {min_position} within {MAX_WAIT_SECONDS} s"))
        return None

    async def owned_read(principal: Principal, connection_id: str, query: Callable[[Transaction], T]) -> T:
        """``query`` for a connection of the caller's tenant, else :class:`NotFound` (checked in one read)."""

        def read(tx: Transaction) -> T:
            if not connection_status_table.exists(tx, principal.tenant_id, connection_id):
                raise NotFound(connection_id)
            return query(tx)

        return await side.read(read)

    @router.get("/connections", response_model=schemas.Page[schemas.ConnectionRow])
    async def list_connections(
        principal: Viewer,
        status: Literal["active", "inactive", "deleting"] | None = None,
        driver: Annotated[str | None, Query(max_length=50)] = None,
        q: Annotated[str | None, Query(max_length=200, description="text in the name")] = None,
        credential_state: Literal["checking", "verified", "rejected", "check_failed"] | None = None,
        last_sync_state: Literal["succeeded", "failed", "cancelled", "timed_out"] | None = None,
        sort: Literal["name", "created_at", "updated_at", "status", "driver"] = "name",
        order: Literal["asc", "desc"] = "asc",
        limit: Limit = 50,
        cursor: Cursor = None,
        min_position: MinPosition = None,
    ) -> Any:
        """The Connections tab: the tenant's connections with their Status column, a page at a time."""
        if (behind := await caught_up(min_position, "connection_list")) is not None:
            return behind
        query = connection_list_table.ListQuery(principal.tenant_id, status, driver, q, sort, order == "desc", limit,
                                                cursor, credential_state, last_sync_state)
        rows, next_cursor = await side.read(
            lambda tx: connection_list_table.query(tx, query, search_indexed=search_indexed))
        return {"items": rows, "next_cursor": next_cursor}

    @router.get("/connections/{connection_id}", response_model=schemas.ConnectionRow)
    async def get_connection(principal: Viewer, connection_id: str, min_position: MinPosition = None) -> Any:
        """One row of the list (deleted connections have left it)."""
        if (behind := await caught_up(min_position, "connection_list")) is not None:
            return behind
        row = await side.read(lambda tx: connection_list_table.load(tx, connection_id))
        if row is None or row["tenant_id"] != principal.tenant_id:
            return not_found(f"connection {connection_id}")
        return row

    @router.get("/connections/{connection_id}/status", response_model=schemas.ConnectionStatus)
    async def connection_status(principal: Viewer, connection_id: str, min_position: MinPosition = None) -> Any:
        """Status, current job with progress, last jobs with outcomes, masked settings, credential fingerprint."""
        if (behind := await caught_up(min_position, "connection_status")) is not None:
            return behind
        document = await side.read(lambda tx: connection_status_table.get(tx, principal.tenant_id, connection_id))
        if document is None:
            return not_found(f"connection {connection_id}")
        return {**document, "current_job": current_job(document)}

    @router.get("/processes", response_model=schemas.Page[schemas.Process])
    async def processes(
        principal: Viewer,
        state: Literal["running", "finished", "all"] = "all",
        kind: Literal["check_credentials", "sync", "clean_up", "deletion"] | None = None,
        connection_id: ConnectionId | None = None,
        recent_hours: Annotated[float | None, Query(gt=0, le=24 * 366, description=(
            "finished processes only if they ended within this many hours (running ones always show)"))] = 24,
        limit: Limit = 50,
        cursor: Cursor = None,
        min_position: MinPosition = None,
    ) -> Any:
        """The Processes view: the tenant's running and recently finished jobs and deletions, newest first."""
        if (behind := await caught_up(min_position, "processes")) is not None:
            return behind
        now = datetime.now(UTC)
        since = (now - timedelta(hours=recent_hours)).isoformat(timespec="microseconds") if recent_hours else None
        query = processes_table.ProcessQuery(principal.tenant_id, state, kind, connection_id, since, limit, cursor)
        rows, next_cursor = await side.read(lambda tx: processes_table.query(tx, query))
        return {"items": [_with_age(row, now) for row in rows], "next_cursor": next_cursor}

    @router.get("/connections/{connection_id}/data-model", response_model=schemas.DataModelSummary)
    async def data_model(principal: Viewer, connection_id: str, min_position: MinPosition = None) -> Any:
        """How many attributes and sets are mirrored, and what the last sync changed."""
        if (behind := await caught_up(min_position, "data_model", "connection_status")) is not None:
            return behind
        query = dm.ModelQuery(principal.tenant_id, connection_id, limit=1)

        def read(tx: Transaction) -> dict[str, Any]:
            last, _ = dm.syncs(tx, query)
            counts = {}
            for name, spec in (("attributes", dm.ATTRIBUTES), ("sets", dm.SETS)):
                tx.execute(f"SELECT COUNT(*) FROM {spec.name} WHERE tenant_id = ? AND connection_id = ?",
                           (principal.tenant_id, connection_id))
                found = tx.fetchone()
                counts[name] = int(found[0]) if found else 0
            return {"connection_id": connection_id, **counts, "last_sync": last[0] if last else None}

        try:
            return await owned_read(principal, connection_id, read)
        except NotFound:
            return not_found(f"connection {connection_id}")

    async def model_page(principal: Principal, connection_id: str, min_position: int | None,
                         reader: Callable[[Transaction, dm.ModelQuery], tuple[list[dict[str, Any]], str | None]],
                         query: dm.ModelQuery) -> Any:
        if (behind := await caught_up(min_position, "data_model", "connection_status")) is not None:
            return behind
        try:
            rows, next_cursor = await owned_read(principal, connection_id, lambda tx: reader(tx, query))
        except NotFound:
            return not_found(f"connection {connection_id}")
        return {"items": rows, "next_cursor": next_cursor}

    @router.get("/connections/{connection_id}/data-model/sets", response_model=schemas.Page[schemas.AttributeSet])
    async def model_sets(principal: Viewer, connection_id: str, limit: Limit = 100, cursor: Cursor = None,
                         min_position: MinPosition = None) -> Any:
        """The mirrored attribute sets by code, each with its attribute codes."""
        query = dm.ModelQuery(principal.tenant_id, connection_id, limit, cursor)
        return await model_page(principal, connection_id, min_position, dm.sets, query)

    @router.get("/connections/{connection_id}/data-model/attributes", response_model=schemas.Page[schemas.Attribute])
    async def model_attributes(
        principal: Viewer,
        connection_id: str,
        set_code: Annotated[str | None, Query(alias="set", max_length=200,
                                              description="only this set's attributes, in the set's order")] = None,
        q: Annotated[str | None, Query(max_length=200, description="text in the attribute code")] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
        min_position: MinPosition = None,
    ) -> Any:
        """The mirrored attributes by code, a page at a time."""
        query = dm.ModelQuery(principal.tenant_id, connection_id, limit, cursor, set_code=set_code, text=q)
        return await model_page(principal, connection_id, min_position, dm.attributes, query)

    @router.get("/connections/{connection_id}/data-model/syncs", response_model=schemas.Page[schemas.SyncSummary])
    async def model_syncs(principal: Viewer, connection_id: str, limit: Limit = 50, cursor: Cursor = None,
                          min_position: MinPosition = None) -> Any:
        """Every sync's summary of changes, newest first."""
        query = dm.ModelQuery(principal.tenant_id, connection_id, limit, cursor)
        return await model_page(principal, connection_id, min_position, dm.syncs, query)

    @router.get("/connections/{connection_id}/data-model/syncs/{sync_id}/changes",
                response_model=schemas.Page[schemas.ModelChange])
    async def sync_changes(principal: Viewer, connection_id: str, sync_id: int, limit: Limit = 100,
                           cursor: Cursor = None, min_position: MinPosition = None) -> Any:
        """What one sync changed: each attribute and set added, changed (with the fields) or removed."""
        if (behind := await caught_up(min_position, "data_model", "connection_status")) is not None:
            return behind
        query = dm.ModelQuery(principal.tenant_id, connection_id, limit, cursor, sync_id=sync_id)

        def read(tx: Transaction) -> tuple[list[dict[str, Any]], str | None] | None:
            if dm.sync(tx, query) is None:
                return None
            return dm.changes(tx, query)

        try:
            found = await owned_read(principal, connection_id, read)
        except NotFound:
            return not_found(f"connection {connection_id}")
        if found is None:
            return not_found(f"sync {sync_id} of connection {connection_id}")
        return {"items": found[0], "next_cursor": found[1]}

    @router.get("/connections/{connection_id}/audit", response_model=schemas.Page[schemas.AuditEntry])
    async def connection_audit(principal: Viewer, connection_id: str, limit: Limit = 50, cursor: Cursor = None,
                               min_position: MinPosition = None) -> Any:
        """The connection's history, newest first: who did what, when, why, in which correlation."""
        if (behind := await caught_up(min_position, "audit", "connection_status")) is not None:
            return behind
        query = audit_table.TimelineQuery(principal.tenant_id, connection_id, limit=limit, cursor=cursor)
        try:
            rows, next_cursor = await owned_read(principal, connection_id, lambda tx: audit_table.query(tx, query))
        except NotFound:
            return not_found(f"connection {connection_id}")
        return {"items": rows, "next_cursor": next_cursor}

    @router.get("/audit", response_model=schemas.Page[schemas.AuditEntry])
    async def tenant_audit(
        principal: Viewer,
        connection_id: ConnectionId | None = None,
        correlation_id: Annotated[str | None, Query(max_length=200)] = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        min_position: MinPosition = None,
    ) -> Any:
        """The tenant's history, newest first; filter by connection, correlation id or actor."""
        if (behind := await caught_up(min_position, "audit")) is not None:
            return behind
        query = audit_table.TimelineQuery(principal.tenant_id, connection_id, correlation_id, actor, limit, cursor)
        rows, next_cursor = await side.read(lambda tx: audit_table.query(tx, query))
        return {"items": rows, "next_cursor": next_cursor}

    return router


def _with_age(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Running processes get their age at the time of the query (views hold only event times)."""
    if not row.get("open"):
        return row
    since = row.get("started_at") or row["requested_at"]
    return {**row, "age_seconds": round((now - datetime.fromisoformat(since)).total_seconds(), 3)}
