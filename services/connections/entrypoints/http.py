"""HTTP entrance of the connections service: each endpoint turns the request into a command, nothing more."""

import asyncio
import json
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, FastAPI, Header, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from contracts import commands as cmd
from contracts.drivers import CATALOG
from contracts.schema_export import PACKAGE_DIR, SCHEMAS
from contracts.results import CommandResult
from services.connections.application import Connections
from services.connections.domain.meta import Meta
from services.connections.entrypoints.batching import CommandBatcher
from services.connections.entrypoints.guard import REQUIRED_ROLE, CredentialsRefused, open_credentials
from shared.auth import Authenticator, Principal, Role
from shared.http import error_body, install_error_handlers, principal_dependency
from shared.metrics import record_command
from shared.sealed_credentials import CommandKeys
from shared.tracing import current_traceparent, http_telemetry

_STATUS_BY_REASON = {
    "not_found": 404, "driver_not_installed": 404,
    "invalid_input": 422, "invalid_credentials": 422, "invalid_settings": 422, "unknown_driver": 422,
    "invalid_sealed_credentials": 422,
    "conflict": 409,
}


class ConnectionIds(BaseModel):
    connection_ids: list[UUID] = Field(min_length=1, max_length=500)


def _answer(result: CommandResult) -> Response:
    status = 200 if result.accepted else _STATUS_BY_REASON.get(result.reason_code or "", 409)
    if not result.accepted and result.items and all(i.outcome == "not_found" for i in result.items):
        status = 404
    # pydantic writes the JSON itself (in Rust): no dict of the result, no json.dumps of it
    return Response(result.model_dump_json(), status_code=status, media_type="application/json")


