"""Query HTTP API over the views: tenant-scoped, cursor-paginated, read-your-writes on request, live stream."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.projections.entrypoints.admin import admin_routes
from services.projections.entrypoints.queries import query_routes
from services.projections.entrypoints.stream import stream_routes
from services.projections.read_side import ReadSide
from shared.auth import Authenticator
from shared.http import error_body, install_error_handlers, principal_dependency
from shared.tracing import http_telemetry


def create_app(side: ReadSide, tokens: Authenticator) -> FastAPI:
    """The read-side HTTP API; ``tokens`` turns a bearer token into a principal (static tokens, JWTs)."""
    api = FastAPI(title="Omni-Channel Connections: views", version="1", telemetry=http_telemetry(), description=(
        "Dashboards read here: the connection list, each connection's status, the tenant's processes, the "
        "mirrored data model (DataHub), the audit timeline, and a live stream of changes. Every answer is the "
        "caller's tenant's only; another tenant's ids answer 404."))
    install_error_handlers(api)

    @api.exception_handler(ValueError)
    async def invalid(_: Request, exc: ValueError) -> JSONResponse:
        # Bad cursors and sort orders: the caller's input, not a server fault.
        return JSONResponse(status_code=422, content=error_body("invalid_input", str(exc)))

    requires = principal_dependency(tokens)
    api.include_router(query_routes(side, requires))
    api.include_router(stream_routes(side, requires))
    api.include_router(admin_routes(side, requires))
    return api
