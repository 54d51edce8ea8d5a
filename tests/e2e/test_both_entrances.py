"""Both entrances, one behaviour: every command over Kafka and over HTTP stores the same events."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from contracts import commands as cmd
from contracts import topics
from contracts.registry import decode, encode
from services.projections.application import EventStoreReader
from shared.settings import Settings
from tests.support.kafka_io import produce, read_until
from tests.support.stack import TENANT, RunningStack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
BUS_TENANT = "tenant-bus"


def _over_bus(stack: RunningStack, command: cmd.CreateConnection | Any) -> dict[str, Any]:
    envelope = encode({"tenant_id": BUS_TENANT, "actor": "platform-service"}, command)
    asyncio.run(produce(stack.bootstrap, stack.topic(topics.COMMANDS), envelope.model_dump_json().encode(),
                        key=BUS_TENANT.encode()))
    wanted = str(envelope.message_id).encode()
    records = asyncio.run(read_until(stack.bootstrap, stack.topic(topics.COMMAND_RESULTS),
                                     lambda rs: any(r.key == wanted for r in rs)))
    _, result = decode(next(r for r in records if r.key == wanted).value)
    return result.model_dump(mode="json")


def _over_http(stack: RunningStack, command: Any) -> dict[str, Any]:
    path = {
        cmd.InstallDriver: lambda c: f"/v1/drivers/{c.driver}/install",
        cmd.UninstallDriver: lambda c: f"/v1/drivers/{c.driver}/uninstall",
        cmd.CreateConnection: lambda c: "/v1/connections",
        cmd.RequestSync: lambda c: "/v1/connections/sync",
        cmd.DisableConnections: lambda c: "/v1/connections/disable",
        cmd.EnableConnections: lambda c: "/v1/connections/enable",
        cmd.DeleteConnections: lambda c: "/v1/connections/delete",
    }
    if isinstance(command, cmd.EditConnection):
        body = command.model_dump(mode="json", exclude_none=True, exclude={"connection_id"})
        import httpx

        response = httpx.patch(f"{stack.api}/v1/connections/{command.connection_id}", json=body,
                               headers=stack.headers, timeout=15)
    else:
        body = command.model_dump(mode="json", exclude={"driver"} if isinstance(
            command, cmd.InstallDriver | cmd.UninstallDriver) else set())
        response = stack.post(path[type(command)](command), body)
    return response.json()


def _events_of(stack: RunningStack, tenant: str) -> list[str]:
    settings = Settings(data_dir=Path(stack.env["OMNI_DATA_DIR"]), store=stack.env["OMNI_STORE"],
                        database_url=stack.env.get("OMNI_DATABASE_URL"))
    reader = EventStoreReader(env=settings.eventsourcing_env())
    try:
        topics_of_tenant = []
        for n in reader.recorder.select_notifications(start=1, limit=100_000):
            event = reader.mapper.to_domain_event(n)
            meta = getattr(event, "meta", None) or {}
            owner = meta.get("tenant_id") or getattr(event, "tenant_id", None)
            if owner == tenant and not n.topic.startswith("ProcessedCommand."):
                topics_of_tenant.append(n.topic)
        return topics_of_tenant
    finally:
        reader.close()


def _walk(stack: RunningStack, send: Any, tenant: str) -> list[tuple[str, bool, list[str]]]:
    """The product page's procedures through one entrance; returns each command's outcome."""

    outcomes = []

    def step(command: Any) -> dict[str, Any]:
        result = send(stack, command)
        outcomes.append((result["command_type"], result["accepted"],
                         [i["outcome"] for i in result.get("items", [])]))
        return result

    def jobs_idle() -> bool:
        events = _events_of(stack, tenant)
        requested = sum(t in ("Connection.JobRequested.v1",) for t in events)
        ended = sum(t == "Connection.JobEnded.v1" for t in events)
        return requested == ended

    step(cmd.InstallDriver(driver="pos"))
    created = step(cmd.CreateConnection(name="Till", driver="pos"))
    connection_id = uuid.UUID(created["items"][0]["connection_id"])
    wait_until(jobs_idle, 30, "check and initial sync done", stack.stack)
    step(cmd.EditConnection(connection_id=connection_id, name="Till (front)", driver="pos"))
    wait_until(jobs_idle, 30, "sync after edit done", stack.stack)
    step(cmd.RequestSync(connection_ids=[connection_id]))
    wait_until(jobs_idle, 30, "sync done", stack.stack)
    step(cmd.EditConnection(connection_id=connection_id, driver="shopify"))
    step(cmd.DeleteConnections(connection_ids=[connection_id]))
    step(cmd.DisableConnections(connection_ids=[connection_id]))
    step(cmd.RequestSync(connection_ids=[connection_id]))
    step(cmd.EnableConnections(connection_ids=[connection_id]))
    wait_until(jobs_idle, 30, "jobs idle", stack.stack)
    step(cmd.DisableConnections(connection_ids=[connection_id]))
    step(cmd.UninstallDriver(driver="pos"))
    step(cmd.DeleteConnections(connection_ids=[connection_id]))
    step(cmd.UninstallDriver(driver="pos"))
    return outcomes


def test_every_command_over_kafka_and_over_http_stores_the_same_events(running_stack: RunningStack) -> None:
    stack = running_stack
    over_bus = _walk(stack, _over_bus, BUS_TENANT)
    over_http = _walk(stack, _over_http, TENANT)

    assert over_bus == over_http
    assert [o[:2] for o in over_bus] == [
        ("InstallDriver", True), ("CreateConnection", True), ("EditConnection", True), ("RequestSync", True),
        ("EditConnection", False), ("DeleteConnections", False), ("DisableConnections", True),
        ("RequestSync", False), ("EnableConnections", True), ("DisableConnections", True),
        ("UninstallDriver", False), ("DeleteConnections", True), ("UninstallDriver", True),
    ]
    bus_events, http_events = _events_of(stack, BUS_TENANT), _events_of(stack, TENANT)
    assert bus_events == http_events
    assert "Connection.Deleted.v1" in bus_events
