"""Roles on every command entrance, and tenant B against tenant A's resources: refused or not found, never data.

The commands API and the bus entrance run in process here, on SQLite with the real vault; the e2e matrix
(``tests/e2e/test_security_isolation.py``) repeats it against real processes, with the views API and the
live stream.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from contracts import commands as cmd
from contracts.envelope import Envelope
from contracts.registry import encode
from contracts.results import CommandResult
from services.connections.domain.connection import Connection
from services.connections.domain.meta import Meta
from services.connections.entrypoints.guard import REQUIRED_ROLE, BusGuard
from shared.auth import BusActors, Role
from tests.security.conftest import ROLES, TENANT_A, TENANT_B, WriteSide, auth_header

A_NAME = "tenant-a-private-name-5f1e"
ROLE_RANK = {"viewer": 1, "operator": 2, "admin": 3}


def a_connection(client: TestClient) -> str:
    assert client.post("/v1/drivers/pos/install", headers=auth_header(TENANT_A, "admin")).status_code == 200
    created = client.post("/v1/connections", headers=auth_header(TENANT_A, "admin"),
                          json={"name": A_NAME, "driver": "pos"})
    assert created.status_code == 200, created.text
    return str(created.json()["items"][0]["connection_id"])


def http_requests(connection_id: str) -> list[tuple[str, str, str, dict[str, Any] | None, Role | None]]:
    """(name, method, path, body, role it needs) of every endpoint of the commands API."""
    ids = {"connection_ids": [connection_id]}
    return [
        ("catalog", "GET", "/v1/drivers/catalog", None, Role.VIEWER),
        ("installed drivers", "GET", "/v1/drivers", None, Role.VIEWER),
        ("install", "POST", "/v1/drivers/pos/install", None, Role.ADMIN),
        ("create with A's id", "POST", "/v1/connections",
         {"connection_id": connection_id, "name": "hijack", "driver": "pos"}, Role.ADMIN),
        ("edit", "PATCH", f"/v1/connections/{connection_id}", {"name": "renamed by B"}, Role.ADMIN),
        ("sync", "POST", "/v1/connections/sync", ids, Role.OPERATOR),
        ("disable", "POST", "/v1/connections/disable", ids, Role.OPERATOR),
        ("enable", "POST", "/v1/connections/enable", ids, Role.OPERATOR),
        ("delete", "POST", "/v1/connections/delete", ids, Role.ADMIN),
        ("uninstall", "POST", "/v1/drivers/pos/uninstall", None, Role.ADMIN),
        ("command key", "GET", "/v1/contracts/command-key", None, None),
        ("health", "GET", "/health/live", None, None),
    ]


def test_every_endpoint_checks_its_role_and_names_the_missing_one(client: TestClient) -> None:
    connection_id = a_connection(client)
    checked = 0
    for name, method, path, body, needed in http_requests(connection_id):
        for role in ROLES:
            response = client.request(method, path, json=body, headers=auth_header(TENANT_A, role))
            if needed is not None and ROLE_RANK[role] < ROLE_RANK[needed.value]:
                assert response.status_code == 403, (name, role, response.text)
                assert response.json()["missing_role"] == needed.value
                checked += 1
            else:
                assert response.status_code != 403, (name, role, response.text)
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == (200 if needed is None else 401), (name, anonymous.text)
        no_roles = client.request(method, path, json=body, headers={"Authorization": "Bearer tok-no-roles"})
        assert no_roles.status_code == (200 if needed is None else 403), name
    assert checked == 13


@pytest.mark.parametrize("role", ROLES)
def test_tenant_b_gets_refused_or_not_found_on_tenant_a_resources_never_data(
    client: TestClient, write_side: WriteSide, role: str
) -> None:
    connection_id = a_connection(client)
    before = write_side.app.repository.get(UUID(connection_id)).version
    for name, method, path, body, needed in http_requests(connection_id):
        response = client.request(method, path, json=body, headers=auth_header(TENANT_B, role))
        allowed = needed is None or ROLE_RANK[role] >= ROLE_RANK[needed.value]
        assert A_NAME not in response.text and TENANT_A not in response.text, (name, response.text)
        if not allowed:
            assert response.status_code == 403, (name, response.text)
        elif name in ("edit", "sync", "disable", "enable", "delete"):
            assert response.status_code == 404, (name, response.text)
            assert {i["outcome"] for i in response.json().get("items", [])} <= {"not_found"}
            assert response.json()["reason_code"] == "not_found"
        elif name == "create with A's id":
            assert response.status_code == 409 and response.json()["reason_code"] == "connection_id_unavailable"
        elif name == "installed drivers":
            assert response.json() == []  # tenant A installed pos; B has installed nothing yet
    connection = write_side.app.repository.get(UUID(connection_id))
    assert isinstance(connection, Connection)
    assert (connection.version, connection.name, connection.tenant_id) == (before, A_NAME, TENANT_A)
    assert write_side.app.installed_drivers(TENANT_A) == {"pos": "1.0.0"}


# --- the bus entrance ----------------------------------------------------------------------------------

BUS_ACTORS = BusActors({
    **{f"b-{role}": {"roles": [role], "tenants": [TENANT_B]} for role in ROLES},
    "a-admin": {"roles": ["admin"], "tenants": [TENANT_A]},
    "platform-admin": {"roles": ["admin"]},
})


def bus_commands(connection_id: UUID) -> list[cmd.Message]:
    ids = [connection_id]
    return [
        cmd.InstallDriver(driver="pos"),
        cmd.CreateConnection(connection_id=connection_id, name="hijack", driver="pos"),
        cmd.EditConnection(connection_id=connection_id, name="renamed by B"),
        cmd.RequestSync(connection_ids=ids), cmd.DisableConnections(connection_ids=ids),
        cmd.EnableConnections(connection_ids=ids), cmd.DeleteConnections(connection_ids=ids),
        cmd.UninstallDriver(driver="pos"),
    ]


def send(write_side: WriteSide, guard: BusGuard, actor: str, tenant: str, command: cmd.Message) -> CommandResult:
    envelope: Envelope = encode({"tenant_id": tenant, "actor": actor}, command)
    admitted = guard.admit(envelope, command)
    if isinstance(admitted, CommandResult):
        return admitted
    meta = Meta(envelope.tenant_id, envelope.actor, envelope.correlation_id, str(envelope.message_id))
    return write_side.app.execute(admitted, envelope.message_id, meta)


def test_every_bus_command_needs_its_role_and_a_sender_bound_to_tenants_stays_there(write_side: WriteSide) -> None:
    guard = BusGuard(BUS_ACTORS, write_side.command_keys)
    assert send(write_side, guard, "a-admin", TENANT_A, cmd.InstallDriver(driver="pos")).accepted
    created = send(write_side, guard, "a-admin", TENANT_A, cmd.CreateConnection(name=A_NAME, driver="pos"))
    connection_id = created.items[0].connection_id
    assert connection_id is not None
    before = write_side.app.repository.get(connection_id).version

    for command in bus_commands(connection_id):
        needed = REQUIRED_ROLE[type(command)]
        for role in ROLES:
            result = send(write_side, guard, f"b-{role}", TENANT_B, command)
            assert A_NAME not in result.model_dump_json()
            if ROLE_RANK[role] < ROLE_RANK[needed.value]:
                assert (result.accepted, result.reason_code) == (False, "forbidden")
                assert f"lacks the {needed.value} role" in (result.message or "")
            elif isinstance(command, cmd.EditConnection | cmd.RequestSync | cmd.DisableConnections
                            | cmd.EnableConnections | cmd.DeleteConnections):
                assert not result.accepted and result.reason_code == "not_found", result
            elif isinstance(command, cmd.CreateConnection):
                assert (result.accepted, result.reason_code) == (False, "connection_id_unavailable")
        # A sender bound to tenant B that names tenant A in the envelope is refused outright.
        spoofed = send(write_side, guard, "b-admin", TENANT_A, command)
        assert (spoofed.accepted, spoofed.reason_code) == (False, "forbidden")
        assert "may not act for tenant 'tenant-a'" in (spoofed.message or "")
        unknown = send(write_side, guard, "someone-else", TENANT_A, command)
        assert (unknown.accepted, unknown.reason_code) == (False, "forbidden")
        assert f"needs the {needed.value} role" in (unknown.message or "")

    # An unrestricted platform sender acting for tenant B still only reaches tenant B's connections.
    for command in bus_commands(connection_id)[2:-1]:
        result = send(write_side, guard, "platform-admin", TENANT_B, command)
        assert result.reason_code == "not_found" and not result.accepted, result
    assert write_side.app.repository.get(connection_id).version == before
    assert write_side.app.installed_drivers(TENANT_A) == {"pos": "1.0.0"}


def test_a_forbidden_bus_command_changes_nothing_and_is_not_remembered(write_side: WriteSide) -> None:
    guard = BusGuard(BUS_ACTORS, write_side.command_keys)
    command_id = uuid4()
    envelope = encode({"tenant_id": TENANT_B, "actor": "b-viewer", "message_id": command_id},
                      cmd.InstallDriver(driver="pos"))
    refused = guard.admit(envelope, cmd.InstallDriver(driver="pos"))
    assert isinstance(refused, CommandResult) and refused.command_id == command_id
    assert write_side.app.installed_drivers(TENANT_B) == {}
    # Once the sender has the role, the same command id is evaluated afresh.
    allowed = send(write_side, BusGuard(BusActors({"b-viewer": {"roles": ["admin"]}}), write_side.command_keys),
                   "b-viewer", TENANT_B, cmd.InstallDriver(driver="pos"))
    assert allowed.accepted


PUBLIC_ROUTES = {"/health/live", "/v1/contracts/command-key", "/v1/contracts/asyncapi.json",
                 "/v1/contracts/schemas/{message}"}
"""Routes that answer without a token, on purpose: liveness and the published contracts (no tenant data)."""


def test_no_route_of_the_commands_api_answers_without_a_token_unless_it_is_declared_public(
    client: TestClient,
) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method in operations:
            url = path.format(connection_id=uuid4(), driver="pos", message="CreateConnection.v1.json")
            status = client.request(method, url, json={}).status_code
            assert (status != 401) == (path in PUBLIC_ROUTES), (method, path, status)
