"""The canary: connections whose secrets are unique marker strings go through the whole flow (check, sync,
edit with a new secret, disable, delete, audit tools, view rebuilds) over HTTP and over the bus; then every
byte the system wrote is scanned: store files or tables (events, keys, views, positions), every Kafka topic of
the run's namespace, every process log, every HTTP answer, CLI output. The markers appear nowhere, neither
in plaintext nor hex nor base64."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contracts import commands as cmd
from contracts import topics
from contracts.registry import decode, encode
from shared.sealed_credentials import seal_credentials
from tests.fakes.server import BackgroundServer
from tests.fakes.shopware6 import CLIENT_ID, FakeShopware6
from tests.security.scanning import find, scan_files, scan_kafka, scan_postgres
from tests.support.kafka_io import produce, read_until
from tests.support.stack import TENANT, RunningStack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


@pytest.fixture
def shopware() -> Iterator[tuple[FakeShopware6, str]]:
    fake = FakeShopware6()
    server = BackgroundServer(fake.app)
    url = server.start()
    try:
        yield fake, url
    finally:
        server.stop()


class Recorded:
    """Every HTTP answer and CLI output of the run, kept for the scan."""

    def __init__(self, stack: RunningStack) -> None:
        self.stack = stack
        self.answers: list[bytes] = []

    def http(self, method: str, url: str, body: Any = None) -> httpx.Response:
        response = httpx.request(method, url, json=body, headers=self.stack.headers, timeout=15)
        self.answers.append(response.content + str(response.headers).encode())
        return response

    def command(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.http(method, f"{self.stack.api}{path}", body)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def row(self, connection_id: str) -> dict[str, Any] | None:
        response = self.http("GET", f"{self.stack.views}/v1/connections/{connection_id}")
        return response.json() if response.status_code == 200 else None

    def row_where(self, connection_id: str, **wanted: Any) -> dict[str, Any]:
        def matches() -> dict[str, Any] | None:
            row = self.row(connection_id)
            return row if row and all(row.get(k) == v for k, v in wanted.items()) else None

        return wait_until(matches, 60, f"{connection_id} with {wanted}", self.stack.stack)  # type: ignore[no-any-return]

    def synced_after(self, connection_id: str, previous_sync: str | None) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            row = self.row(connection_id)
            ok = row and row["sync_job_id"] != previous_sync and row["sync_state"] == "succeeded"
            return row if ok and row["credential_state"] == "verified" else None

        return wait_until(done, 60, f"{connection_id} synced again", self.stack.stack)  # type: ignore[no-any-return]

    def over_bus(self, command: cmd.Message) -> dict[str, Any]:
        envelope = encode({"tenant_id": TENANT, "actor": "platform-service"}, command)
        asyncio.run(produce(self.stack.bootstrap, self.stack.topic(topics.COMMANDS),
                            envelope.model_dump_json().encode(), key=TENANT.encode()))
        wanted = str(envelope.message_id).encode()
        records = asyncio.run(read_until(self.stack.bootstrap, self.stack.topic(topics.COMMAND_RESULTS),
                                         lambda rs: any(r.key == wanted for r in rs)))
        _, result = decode(next(r for r in records if r.key == wanted).value)
        return result.model_dump(mode="json")

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "services.cli", *args], capture_output=True, timeout=120,
                              env={**os.environ, **self.stack.env}, check=False)
        self.answers.append(done.stdout + done.stderr)
        assert done.returncode == 0, (args, done.stdout.decode()[-2000:], done.stderr.decode()[-2000:])
        return done.stdout.decode()


def test_no_secret_marker_appears_in_anything_the_system_wrote(
    running_stack: RunningStack, shopware: tuple[FakeShopware6, str]
) -> None:
    stack = running_stack
    fake, shop_url = shopware
    markers = {name: f"cnry{name}{uuid.uuid4().hex}" for name in ("http", "bus", "httpedit", "busedit")}
    fake.client_secrets |= set(markers.values())
    stack.stack.commands["worker-shopware6"] = ["worker", "--driver", "shopware6"]
    stack.stack.start("worker-shopware6")
    run = Recorded(stack)
    run.command("POST", "/v1/drivers/shopware6/install")
    form = {"url": shop_url, "access_key_id": CLIENT_ID}

    # Create: over HTTP with the secret in the form, over the bus sealed to the command key.
    over_http = run.command("POST", "/v1/connections", {"name": "Canary HTTP", "driver": "shopware6",
                                                        "credentials": {**form, "secret_access_key": markers["http"]}})
    http_id = over_http["items"][0]["connection_id"]
    public_key = run.command("GET", "/v1/contracts/command-key")["public_key"]
    sealed = seal_credentials(public_key, {"secret_access_key": markers["bus"]}, TENANT)
    over_bus = run.over_bus(cmd.CreateConnection(name="Canary bus", driver="shopware6", credentials=form,
                                                 sealed_credentials=sealed))
    assert over_bus["accepted"], over_bus
    bus_id = over_bus["items"][0]["connection_id"]
    rows = {cid: run.row_where(cid, sync_state="succeeded", credential_state="verified") for cid in (http_id, bus_id)}
    # Control: a sender that puts a secret on the bus in plaintext is refused; its command stays in the commands
    # topic (the sender must rotate that secret), and the scan below must find it there and only there.
    control = f"cnrycontrol{uuid.uuid4().hex}"
    refused = run.over_bus(cmd.CreateConnection(name="Careless", driver="shopware6",
                                                credentials={**form, "secret_access_key": control}))
    assert (refused["accepted"], refused["reason_code"]) == (False, "plaintext_secret_on_bus")

    # Edit with a new secret (checked, then synced), synchronize, disable, delete (clean-up at the shop).
    run.command("PATCH", f"/v1/connections/{http_id}", {"credentials": {"secret_access_key": markers["httpedit"]}})
    sealed_edit = seal_credentials(public_key, {"secret_access_key": markers["busedit"]}, TENANT)
    assert run.over_bus(cmd.EditConnection(connection_id=uuid.UUID(bus_id), sealed_credentials=sealed_edit))["accepted"]
    for cid in (http_id, bus_id):
        rows[cid] = run.synced_after(cid, rows[cid]["sync_job_id"])
    fake.client_secrets -= {markers["http"], markers["bus"]}  # only the new secrets work from now on
    synced = run.command("POST", "/v1/connections/sync", {"connection_ids": [http_id, bus_id]})
    for item in synced["items"]:
        run.row_where(item["connection_id"], sync_job_id=item["job_id"], sync_state="succeeded")
    run.command("POST", "/v1/connections/disable", {"connection_ids": [http_id, bus_id]})
    run.command("POST", "/v1/connections/delete", {"connection_ids": [http_id]})
    assert run.over_bus(cmd.DeleteConnections(connection_ids=[uuid.UUID(bus_id)]))["accepted"]
    for cid in (http_id, bus_id):
        wait_until(lambda cid=cid: run.row(cid) is None, 60, f"{cid} deleted", stack.stack)
    assert fake.count("/api/oauth/token") >= 4  # each new secret was presented to the shop

    # The audit tools over the shredded history; every view rebuilt from the store.
    for cid in (http_id, bus_id):
        state = run.cli("audit", "state", cid, "--version", "1")
        assert "(erased)" in state, state
        assert "Canary" in run.cli("audit", "history", "--connection", cid)
    run.cli("audit", "verify")
    for view in ("connection_list", "connection_status", "processes", "data_model", "audit"):
        run.cli("audit", "rebuild", view)
    run.cli("keys", "status")
    stack.stack.stop_all()  # every log line written

    secrets = list(markers.values())
    leaks, files = scan_files(stack.data_dir, secrets)
    logs, log_files = scan_files(stack.stack.log_dir, secrets)
    kafka, topic_counts = scan_kafka(stack.bootstrap, stack.namespace, secrets)
    answers = find(b"\n".join(run.answers), secrets, "HTTP answers and CLI output")
    tables: list[str] = []
    if stack.env["OMNI_STORE"] == "postgres":
        tables, table_count = scan_postgres(stack.env["OMNI_DATABASE_URL"], secrets)
        assert table_count >= 5
    # The scan saw what it should: store files or tables, logs of every process, the topics with records.
    assert files >= (0 if stack.env["OMNI_STORE"] == "postgres" else 4) and log_files >= 5
    assert topic_counts[stack.topic(topics.COMMANDS)] == 4 and topic_counts[stack.topic(topics.EVENTS)] > 10
    assert sum(len(a) for a in run.answers) > 10_000
    assert leaks + logs + kafka + answers + tables == []
    everywhere = (scan_files(stack.data_dir, [control])[0] + scan_files(stack.stack.log_dir, [control])[0]
                  + scan_kafka(stack.bootstrap, stack.namespace, [control])[0]
                  + find(b"\n".join(run.answers), [control], "answers"))
    if stack.env["OMNI_STORE"] == "postgres":
        everywhere += scan_postgres(stack.env["OMNI_DATABASE_URL"], [control])[0]
    assert everywhere == [f"{control} as plaintext in topic {stack.topic(topics.COMMANDS)}"]
