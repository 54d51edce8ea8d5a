"""One connection from command to view through real processes, the real broker and a real store."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import topics
from contracts.commands import CreateConnection, InstallDriver
from contracts.registry import decode, encode
from services.connections.translation import outgoing
from services.projections.adapters import connection_list_table as table
from services.projections.application import EventStoreReader
from services.projections.domain.connection_list import evolve
from shared.settings import Settings
from shared.sql import open_database
from tests.support.kafka_io import produce, read_until
from tests.support.stack import TENANT, RunningStack, free_port, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


def _synced_row(stack: RunningStack, connection_id: str) -> dict[str, Any] | None:
    response = stack.get_view(f"/v1/connections/{connection_id}")
    if response.status_code != 200:
        return None
    row = response.json()
    return row if row["sync_state"] == "succeeded" else None


def _send_command(stack: RunningStack, command: Any, key: str) -> uuid.UUID:
    envelope = encode({"tenant_id": TENANT, "actor": "platform-test"}, command)
    asyncio.run(produce(stack.bootstrap, stack.topic(topics.COMMANDS), envelope.model_dump_json().encode(),
                        key=key.encode()))
    return envelope.message_id


def _result_of(stack: RunningStack, command_id: uuid.UUID) -> dict[str, Any]:
    wanted = str(command_id).encode()
    records = asyncio.run(read_until(stack.bootstrap, stack.topic(topics.COMMAND_RESULTS),
                                     lambda rs: any(r.key == wanted for r in rs)))
    record = next(r for r in records if r.key == wanted)
    _, result = decode(record.value)
    return result.model_dump(mode="json")


def test_create_connection_over_kafka_reaches_the_list_active_with_a_succeeded_sync(
    running_stack: RunningStack,
) -> None:
    stack = running_stack
    installed = _result_of(stack, _send_command(stack, InstallDriver(driver="pos"), TENANT))
    assert installed["accepted"] is True

    command_id = _send_command(stack, CreateConnection(name="Till 1", driver="pos"), TENANT)
    result = _result_of(stack, command_id)
    assert result["accepted"] is True, result
    connection_id = result["items"][0]["connection_id"]

    row = wait_until(lambda: _synced_row(stack, connection_id), 30, "synced row", stack.stack)
    assert row["status"] == "active"
    assert row["credential_state"] == "verified"
    assert row["name"] == "Till 1" and row["driver"] == "pos"
    assert row["last_sync_at"] is not None


def test_create_connection_over_http_reaches_the_list_active_with_a_succeeded_sync(
    running_stack: RunningStack,
) -> None:
    stack = running_stack
    assert stack.post("/v1/drivers/pos/install").status_code == 200
    response = stack.post("/v1/connections", {"name": "Till 2", "driver": "pos"})
    assert response.status_code == 200, response.text
    connection_id = response.json()["items"][0]["connection_id"]

    row = wait_until(lambda: _synced_row(stack, connection_id), 30, "synced row", stack.stack)
    assert row["status"] == "active" and row["sync_state"] == "succeeded"


def _stored_notifications(stack: RunningStack) -> tuple[EventStoreReader, list[Any]]:
    settings = Settings(**_settings_fields(stack.env))
    reader = EventStoreReader(env=settings.eventsourcing_env())
    notifications = list(reader.recorder.select_notifications(start=1, limit=1_000_000))
    return reader, notifications


def _settings_fields(env: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {"data_dir": Path(env["OMNI_DATA_DIR"]), "store": env["OMNI_STORE"]}
    if "OMNI_DATABASE_URL" in env:
        fields["database_url"] = env["OMNI_DATABASE_URL"]
    return fields


def test_killing_relay_and_projections_mid_stream_loses_nothing_and_duplicates_nothing(
    running_stack: RunningStack,
) -> None:
    stack = running_stack
    assert stack.post("/v1/drivers/pos/install").status_code == 200
    created = []
    for i in range(30):
        if i == 10:
            stack.stack.kill("relay")
        if i == 15:
            stack.stack.kill("projections")
        if i == 20:
            stack.stack.start("relay")
            stack.stack.start("projections")
        response = stack.post("/v1/connections", {"name": f"Till {i:02d}", "driver": "pos"})
        assert response.status_code == 200, response.text
        created.append(response.json()["items"][0]["connection_id"])
    stack.stack.wait_http(f"{stack.views}/health/live")

    def all_synced() -> bool:
        rows = stack.list_rows()
        return len(rows) == 30 and all(r["sync_state"] == "succeeded" for r in rows)

    wait_until(all_synced, 60, "30 synced rows", stack.stack)
    reader, notifications = _stored_notifications(stack)
    store_positions = [n.id for n in notifications]
    assert store_positions == list(range(1, len(notifications) + 1)), "the store's positions have gaps"

    # Every stored event reached Kafka: the expected message ids are derived from the store.
    expected_ids = set()
    for n in notifications:
        event = reader.mapper.to_domain_event(n)
        for message in outgoing(n.topic, event, n.id, lambda e, p: _no_job(e)):
            if message.topic == topics.EVENTS:
                expected_ids.add(str(message.envelope.message_id))
    records = asyncio.run(read_until(
        stack.bootstrap, stack.topic(topics.EVENTS),
        lambda rs: expected_ids <= {dict(r.headers)["message_id"].decode() for r in rs}, timeout=60,
    ))
    seen = [dict(r.headers)["message_id"].decode() for r in records]
    assert set(seen) == expected_ids, "the topic has messages the store does not explain"
    # Order per connection: positions on each key only go up (duplicates re-send a suffix).
    per_key: dict[bytes, list[int]] = {}
    for r in records:
        per_key.setdefault(r.key, []).append(json.loads(r.value)["payload"]["position"])
    for positions in per_key.values():
        deduped = list(dict.fromkeys(positions))
        assert deduped == sorted(deduped)

    # The view applied every event exactly once: it equals a fresh rebuild from the store.
    fresh = open_database(f"sqlite:///{stack.data_dir / 'rebuild.sqlite'}")
    with fresh.transaction() as tx:
        table.create_table(tx)
        rows: dict[str, Any] = {}
        for n in notifications:
            if n.topic.startswith("Connection."):
                event = reader.mapper.to_domain_event(n)
                key = str(event.originator_id)
                rows[key] = evolve(rows.get(key), n.topic, event)
    live = {r["connection_id"]: r for r in stack.list_rows()}
    rebuilt = {k: v for k, v in rows.items() if v is not None}
    assert live == rebuilt
    assert sorted(live) == sorted(created)
    reader.close()


class _NoJob(Exception):
    pass


def _no_job(event: Any) -> Any:
    # Job messages go to the job topics, not the events topic; this check only counts integration events.
    from contracts.jobs import DriverJob

    return DriverJob(job_id=uuid.UUID(event.job_id), connection_id=event.originator_id, driver="pos", kind=event.kind)


def test_a_malformed_command_is_dead_lettered_with_its_reason_and_the_consumer_goes_on(
    running_stack: RunningStack,
) -> None:
    stack = running_stack
    commands = stack.topic(topics.COMMANDS)
    asyncio.run(produce(stack.bootstrap, commands, b"{not json", key=b"x"))
    asyncio.run(produce(stack.bootstrap, commands, json.dumps({"type": "CreateConnection"}).encode(), key=b"y"))
    bad_payload = encode({"tenant_id": TENANT}, InstallDriver(driver="pos")).model_dump(mode="json")
    bad_payload["payload"] = {"driver": "NOT A DRIVER ID!"}
    asyncio.run(produce(stack.bootstrap, commands, json.dumps(bad_payload).encode(), key=b"z"))

    dead = asyncio.run(read_until(stack.bootstrap, topics.dead_letters(commands), lambda rs: len(rs) >= 3))
    reasons = {r.key: dict(r.headers) for r in dead}
    assert reasons[b"x"]["dlq_reason_code"] == b"invalid_json"
    assert reasons[b"y"]["dlq_reason_code"] == b"invalid_envelope"
    assert b"tenant_id" in reasons[b"y"]["dlq_reason"]
    assert reasons[b"z"]["dlq_reason_code"] == b"invalid_payload"
    assert b"driver" in reasons[b"z"]["dlq_reason"]

    # The consumer keeps consuming: a good command after the bad ones is answered.
    result = _result_of(stack, _send_command(stack, InstallDriver(driver="pos"), TENANT))
    assert result["accepted"] is True


def test_make_up_then_one_http_create_reaches_a_synced_row_within_seconds(tmp_path: Path) -> None:
    """Drives the launcher that ``make up`` calls, with its own Kafka broker, as a user would."""
    api_port, views_port, kafka_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "OMNI_DATA_DIR": str(tmp_path / "data"),
        "OMNI_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
        "OMNI_HTTP_PORT": str(api_port),
        "OMNI_QUERY_PORT": str(views_port),
    }
    up = subprocess.Popen([sys.executable, "-m", "services.cli", "up"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        assert up.stdout is not None
        for line in up.stdout:
            lines.append(line)
            if "Press Ctrl-C to stop" in line:
                break
        else:
            pytest.fail("make up stopped before it was up:\n" + "".join(lines))
        headers = {"Authorization": "Bearer dev-admin-token"}
        created = httpx.post(f"http://127.0.0.1:{api_port}/v1/connections", headers=headers,
                             json={"name": "Demo till", "driver": "pos"}, timeout=10)
        assert created.status_code == 200, created.text
        connection_id = created.json()["items"][0]["connection_id"]

        def synced() -> bool:
            row = httpx.get(f"http://127.0.0.1:{views_port}/v1/connections/{connection_id}", headers=headers,
                            timeout=5)
            return row.status_code == 200 and row.json()["sync_state"] == "succeeded"

        wait_until(synced, 15, "a synced row after make up")
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0
