"""The stack a reliability scenario drives: every process as a user starts it, several tenants, a fake shop.

It reuses the launcher's :class:`~services.launcher.Stack` (start, ``kill -9``, restart single processes) and
the e2e environment, and adds what fault scenarios need: tokens for several tenants, a bus actor for the load
generator, a Shopware 6 worker against an in-process fake shop (whose faults make a sync hang mid-flight), and
the figures a scenario reports (recovery times, process memory).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.launcher import Stack
from shared.runtime import all_topics, ensure_topics
from shared.settings import Settings, Store
from tests.fakes.server import BackgroundServer
from tests.fakes.shopware6 import FakeShopware6
from tests.support.stack import stack_env

TENANTS = ("rel-north", "rel-south", "rel-east")
BUS_ACTOR = "reliability-load"
WORKERS = ("pos", "shopware6")


def token_of(tenant: str) -> str:
    return f"reliability-token-{tenant}"


@dataclass
class ReliabilityStack:
    """A running stack plus the handles a scenario needs to hurt it and to check it afterwards."""

    stack: Stack
    env: dict[str, str]
    data_dir: Path
    log_dir: Path
    bootstrap: str
    namespace: str
    shop: FakeShopware6
    shop_url: str
    marker: str
    events: list[dict[str, Any]] = field(default_factory=list)  # what the scenario did, when (for the report)
    restarts: dict[str, int] | None = None  # set while supervised: processes restarted after they exited

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['OMNI_HTTP_PORT']}"

    @property
    def views(self) -> str:
        return f"http://127.0.0.1:{self.env['OMNI_QUERY_PORT']}"

    @property
    def store(self) -> str:
        return self.env["OMNI_STORE"]

    def settings(self) -> Settings:
        """The settings every process of this stack reads (for opening its store and views from the test)."""
        return Settings(data_dir=self.data_dir, store=Store(self.env["OMNI_STORE"]),
                        database_url=self.env.get("OMNI_DATABASE_URL"))

    def topic(self, name: str) -> str:
        return self.namespace + name

    def headers(self, tenant: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_of(tenant)}"}

    def post(self, tenant: str, path: str, body: Any = None, timeout: float = 15) -> httpx.Response:
        return httpx.post(f"{self.api}{path}", json=body, headers=self.headers(tenant), timeout=timeout)

    def view(self, tenant: str, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.views}{path}", params=params, headers=self.headers(tenant), timeout=15)

    def shop_credentials(self) -> dict[str, str]:
        """Valid credentials of the fake shop; the secret is this run's marker, which must never leak."""
        return {"url": self.shop_url, "access_key_id": "SWIAFAKEACCESSKEY", "secret_access_key": self.marker}

    # ----- processes ------------------------------------------------------------------------------------

    def pid(self, name: str) -> int:
        return self.stack.processes[name].pid

    def rss_mib(self) -> dict[str, float]:
        """Resident memory of each running process, from /proc (MiB)."""
        sizes: dict[str, float] = {}
        for name, process in self.stack.processes.items():
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[name] = round(int(line.split()[1]) / 1024, 1)
        return sizes

    def wait_ready(self, timeout: float = 60) -> None:
        self.stack.wait_http(f"{self.api}/health/live", timeout)
        self.stack.wait_http(f"{self.views}/health/live", timeout)

    def note(self, what: str, **details: Any) -> None:
        self.events.append({"at": round(time.time(), 3), "what": what, **details})

    def kill(self, name: str) -> None:
        """``kill -9``: the process gets no chance to flush, commit or say goodbye."""
        self.note("kill -9", process=name)
        self.stack.kill(name)

    def start(self, name: str) -> None:
        self.note("start", process=name)
        self.stack.start(name)

    def check_alive(self) -> None:
        """A process that exited fails the scenario, unless a supervisor restarts it (see :func:`supervised`)."""
        if self.restarts is None:
            self.stack.check_alive()

    def log_text(self) -> bytes:
        return b"".join(p.read_bytes() for p in sorted(self.log_dir.glob("*.log")))

    # ----- set-up ---------------------------------------------------------------------------------------

    def install_drivers(self, drivers: tuple[str, ...] = WORKERS, tenants: tuple[str, ...] = TENANTS) -> None:
        for tenant in tenants:
            for driver in drivers:
                response = self.post(tenant, f"/v1/drivers/{driver}/install")
                assert response.status_code == 200, response.text


