"""The bus contract as other platform services meet it: the example client works against the real broker,
and every message a full run produces matches its published JSON Schema."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from examples.platform_client import run as run_example_client
from tests.support.contract_schemas import assert_matches_published_schema
from tests.support.stack import RunningStack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


async def _every_record(bootstrap: str, namespace: str) -> dict[str, list[Any]]:
    """Every record of every topic of the run's namespace (dead letters aside: they hold raw input)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(namespace) and not t.endswith(".dlq")]
    finally:
        await admin.close()
    found: dict[str, list[Any]] = {}
    for name in names:
        consumer = AIOKafkaConsumer(name, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False, group_id=None)
        await consumer.start()
        try:
            records: list[Any] = []
            while True:
                batch = await consumer.getmany(timeout_ms=1500)
                if not batch:
                    break
                for part in batch.values():
                    records.extend(part)
            found[name.removeprefix(namespace)] = records
        finally:
            await consumer.stop()
    return found


def test_the_example_client_creates_a_connection_and_reads_its_result_and_events(running_stack: RunningStack) -> None:
    stack = running_stack
    outcome = asyncio.run(run_example_client(stack.bootstrap, "tenant-example", 60, namespace=stack.namespace))

    assert outcome["install_result"]["accepted"] is True
    assert outcome["result"]["accepted"] is True and outcome["complete"] is True
    types = [e["type"] for e in outcome["events"]]
    assert types.index("DriverInstallationChanged") < types.index("ConnectionCreated")
    assert "CredentialsChecked" in types and "DataModelChanged" in types
    succeeded = [e["payload"] for e in outcome["events"]
                 if e["type"] == "JobStateChanged" and e["payload"]["state"] == "succeeded"]
    assert {p["kind"] for p in succeeded} == {"check_credentials", "sync"}
    positions = [e["payload"]["position"] for e in outcome["events"]]
    assert positions == sorted(positions)


def test_every_message_of_a_full_run_matches_its_published_schema(running_stack: RunningStack) -> None:
    stack = running_stack
    assert stack.post("/v1/drivers/pos/install").status_code == 200
    ids = [stack.post("/v1/connections", {"name": f"Till {i}", "driver": "pos"}).json()["items"][0]["connection_id"]
           for i in range(2)]
    for connection_id in ids:
        wait_until(lambda c=connection_id: stack.get_view(f"/v1/connections/{c}").json().get("sync_state")
                   == "succeeded", 30, "initial sync", stack.stack)
    httpx.patch(f"{stack.api}/v1/connections/{ids[0]}", json={"name": "Till A"}, headers=stack.headers, timeout=10)
    for verb in ("sync", "disable", "enable", "disable", "delete"):
        assert stack.post(f"/v1/connections/{verb}", {"connection_ids": ids}).status_code in (200, 409)
    wait_until(lambda: stack.list_rows() == [], 30, "both connections deleted", stack.stack)
    asyncio.run(run_example_client(stack.bootstrap, "tenant-example", 60, namespace=stack.namespace))

    records = asyncio.run(_every_record(stack.bootstrap, stack.namespace))
    checked: dict[str, int] = {}
    for topic, topic_records in records.items():
        for record in topic_records:
            assert_matches_published_schema(record.value)
            checked[topic] = checked.get(topic, 0) + 1
    assert {"connections.commands.v1", "connections.command-results.v1", "connections.events.v1",
            "drivers.reports.v1", "drivers.pos.jobs.v1"} <= set(checked), checked
    assert sum(checked.values()) > 50


def test_the_service_serves_its_asyncapi_document_and_message_schemas(running_stack: RunningStack) -> None:
    stack = running_stack
    asyncapi = httpx.get(f"{stack.api}/v1/contracts/asyncapi.json", timeout=10)
    assert asyncapi.status_code == 200 and asyncapi.json()["asyncapi"].startswith("3.")
    schema = httpx.get(f"{stack.api}/v1/contracts/schemas/CreateConnection.v1.json", timeout=10)
    assert schema.status_code == 200 and "payload" in schema.json()["properties"]
    missing = httpx.get(f"{stack.api}/v1/contracts/schemas/NoSuchMessage.v1.json", timeout=10)
    assert missing.status_code == 404 and missing.json()["reason_code"] == "not_found"
    assert httpx.get(f"{stack.api}/v1/contracts/schemas/..%2Fsecrets.json", timeout=10).status_code in (404, 422)