def create_app(app: Connections, auth: Authenticator, command_keys: CommandKeys) -> FastAPI:
    """The write-side HTTP API. Every route but the health check and the public command key needs a role."""
    api = FastAPI(title="Omni-Channel Connections: commands", version="1", telemetry=http_telemetry(), description=(
        "Commands on connections and drivers. Authenticate with `Authorization: Bearer <JWT or API token>`; the "
        "tenant and roles come from the token. viewer reads, operator synchronizes/enables/disables, admin "
        "creates/edits/deletes connections and installs drivers. Another tenant's ids answer 404."))
    install_error_handlers(api)
    requires = principal_dependency(auth)
    router = APIRouter(prefix="/v1")
    IdempotencyKey = Annotated[UUID | None, Header(alias="Idempotency-Key")]
    CorrelationId = Annotated[str | None, Header(max_length=100)]
    batcher = CommandBatcher(app)  # concurrent requests share a transaction (group commit)

    async def run(command: cmd.Message, principal: Principal, key: UUID | None, correlation: str | None) -> JSONResponse:
        try:
            command = open_credentials(command, principal.tenant_id, command_keys, on_bus=False)
        except CredentialsRefused as refusal:
            return JSONResponse(status_code=422, content=error_body(refusal.reason_code, refusal.message))
        command_id = key or uuid4()
        meta = Meta(principal.tenant_id, principal.actor, correlation or str(command_id), str(command_id),
                    trace_parent=current_traceparent())
        result = await batcher.execute(command, command_id, meta)
        record_command(command, "http", result)
        return _answer(result)

    @router.get("/contracts/command-key")
    async def command_key() -> dict[str, str]:
        """The public key platform services seal credentials to (``sealed_credentials``); public by design."""
        return command_keys.describe()

    @router.get("/contracts/asyncapi.json")
    async def asyncapi() -> Any:
        """The AsyncAPI 3 document of every topic, key, header and message this service uses."""
        return JSONResponse(json.loads((PACKAGE_DIR / "asyncapi.json").read_text(encoding="utf-8")))

    @router.get("/contracts/schemas/{message}")
    async def message_schema(message: Annotated[str, Path(pattern=r"^[A-Za-z]+\.v[0-9]+\.json$")]) -> Any:
        """The JSON Schema of one message version, e.g. ``CreateConnection.v1.json``."""
        schema = PACKAGE_DIR / SCHEMAS / message
        if not schema.is_file():
            return JSONResponse(status_code=404, content={"reason_code": "not_found",
                                                          "message": f"no published schema {message}"})
        return JSONResponse(json.loads(schema.read_text(encoding="utf-8")))

    @router.get("/drivers/catalog")
    async def catalog(_: Annotated[Principal, requires(Role.VIEWER)]) -> list[dict[str, Any]]:
        """Every driver the platform offers, with the JSON Schema of its credentials and settings forms."""
        return [
            {"id": s.id, "name": s.name, "version": s.version,
             "credentials_schema": s.credentials_model.model_json_schema(),
             "settings_schema": s.settings_model.model_json_schema()}
            for s in CATALOG.values()
        ]

    @router.get("/drivers")
    async def installed(principal: Annotated[Principal, requires(Role.VIEWER)]) -> list[dict[str, Any]]:
        """The drivers installed for the caller's tenant, with the forms their connections need."""
        versions = await asyncio.to_thread(app.installed_drivers, principal.tenant_id)
        return [
            {"id": s.id, "name": s.name, "version": versions[s.id],
             "credentials_schema": s.credentials_model.model_json_schema(),
             "settings_schema": s.settings_model.model_json_schema()}
            for s in CATALOG.values() if s.id in versions
        ]

    @router.post("/drivers/{driver}/install")
    async def install(driver: str, principal: Annotated[Principal, requires(REQUIRED_ROLE[cmd.InstallDriver])],
                      key: IdempotencyKey = None, x_correlation_id: CorrelationId = None) -> Any:
        return await run(cmd.InstallDriver(driver=driver), principal, key, x_correlation_id)

    @router.post("/drivers/{driver}/uninstall")
    async def uninstall(driver: str, principal: Annotated[Principal, requires(REQUIRED_ROLE[cmd.UninstallDriver])],
                        key: IdempotencyKey = None, x_correlation_id: CorrelationId = None) -> Any:
        return await run(cmd.UninstallDriver(driver=driver), principal, key, x_correlation_id)

    @router.post("/connections")
    async def create(body: cmd.CreateConnection,
                     principal: Annotated[Principal, requires(REQUIRED_ROLE[cmd.CreateConnection])],
                     key: IdempotencyKey = None, x_correlation_id: CorrelationId = None) -> Any:
        return await run(body, principal, key, x_correlation_id)

    @router.patch("/connections/{connection_id}")
    async def edit(connection_id: UUID, principal: Annotated[Principal, requires(REQUIRED_ROLE[cmd.EditConnection])],
                   body: Annotated[dict[str, Any], Body()], key: IdempotencyKey = None,
                   x_correlation_id: CorrelationId = None) -> Any:
        command = cmd.EditConnection.model_validate({**body, "connection_id": connection_id})
        return await run(command, principal, key, x_correlation_id)

    for verb, command_type in (
        ("sync", cmd.RequestSync),
        ("disable", cmd.DisableConnections),
        ("enable", cmd.EnableConnections),
        ("delete", cmd.DeleteConnections),
    ):
        router.add_api_route(f"/connections/{verb}", _bulk(run, command_type, requires(REQUIRED_ROLE[command_type])),
                             methods=["POST"], name=verb, summary=(command_type.__doc__ or "").split("\n")[0])

    api.include_router(router)

    @api.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    return api


def _bulk(run: Any, command_type: type[cmd.Message], principal_dep: Any) -> Any:
    async def endpoint(body: ConnectionIds, principal: Annotated[Principal, principal_dep],
                       key: Annotated[UUID | None, Header(alias="Idempotency-Key")] = None,
                       x_correlation_id: Annotated[str | None, Header(max_length=100)] = None) -> Any:
        return await run(command_type(connection_ids=body.connection_ids), principal, key, x_correlation_id)

    return endpoint