def _env(store: str, data_dir: Path, bootstrap: str, namespace: str, dsn: str | None) -> dict[str, str]:
    env = stack_env(store, data_dir, bootstrap, namespace, dsn)
    env["OMNI_API_TOKENS"] = json.dumps(
        {token_of(t): {"tenant": t, "roles": ["admin"], "actor": f"ops-{t}"} for t in TENANTS})
    env["OMNI_BUS_ACTORS"] = json.dumps({BUS_ACTOR: {"roles": ["admin"]}})
    # The watchdog times out a job silent this long. Longer than the 30 s between two recorded heartbeats of a
    # live job (a sync held by the shop), shorter than the default, so a silent job ends within a scenario.
    env["OMNI_JOB_TIMEOUT"] = "45"
    env["OMNI_WATCHDOG_INTERVAL"] = "1"
    return env


@contextmanager
def reliability_stack(tmp_path: Path, bootstrap: str, store: str, dsn: str | None = None,
                      workers: tuple[str, ...] = WORKERS, **settings: str) -> Iterator[ReliabilityStack]:
    """Every process on ``bootstrap`` under a fresh Kafka namespace; stopped (SIGTERM) at the end.

    ``settings`` are more ``OMNI_*`` variables for every process (e.g. ``OMNI_JOB_TIMEOUT="5"``).
    """
    namespace = f"r{uuid.uuid4().hex[:8]}."
    env = {**_env(store, tmp_path / "data", bootstrap, namespace, dsn), **settings}
    asyncio.run(ensure_topics(bootstrap, all_topics(namespace), 3, 1))
    shop = FakeShopware6()
    server = BackgroundServer(shop.app)
    shop_url = server.start()
    stack = Stack(env, tmp_path / "logs")
    stack.commands = {name: command for name, command in stack.commands.items() if not name.startswith("worker-")}
    for driver in workers:
        stack.commands[f"worker-{driver}"] = ["worker", "--driver", driver]
    marker = f"rel-canary-{uuid.uuid4().hex}"
    # The fake shop accepts this run's marker as a secret, so the marker travels every path a real secret does
    # (HTTP in, sealed on the bus, sealed in the store and the job, opened by the worker, sent to the shop).
    shop.client_secrets.add(marker)
    running = ReliabilityStack(stack, env, tmp_path / "data", tmp_path / "logs", bootstrap, namespace, shop,
                               shop_url, marker)
    stack.start_all()
    try:
        running.wait_ready()
        yield running
    finally:
        # SIGKILL, not SIGTERM: everything was checked by now, and a graceful stop of every process costs the
        # suite seconds per scenario.
        for name in list(stack.processes):
            stack.kill(name)
        server.stop()


@contextmanager
def supervised(stack: ReliabilityStack, unresponsive_seconds: float = 20) -> Iterator[dict[str, int]]:
    """Restart any process that exits, or whose HTTP API stops answering, as a process supervisor with a
    liveness probe (systemd, Kubernetes) would; count the restarts.

    For faults of the infrastructure: a process may give up while its database is away, as long as it does its
    work again once restarted. The counts go into the scenario's figures.
    """
    restarts: dict[str, int] = {}
    stack.restarts = restarts
    stop = threading.Event()
    probes = {"service": f"{stack.api}/health/live", "projections": f"{stack.views}/health/live"}
    silent_since: dict[str, float] = {}

    def restart(name: str, why: str) -> None:
        stack.note("restarted by the supervisor", process=name, why=why)
        process = stack.stack.processes.pop(name)
        if process.poll() is None:
            process.kill()
            process.wait()
        stack.stack.start(name)
        restarts[name] = restarts.get(name, 0) + 1
        silent_since.pop(name, None)

    def answers(url: str) -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def watch() -> None:
        while not stop.wait(0.5):
            for name, process in list(stack.stack.processes.items()):
                if process.poll() is not None:
                    restart(name, f"exited with {process.returncode}")
                elif name in probes and not answers(probes[name]):
                    since = silent_since.setdefault(name, time.monotonic())
                    if time.monotonic() - since > unresponsive_seconds:
                        restart(name, f"no answer on /health/live for {unresponsive_seconds:g} s")
                else:
                    silent_since.pop(name, None)

    thread = threading.Thread(target=watch, name="supervisor", daemon=True)
    thread.start()
    try:
        yield restarts
    finally:
        stop.set()
        thread.join(5)
        stack.restarts = None


def measure(check: Callable[[], Any], timeout: float, what: str, stack: ReliabilityStack | None = None,
            interval: float = 0.2) -> tuple[Any, float]:
    """Poll ``check`` until it returns something truthy; returns it and the seconds it took."""
    begun = time.monotonic()
    deadline = begun + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if stack is not None:
            stack.check_alive()
        try:
            result = check()
        except (httpx.HTTPError, OSError) as error:  # the thing being waited for may still be down
            last_error, result = error, None
        if result:
            return result, round(time.monotonic() - begun, 2)
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout} s (last error: {last_error!r})")

