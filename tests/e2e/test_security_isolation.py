"""The isolation matrix against real processes: tenant B, with each role, against tenant A's resources on every
endpoint of both HTTP APIs, on the live stream and on the bus: refused or not found, never data."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import commands as cmd
from contracts import topics
from contracts.registry import decode, encode
from services.launcher import Stack
from shared.local_kafka import LocalKafka
from shared.runtime import all_topics, ensure_topics
from tests.support.kafka_io import produce, read_until
from tests.support.stack import stack_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
A, B = "tenant-iso-a", "tenant-iso-b"
ROLES = ("viewer", "operator", "admin")
RANK = {"viewer": 1, "operator": 2, "admin": 3}
A_NAME = f"a-private-{uuid.uuid4().hex[:12]}"
PUBLIC = {"/health/live", "/health/ready", "/metrics", "/v1/contracts/command-key", "/v1/contracts/asyncapi.json",
          "/v1/contracts/schemas/{message}", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/"}


def token(tenant: str, role: str) -> str:
    return f"iso-{tenant}-{role}"


def headers(tenant: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(tenant, role)}"}


class Isolated:
    def __init__(self, stack: Stack, env: dict[str, str], bootstrap: str, namespace: str) -> None:
        self.stack, self.env, self.bootstrap, self.namespace = stack, env, bootstrap, namespace
        self.api = f"http://127.0.0.1:{env['OMNI_HTTP_PORT']}"
        self.views = f"http://127.0.0.1:{env['OMNI_QUERY_PORT']}"

    def over_bus(self, actor: str, tenant: str, command: cmd.Message) -> dict[str, Any]:
        envelope = encode({"tenant_id": tenant, "actor": actor}, command)
        asyncio.run(produce(self.bootstrap, self.namespace + topics.COMMANDS, envelope.model_dump_json().encode(),
                            key=tenant.encode()))
        wanted = str(envelope.message_id).encode()
        records = asyncio.run(read_until(self.bootstrap, self.namespace + topics.COMMAND_RESULTS,
                                         lambda rs: any(r.key == wanted for r in rs)))
        _, result = decode(next(r for r in records if r.key == wanted).value)
        return result.model_dump(mode="json")


@pytest.fixture
def isolated(kafka_broker: LocalKafka, tmp_path: Path) -> Iterator[Isolated]:
    namespace = f"t{uuid.uuid4().hex[:8]}."
    env = stack_env("sqlite", tmp_path / "data", kafka_broker.bootstrap, namespace, None)
    env["OMNI_API_TOKENS"] = json.dumps({token(t, r): {"tenant": t, "roles": [r], "actor": f"{t}-{r}"}
                                         for t in (A, B) for r in ROLES})
    env["OMNI_BUS_ACTORS"] = json.dumps({f"svc-{t}-{r}": {"roles": [r], "tenants": [t]} for t in (A, B) for r in ROLES})
    asyncio.run(ensure_topics(kafka_broker.bootstrap, all_topics(namespace), 3, 1))
    stack = Stack(env, tmp_path / "logs")
    stack.start_all()
    try:
        running = Isolated(stack, env, kafka_broker.bootstrap, namespace)
        stack.wait_http(f"{running.api}/health/live")
        stack.wait_http(f"{running.views}/health/live")
        yield running
    finally:
        stack.stop_all()


class StreamTap(threading.Thread):
    """Reads a tenant's live stream (SSE) in the background until stopped."""

    def __init__(self, url: str, tenant: str, role: str) -> None:
        super().__init__(daemon=True)
        self.url, self.headers = url, headers(tenant, role)
        self.text = ""
        self.status: int | None = None
        self.ready = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            # No read timeout: an httpx stream cannot be read again after one, so a quiet second would end the
            # tap and hide whatever the stream carried later. The thread ends with the server (daemon).
            with httpx.stream("GET", self.url, headers=self.headers, timeout=httpx.Timeout(5, read=None)) as response:
                self.status = response.status_code
                self.ready.set()
                for chunk in response.iter_text():
                    self.text += chunk
                    if self.stopping.is_set():
                        return
        except httpx.HTTPError:
            pass
        finally:
            self.ready.set()


