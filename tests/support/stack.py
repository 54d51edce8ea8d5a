"""The service's processes started as a user starts them, on the session's Kafka broker.

Each stack gets its own Kafka namespace (topic and group prefix), data folder and ports, so stacks of
different tests never see each other's messages.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.launcher import Stack
from shared.local_kafka import LocalKafka
from shared.ports import free_port
from shared.runtime import all_topics, ensure_topics

TOKEN = "e2e-admin-token"
TENANT = "tenant-e2e"
BUS_ACTORS = ("platform-test", "platform-service", "example-platform-client")  # bus senders of the e2e tests, admins


@dataclass
class RunningStack:
    stack: Stack
    env: dict[str, str]
    api: str
    views: str
    bootstrap: str
    namespace: str
    data_dir: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def post(self, path: str, body: Any = None, **headers: str) -> httpx.Response:
        return httpx.post(f"{self.api}{path}", json=body, headers={**self.headers, **headers}, timeout=15)

    def get_view(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.views}{path}", params=params, headers=self.headers, timeout=15)

    def topic(self, name: str) -> str:
        return self.namespace + name

    def list_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = self.get_view("/v1/connections", **params).json()
            rows += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return rows


def wait_until(check: Callable[[], Any], timeout: float = 30, what: str = "condition",
               stack: Stack | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack is not None:
            stack.check_alive()
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout} s")


def stack_env(store: str, data_dir: Path, bootstrap: str, namespace: str, dsn: str | None) -> dict[str, str]:
    env = {
        "OMNI_DATA_DIR": str(data_dir),
        "OMNI_STORE": store,
        "OMNI_KAFKA_BOOTSTRAP": bootstrap,
        "OMNI_KAFKA_NAMESPACE": namespace,
        "OMNI_HTTP_HOST": "127.0.0.1",
        "OMNI_HTTP_PORT": str(free_port()),
        "OMNI_QUERY_PORT": str(free_port()),
        "OMNI_LOG_JSON": "true",
        "OMNI_METRICS_INTERVAL": "0.5",
        "OMNI_API_TOKENS": '{"%s": {"tenant": "%s", "roles": ["admin"], "actor": "e2e"}}' % (TOKEN, TENANT),
        "OMNI_BUS_ACTORS": json.dumps({actor: {"roles": ["admin"]} for actor in BUS_ACTORS}),
    }
    if dsn:
        env["OMNI_DATABASE_URL"] = dsn
    return env


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def running_stack(request: pytest.FixtureRequest, kafka_broker: LocalKafka, tmp_path: Path) -> Iterator[RunningStack]:
    """The write side, relay, projections and the POS worker, on SQLite or PostgreSQL."""
    store = request.param
    dsn = request.getfixturevalue("postgres_dsn") if store == "postgres" else None
    namespace = f"t{uuid.uuid4().hex[:8]}."
    env = stack_env(store, tmp_path / "data", kafka_broker.bootstrap, namespace, dsn)
    asyncio.run(ensure_topics(kafka_broker.bootstrap, all_topics(namespace), 3, 1))
    stack = Stack(env, tmp_path / "logs", process_env={  # /metrics of the processes without an HTTP API
        name: {"OMNI_METRICS_PORT": str(free_port())} for name in ("relay", "worker-pos")})
    running = RunningStack(stack, env, f"http://127.0.0.1:{env['OMNI_HTTP_PORT']}",
                           f"http://127.0.0.1:{env['OMNI_QUERY_PORT']}", kafka_broker.bootstrap, namespace,
                           tmp_path / "data")
    stack.start_all()
    try:
        stack.wait_http(f"{running.api}/health/live")
        stack.wait_http(f"{running.views}/health/live")
        yield running
    finally:
        stack.stop_all()
