"""The read side through real processes: live stream order, tenant isolation, exactly-once across a crash.

The stack is the one ``make up`` starts (write side, relay, projections, POS worker) on the session's Kafka
broker, on SQLite and on PostgreSQL, with tokens for two tenants.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.projections.adapters import tables, view_state
from services.projections.application import EventStoreReader
from services.projections.rebuild import build, view_digest
from services.projections.views import all_views
from shared.local_kafka import LocalKafka
from shared.runtime import all_topics, ensure_topics
from shared.settings import Settings
from shared.sql import open_database
from tests.fakes.server import BackgroundServer
from tests.fakes.shopware6 import CLIENT_ID, CLIENT_SECRET
from tests.fakes.shopware6 import FakeShopware6 as Shopware6Fake
from tests.support.stack import TENANT, TOKEN, RunningStack, Stack, stack_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

OTHER_TENANT = "tenant-other"
OTHER_TOKEN = "e2e-other-token"


@dataclass
class TwoTenantStack:
    running: RunningStack

    @property
    def other_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {OTHER_TOKEN}"}

    def get_view_as_other(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.running.views}{path}", params=params, headers=self.other_headers, timeout=15)

    def post_as_other(self, path: str, body: Any = None) -> httpx.Response:
        return httpx.post(f"{self.running.api}{path}", json=body, headers=self.other_headers, timeout=15)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request: pytest.FixtureRequest, kafka_broker: LocalKafka, tmp_path: Path) -> Iterator[TwoTenantStack]:
    """Every process of the service, with an admin token for each of two tenants."""
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    namespace = f"t{uuid.uuid4().hex[:8]}."
    env = stack_env(request.param, tmp_path / "data", kafka_broker.bootstrap, namespace, dsn)
    env["OMNI_API_TOKENS"] = json.dumps({
        TOKEN: {"tenant": TENANT, "roles": ["admin", "platform-operator"], "actor": "e2e"},  # rebuilds views too
        OTHER_TOKEN: {"tenant": OTHER_TENANT, "roles": ["admin"], "actor": "other-e2e"},
    })
    asyncio.run(ensure_topics(kafka_broker.bootstrap, all_topics(namespace), 3, 1))
    processes = Stack(env, tmp_path / "logs")
    running = RunningStack(processes, env, f"http://127.0.0.1:{env['OMNI_HTTP_PORT']}",
                           f"http://127.0.0.1:{env['OMNI_QUERY_PORT']}", kafka_broker.bootstrap, namespace,
                           tmp_path / "data")
    processes.start_all()
    try:
        processes.wait_http(f"{running.api}/health/live")
        processes.wait_http(f"{running.views}/health/live")
        yield TwoTenantStack(running)
    finally:
        processes.stop_all()


class EventStream:
    """A live-updates subscription read in a background thread: (event, data) pairs in arrival order."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(5, read=None)) as response:
            assert response.status_code == 200, response.read()
            kind, data = "message", ""
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif not line and data:
                    self.events.put((kind, json.loads(data)))
                    kind, data = "message", ""

    def next(self, timeout: float) -> tuple[str, Any]:
        return self.events.get(timeout=timeout)

    def wait_ready(self) -> None:
        kind, _ = self.next(15)
        assert kind == "ready"

    def drain(self) -> list[tuple[str, Any]]:
        drained = []
        while True:
            try:
                drained.append(self.events.get_nowait())
            except queue.Empty:
                return drained

    def close(self) -> None:
        self._stop.set()


def _created_and_synced(s: RunningStack, name: str, driver: str = "pos",
                        credentials: dict[str, Any] | None = None) -> str:
    response = s.post("/v1/connections", {"name": name, "driver": driver, "credentials": credentials or {}})
    assert response.status_code == 200, response.text
    connection_id: str = response.json()["items"][0]["connection_id"]
    wait_until(lambda: s.get_view(f"/v1/connections/{connection_id}").json().get("sync_state") == "succeeded",
               30, f"{name} synced", s.stack)
    return connection_id


@pytest.fixture
def shopware_stack(stack: TwoTenantStack) -> Iterator[tuple[TwoTenantStack, Shopware6Fake, str]]:
    """The stack plus a Shopware 6 worker and the fake shop it talks to (answers can be slowed down)."""
    fake = Shopware6Fake()
    fake.load_small_model()
    server = BackgroundServer(fake.app)
    url = server.start()
    stack.running.stack.commands["worker-shopware6"] = ["worker", "--driver", "shopware6"]
    stack.running.stack.start("worker-shopware6")
    try:
        yield stack, fake, url
    finally:
        server.stop()


