"""The local stack: Kafka broker + every process of the service, started as a user would start them.

``connections up`` (and ``make up``) runs it in the foreground; the end-to-end tests use :class:`Stack` to
start, kill and restart single processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.local_kafka import LocalKafka
from shared.runtime import all_topics, ensure_topics
from shared.settings import Settings

PROCESSES: dict[str, list[str]] = {
    "service": ["serve"],
    "relay": ["relay"],
    "projections": ["projections"],
    "worker-pos": ["worker", "--driver", "pos"],
}


@dataclass
class Stack:
    """Processes of the service sharing one environment (``OMNI_*`` variables)."""

    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=lambda: dict(PROCESSES))
    process_env: dict[str, dict[str, str]] = field(default_factory=dict)  # one process's own variables

    def start(self, name: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "services.cli", *self.commands[name]],
            env={**os.environ, **self.env, **self.process_env.get(name, {})}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def start_all(self) -> None:
        for name in self.commands:
            self.start(name)

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash would."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def stop(self, name: str, timeout: float = 15) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"process {name} exited with {process.returncode}:\n{tail}")

    def wait_http(self, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{url} did not answer within {timeout} s")


def stack_env(settings: Settings) -> dict[str, str]:
    env = {
        "OMNI_DATA_DIR": str(settings.data_dir.resolve()),
        "OMNI_STORE": settings.store.value,
        "OMNI_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "OMNI_KAFKA_NAMESPACE": settings.kafka_namespace,
        "OMNI_HTTP_HOST": settings.http_host,
        "OMNI_HTTP_PORT": str(settings.http_port),
        "OMNI_QUERY_PORT": str(settings.query_port),
        "OMNI_LOG_JSON": "true",
    }
    if settings.database_url:
        env["OMNI_DATABASE_URL"] = settings.database_url
    return env


def metrics_ports(first: int, names: list[str] | None = None) -> dict[str, dict[str, str]]:
    """``OMNI_METRICS_PORT`` for each process without an HTTP API (those serve ``/metrics`` on their own port)."""
    own = [n for n in (names or list(PROCESSES)) if n not in ("service", "projections")]
    return {name: {"OMNI_METRICS_PORT": str(first + i)} for i, name in enumerate(own)}


def run_up(settings: Settings) -> int:
    """Start everything on the embedded defaults, install the POS driver for the demo tenant, wait for Ctrl-C."""
    data_dir = settings.data_dir.resolve()
    port = int(settings.kafka_bootstrap.rsplit(":", 1)[1])
    kafka = LocalKafka(data_dir / "kafka", port=port, partitions=settings.kafka_partitions)
    print(f"starting Kafka on {settings.kafka_bootstrap} (first start assembles the jars from Maven Central)...")
    kafka.start()
    stack = Stack(stack_env(settings), data_dir / "logs", process_env=metrics_ports(settings.metrics_port or 9100))
    stack.commands["integrity"] = ["audit", "chain", "--follow"]  # seals the history for `audit verify`
    try:
        asyncio.run(ensure_topics(settings.kafka_bootstrap, all_topics(settings.kafka_namespace), settings.kafka_partitions,
                                  settings.kafka_replication))
        stack.start_all()
        api = f"http://{settings.http_host}:{settings.http_port}"
        views = f"http://{settings.http_host}:{settings.query_port}"
        stack.wait_http(f"{api}/health/live")
        stack.wait_http(f"{views}/health/live")
        token = next(iter(settings.api_tokens))
        httpx.post(f"{api}/v1/drivers/pos/install", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        print(f"\nOmni-Channel Connections is up.\n  dashboard:    {views}/  (sign in with the token below)\n"
              f"  commands API: {api}/docs\n  views API:    {views}/docs\n"
              f"  token:        Authorization: Bearer {token}  (development token; tenant 'demo')\n"
              f"  logs:         {data_dir / 'logs'}\nPress Ctrl-C to stop.")
        if settings.using_dev_keys:
            print("warning: development keys in use; set OMNI_MASTER_KEYS and OMNI_WORKER_KEY in production")
        stopping = False

        def request_stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        while not stopping:
            stack.check_alive()
            time.sleep(0.5)
    finally:
        stack.stop_all()
        kafka.stop()
    return 0