def test_tenant_b_with_any_role_sees_nothing_of_tenant_a_on_either_api_the_stream_or_the_bus(
    isolated: Isolated,
) -> None:
    run = isolated
    admin_a = headers(A, "admin")
    assert httpx.post(f"{run.api}/v1/drivers/pos/install", headers=admin_a, timeout=10).status_code == 200
    created = httpx.post(f"{run.api}/v1/connections", headers=admin_a, timeout=10,
                         json={"name": A_NAME, "driver": "pos", "settings": {}})
    a_id = created.json()["items"][0]["connection_id"]

    def a_row() -> dict[str, Any] | None:
        response = httpx.get(f"{run.views}/v1/connections/{a_id}", headers=headers(A, "viewer"), timeout=10)
        return response.json() if response.status_code == 200 and response.json()["sync_state"] == "succeeded" else None

    wait_until(a_row, 60, "A's connection synced", run.stack)

    # The live stream: B (each role) and A (control) follow while A's connection changes.
    taps = {(t, r): StreamTap(f"{run.views}/v1/stream", t, r) for t, r in [(B, r) for r in ROLES] + [(A, "viewer")]}
    for tap in taps.values():
        tap.start()
        assert tap.ready.wait(10) and tap.status == 200
    wait_until(lambda: all("ready" in tap.text for tap in taps.values()), 10, "streams ready", run.stack)
    for verb in ("sync", "disable", "enable"):
        assert httpx.post(f"{run.api}/v1/connections/{verb}", headers=admin_a, json={"connection_ids": [a_id]},
                          timeout=10).status_code == 200
    wait_until(lambda: taps[(A, "viewer")].text.count(a_id) >= 3, 30, "A's own stream saw its changes", run.stack)

    leaks: list[str] = []
    checked: set[str] = set()

    def check(where: str, text: str, allow_id: bool = False) -> None:
        if A_NAME in text or (not allow_id and a_id in text):
            leaks.append(f"{where}: {text[:300]}")

    # Every endpoint of both APIs, from their own OpenAPI documents.
    for base in (run.api, run.views):
        document = httpx.get(f"{base}/openapi.json", timeout=10).json()
        for path, operations in document["paths"].items():
            for method in operations:
                url = base + path.format(connection_id=a_id, view="connection_list", sync_id=1, driver="pos",
                                         message="CreateConnection.v1.json")
                body = ({"connection_ids": [a_id]} if path.endswith(("/sync", "/disable", "/enable", "/delete"))
                        else {"name": "from B"} if method == "patch"
                        else {"connection_id": a_id, "name": "from B", "driver": "pos"} if path == "/v1/connections"
                        else None)
                if path == "/v1/stream":
                    continue  # followed above
                anonymous = httpx.request(method, url, json=body, timeout=10)
                if path not in PUBLIC:
                    assert anonymous.status_code == 401, (method, path, anonymous.status_code)
                for role in ROLES:
                    response = httpx.request(method, url, json=body, headers=headers(B, role), timeout=10)
                    where = f"{role} {method.upper()} {path} -> {response.status_code}"
                    checked.add(f"{base} {method} {path}")
                    assert response.status_code < 500, where
                    # A 404 or a refused item may name the id the caller sent; never anything else of A.
                    check(where, response.text, allow_id=response.status_code in (403, 404, 409))
                    if response.status_code == 200 and "{connection_id}" in path:
                        leaks.append(f"{where}: answered 200 for another tenant's connection")

    # The bus: senders bound to tenant B, acting for B, or pretending to act for A.
    a_uuid = uuid.UUID(a_id)
    for role in ROLES:
        for command in (cmd.EditConnection(connection_id=a_uuid, name="from B"),
                        cmd.RequestSync(connection_ids=[a_uuid]), cmd.DisableConnections(connection_ids=[a_uuid]),
                        cmd.DeleteConnections(connection_ids=[a_uuid])):
            as_b = run.over_bus(f"svc-{B}-{role}", B, command)
            assert not as_b["accepted"] and as_b["reason_code"] in ("forbidden", "not_found"), as_b
            as_a = run.over_bus(f"svc-{B}-{role}", A, command)
            assert (as_a["accepted"], as_a["reason_code"]) == (False, "forbidden"), as_a
            check(f"bus {role} {command.message_type}", json.dumps([as_b, as_a]), allow_id=True)

    for (tenant, role), tap in taps.items():
        tap.stopping.set()
        if tenant == B:
            check(f"stream of {B} as {role}", tap.text)
            assert "ready" in tap.text
    row = httpx.get(f"{run.views}/v1/connections/{a_id}", headers=headers(A, "viewer"), timeout=10).json()
    assert (row["name"], row["status"]) == (A_NAME, "active")  # B changed nothing of A's
    assert len(checked) >= 25, sorted(checked)  # both APIs' endpoints, each with every role of tenant B
    assert leaks == []