def test_a_dashboard_sees_a_sync_go_from_requested_to_running_with_progress_to_succeeded(
    shopware_stack: tuple[TwoTenantStack, Shopware6Fake, str],
) -> None:
    stack, fake, url = shopware_stack
    s = stack.running
    assert s.post("/v1/drivers/shopware6/install").status_code == 200
    credentials = {"url": url, "access_key_id": CLIENT_ID, "secret_access_key": CLIENT_SECRET}
    connection_id = _created_and_synced(s, "Shop", "shopware6", credentials)
    ours = EventStream(f"{s.views}/v1/stream?views=processes,connection_list", s.headers)
    theirs = EventStream(f"{s.views}/v1/stream", stack.other_headers)
    try:
        ours.wait_ready()
        theirs.wait_ready()
        # Slow pages: the worker reports progress at most every 0.5 s, so the sync must take longer.
        fake.faults.only, fake.faults.hang, fake.faults.hang_seconds = "/api/search", 2, 0.7
        synced = s.post("/v1/connections/sync", {"connection_ids": [connection_id]})
        assert synced.status_code == 200, synced.text
        job_id = synced.json()["items"][0]["job_id"]

        processes: list[dict[str, Any]] = []
        listed: list[str] = []
        deadline = time.monotonic() + 30
        while not processes or processes[-1]["state"] != "succeeded":
            kind, data = ours.next(max(0.1, deadline - time.monotonic()))
            assert kind == "change"
            row = data["row"]
            if data["view"] == "processes" and data["key"] == job_id:
                processes.append(row)
            elif data["view"] == "connection_list" and data["key"] == connection_id and row["sync_job_id"] == job_id:
                listed.append(row["sync_state"])
        states = [p["state"] for p in processes]
        assert states[0] == "requested" and states[-1] == "succeeded"
        assert set(states[1:-1]) == {"running"}, states
        assert any(p["done"] for p in processes[1:-1]), f"no progress was streamed: {processes}"
        assert listed[0] == "requested" and listed[-1] == "succeeded" and "running" in listed
        time.sleep(0.5)
        assert [e for e in theirs.drain() if connection_id in json.dumps(e)] == [], "tenant B saw tenant A's changes"
    finally:
        ours.close()
        theirs.close()


def test_tenants_never_see_each_others_rows_in_any_query_or_stream(stack: TwoTenantStack) -> None:
    s = stack.running
    ours = EventStream(f"{s.views}/v1/stream", s.headers)
    try:
        ours.wait_ready()
        assert stack.post_as_other("/v1/drivers/pos/install").status_code == 200
        created = stack.post_as_other("/v1/connections", {"name": "Their till", "driver": "pos"})
        assert created.status_code == 200, created.text
        theirs = created.json()["items"][0]["connection_id"]
        wait_until(lambda: stack.get_view_as_other(f"/v1/connections/{theirs}").json().get("sync_state")
                   == "succeeded", 30, "their till synced", s.stack)
        for path in ("", "/status", "/data-model", "/data-model/sets", "/data-model/attributes",
                     "/data-model/syncs", "/audit"):
            assert stack.get_view_as_other(f"/v1/connections/{theirs}{path}").status_code == 200
            refused = s.get_view(f"/v1/connections/{theirs}{path}")
            assert refused.status_code == 404 and refused.json()["reason_code"] == "not_found", path
        for path in ("/v1/connections", "/v1/processes", "/v1/audit"):
            assert theirs not in s.get_view(path).text and OTHER_TENANT not in s.get_view(path).text, path
        time.sleep(0.5)
        assert ours.drain() == [], "tenant A's stream carried tenant B's changes"
    finally:
        ours.close()


def _views_database(s: RunningStack) -> Any:
    settings = Settings(data_dir=Path(s.env["OMNI_DATA_DIR"]), store=s.env["OMNI_STORE"],
                        database_url=s.env.get("OMNI_DATABASE_URL"))
    return settings, open_database(settings.sql_url("views"))


def test_killing_the_projections_mid_stream_then_restarting_leaves_every_view_equal_to_a_fresh_rebuild(
    stack: TwoTenantStack, tmp_path: Path,
) -> None:
    s = stack.running
    assert s.post("/v1/drivers/pos/install").status_code == 200
    for i in range(40):
        if i in (8, 24):
            s.stack.kill("projections")  # SIGKILL while events keep coming: mid-batch, most likely
        if i in (16, 32):
            s.stack.start("projections")
        response = s.post("/v1/connections", {"name": f"Till {i:02d}", "driver": "pos"})
        assert response.status_code == 200, response.text
        if i % 4 == 0:
            s.post("/v1/connections/sync", {"connection_ids": [response.json()["items"][0]["connection_id"]]})
    s.stack.wait_http(f"{s.views}/health/live")

    def settled() -> bool:
        rows = s.list_rows()
        ready = httpx.get(f"{s.views}/health/ready", timeout=5).json()
        return (len(rows) == 40 and all(r["sync_state"] == "succeeded" for r in rows)
                and ready.get("lag_events") == 0)

    wait_until(settled, 90, "40 synced rows and no lag", s.stack)
    settings, views = _views_database(s)
    store = EventStoreReader(env=settings.eventsourcing_env())
    try:
        with views.transaction() as tx:
            positions = view_state.positions(tx, [p.name for p in all_views()])
        assert len(set(positions.values())) == 1, positions
        head = next(iter(positions.values()))
        assert head == store.recorder.max_notification_id()
        fresh = open_database(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
        for projection in all_views():
            with fresh.transaction() as tx:
                for spec in projection.tables():
                    tables.create(tx, spec)
            build(store, fresh, projection, up_to=head)
            assert view_digest(views, projection) == view_digest(fresh, projection), projection.name

        # And a rebuild through the admin API, while the service runs, swaps in the same rows.
        for projection in all_views():
            started = httpx.post(f"{s.views}/v1/admin/views/{projection.name}/rebuild", headers=s.headers,
                                 timeout=10)
            assert started.status_code == 202, started.text
            wait_until(lambda name=projection.name: httpx.get(
                f"{s.views}/v1/admin/views/{name}/rebuild", headers=s.headers, timeout=5).json()["state"] == "done",
                60, f"{projection.name} rebuilt", s.stack)
            assert view_digest(views, projection) == view_digest(fresh, projection), projection.name
        fresh.close()
    finally:
        store.close()
        views.close()
