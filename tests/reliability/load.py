"""A small, bounded load generator: a steady mix of commands from several tenants, over HTTP and the bus.

Every command it sends is logged with its id, channel and the answer it got, so the invariant checker can hold
the store to account for each one. It behaves as a well-mannered client: an HTTP command whose answer got lost
(connection reset, 5xx while a process restarts) is sent again with the same ``Idempotency-Key`` for a bounded
time; a bus command keeps its ``message_id``. The mix names connections the generator created itself, guessing
their state, so some commands are refused by the rules (disable twice, delete an active one): refusals are part
of what the checker verifies.

All traffic goes to the stack on loopback; the rate, the concurrency and the run time are bounded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import commands as cmd
from contracts import topics
from contracts.registry import encode
from shared.sealed_credentials import seal_credentials
from tests.reliability.harness import BUS_ACTOR, TENANTS, ReliabilityStack, token_of

HTTP_RETRY_SECONDS = 60.0
"""How long a client keeps re-sending one HTTP command (same key) while the service is away."""
BUS_SEND_SECONDS = 5.0


@dataclass
class Sent:
    """One command and what became of it. ``result`` is the CommandResult as JSON, when an answer came."""

    command_id: str
    tenant: str
    channel: str  # "http" or "bus"
    command_type: str
    connection_ids: list[str]
    sent_at: float
    delivered: bool = False  # http: an answer came; bus: the broker acknowledged the message
    result: dict[str, Any] | None = None
    http_status: int | None = None
    attempts: int = 0
    answered_at: float | None = None

    @property
    def accepted(self) -> bool | None:
        return None if self.result is None else bool(self.result.get("accepted"))


@dataclass
class LoadLog:
    """Everything the generator sent, plus the errors it met on the way (counted, not raised)."""

    sent: list[Sent] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # ticks dropped because too many commands were still waiting for an answer
    started_at: float = 0.0
    stopped_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sent: Sent) -> None:
        with self.lock:
            self.sent.append(sent)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] += 1

    def figures(self) -> dict[str, Any]:
        answered = [s for s in self.sent if s.result is not None]
        seconds = max(self.stopped_at - self.started_at, 1e-9)
        return {
            "commands_sent": len(self.sent),
            "commands_accepted": sum(1 for s in answered if s.accepted),
            "commands_rejected": sum(1 for s in answered if not s.accepted),
            "commands_unanswered": len(self.sent) - len(answered),
            "commands_over_http": sum(1 for s in self.sent if s.channel == "http"),
            "commands_over_bus": sum(1 for s in self.sent if s.channel == "bus"),
            "client_errors": dict(self.errors),
            "ticks_skipped": self.skipped,
            "load_seconds": round(seconds, 1),
            "commands_per_second": round(len(self.sent) / seconds, 2),
        }


@dataclass
class _Known:
    """The generator's guess of a connection's state (it may be wrong; the service decides)."""

    connection_id: str
    driver: str
    active: bool = True
    gone: bool = False


class Load:
    """Sends commands at ``rate`` per second from a background thread until :meth:`stop`.

    ``bus_share`` of the commands go over ``connections.commands.v1``, the rest over HTTP; ``shop_share`` of
    the creates are Shopware 6 connections whose secret is the run's marker (sealed on the bus).
    """

    def __init__(self, stack: ReliabilityStack, rate: float = 8.0, *, tenants: tuple[str, ...] = TENANTS,
                 bus_share: float = 0.4, shop_share: float = 0.15, concurrency: int = 24, seed: int = 9,
                 log: LoadLog | None = None) -> None:
        self.stack = stack
        self.rate = rate
        self.tenants = tenants
        self.bus_share = bus_share
        self.shop_share = shop_share
        self.log = log or LoadLog()
        self._random = random.Random(seed)
        self._known: dict[str, list[_Known]] = {t: [] for t in tenants}
        self._slots = asyncio.Semaphore(concurrency)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="reliability-load", daemon=True)
        self._running = False
        self._ticker: concurrent.futures.Future[None] | None = None
        self._inflight: set[asyncio.Task[Sent]] = set()
        self._producer: AIOKafkaProducer | None = None
        self._http: httpx.AsyncClient | None = None
        self._command_key: str | None = None
        self._thread.start()
        self._run(self._open())

    # ----- life cycle -----------------------------------------------------------------------------------------

    def _run(self, coroutine: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _open(self) -> None:
        self._http = httpx.AsyncClient(timeout=10)
        # request_timeout bounds each attempt; delivery_timeout bounds how long an unsent message may linger
        # in the producer while the broker is away (it is then reported failed, never silently sent later).
        self._producer = AIOKafkaProducer(bootstrap_servers=self.stack.bootstrap, acks="all",
                                          enable_idempotence=True, request_timeout_ms=4000)
        await self._producer.start()

    def start(self) -> Load:
        """Start the steady mix (the service must answer now: the mix needs its public command key)."""
        self._key()
        self.log.started_at = time.time()
        self._running = True
        self._ticker = asyncio.run_coroutine_threadsafe(self._tick(), self._loop)
        return self

    def stop(self, drain_seconds: float = HTTP_RETRY_SECONDS + 10) -> LoadLog:
        """Stop sending new commands and wait (bounded) for the ones still waiting for an answer."""
        self._running = False
        if self._ticker is not None:
            self._ticker.result(10)
        self._run(self._drain(), drain_seconds + 5)
        self.log.stopped_at = time.time()
        return self.log

    def close(self) -> None:
        async def shut() -> None:
            if self._producer is not None:
                await self._producer.stop()
            if self._http is not None:
                await self._http.aclose()

        try:
            self._run(shut(), 30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _drain(self) -> None:
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=HTTP_RETRY_SECONDS + 10)

    async def _tick(self) -> None:
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while self._running:
            next_at += interval
            if self._slots.locked():
                self.log.skipped += 1
            else:
                tenant = self._random.choice(self.tenants)
                channel = "bus" if self._random.random() < self.bus_share else "http"
                try:
                    command = self._next_command(tenant, channel)
                except httpx.HTTPError as error:  # the service is away: this tick's command is not sent
                    self.log.error(f"compose_{type(error).__name__}")
                else:
                    self._spawn(tenant, command, channel)
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def _spawn(self, tenant: str, command: cmd.Message, channel: str) -> asyncio.Task[Sent]:
        task = asyncio.ensure_future(self._send(tenant, command, channel))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return task

    # ----- one command on demand (from the test's thread) ----------------------------------------------------

    def call(self, tenant: str, command: cmd.Message, channel: str = "http", command_id: str | None = None) -> Sent:
        """Send one command now and return what became of it (bus: delivered, the result comes later)."""
        return self._run(self._send(tenant, command, channel, command_id, queued=False), HTTP_RETRY_SECONDS + 15)

    def adopt(self, tenant: str, connection_id: str, driver: str) -> None:
        """Let the steady mix use a connection the scenario created itself."""
        self._known[tenant].append(_Known(connection_id, driver))

    # ----- the mix --------------------------------------------------------------------------------------------

    def _next_command(self, tenant: str, channel: str) -> cmd.Message:
        known = [k for k in self._known[tenant] if not k.gone]
        roll = self._random.random()
        if not known or roll < 0.28:
            return self._create(tenant, channel)
        target = self._random.choice(known)
        connection_id = uuid.UUID(target.connection_id)
        if roll < 0.48:
            return cmd.RequestSync(connection_ids=[connection_id])
        if roll < 0.58:
            return cmd.EditConnection(connection_id=connection_id, name=f"renamed {self._random.randrange(10**6)}")
        if roll < 0.70:
            target.active = False
            return cmd.DisableConnections(connection_ids=[connection_id])
        if roll < 0.80:
            target.active = True
            return cmd.EnableConnections(connection_ids=[connection_id])
        if roll < 0.93:
            inactive = [k for k in known if not k.active] or [target]
            chosen = self._random.choice(inactive)
            chosen.gone = not chosen.active
            return cmd.DeleteConnections(connection_ids=[uuid.UUID(chosen.connection_id)])
        # Bound to be refused: a connection nobody has, or a driver the tenant did not install.
        if self._random.random() < 0.5:
            return cmd.RequestSync(connection_ids=[uuid.uuid4()])
        return cmd.CreateConnection(name="not installed", driver="magento2")

    def _create(self, tenant: str, channel: str) -> cmd.Message:
        connection_id = uuid.uuid4()
        shop = self._random.random() < self.shop_share
        self._known[tenant].append(_Known(str(connection_id), "shopware6" if shop else "pos"))
        name = f"{'shop' if shop else 'till'} {self._random.randrange(10**6)}"
        if not shop:
            return cmd.CreateConnection(connection_id=connection_id, name=name, driver="pos")
        credentials = self.stack.shop_credentials()
        if channel == "http":
            return cmd.CreateConnection(connection_id=connection_id, name=name, driver="shopware6",
                                        credentials=credentials)
        # On the bus secrets travel sealed to the service's command key, never in plaintext.
        return cmd.CreateConnection(connection_id=connection_id, name=name, driver="shopware6",
                                    sealed_credentials=seal_credentials(self._key(), credentials, tenant))

    def _key(self) -> str:
        if self._command_key is None:
            described = httpx.get(f"{self.stack.api}/v1/contracts/command-key", timeout=10).json()
            self._command_key = str(described["public_key"])
        return self._command_key

    # ----- sending --------------------------------------------------------------------------------------------

    async def _send(self, tenant: str, command: cmd.Message, channel: str, command_id: str | None = None,
                    queued: bool = True) -> Sent:
        """Send one command; ``queued`` ones wait for one of the mix's slots, a scenario's own calls do not."""
        if queued:
            async with self._slots:
                return await self._send(tenant, command, channel, command_id, queued=False)
        sent = Sent(command_id or str(uuid.uuid4()), tenant, channel, command.message_type,
                    _connection_ids(command), time.time())
        self.log.add(sent)
        if channel == "bus":
            await self._send_bus(sent, command)
        else:
            await self._send_http(sent, command)
        return sent

    async def _send_bus(self, sent: Sent, command: cmd.Message) -> None:
        assert self._producer is not None
        envelope = encode({"tenant_id": sent.tenant, "actor": BUS_ACTOR, "message_id": sent.command_id}, command)
        key = (sent.connection_ids[0] if sent.connection_ids else sent.tenant).encode()
        sent.attempts = 1
        try:
            await asyncio.wait_for(self._producer.send_and_wait(
                self.stack.topic(topics.COMMANDS), envelope.model_dump_json().encode(), key=key), BUS_SEND_SECONDS)
            sent.delivered = True
        except Exception as error:  # noqa: BLE001 - the broker may be away: counted, and checked as unknown
            self.log.error(f"bus_send_{type(error).__name__}")

    async def _send_http(self, sent: Sent, command: cmd.Message) -> None:
        assert self._http is not None
        method, path, body = _http_request(command)
        headers = {"Authorization": f"Bearer {token_of(sent.tenant)}", "Idempotency-Key": sent.command_id}
        deadline = time.monotonic() + HTTP_RETRY_SECONDS
        while True:
            sent.attempts += 1
            try:
                response = await self._http.request(method, f"{self.stack.api}{path}", json=body, headers=headers)
            except httpx.HTTPError as error:
                self.log.error(f"http_{type(error).__name__}")
            else:
                if response.status_code < 500:
                    sent.http_status = response.status_code
                    sent.delivered = True
                    sent.answered_at = time.time()
                    answer = response.json()
                    # A refusal before the command ran (validation, auth) is no CommandResult: rejected, no effects.
                    sent.result = answer if "accepted" in answer else {"accepted": False, "items": [],
                                                                      "reason_code": answer.get("reason_code")}
                    return
                self.log.error(f"http_{response.status_code}")
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.5)

    # ----- results of bus commands ----------------------------------------------------------------------------

    def collect_results(self, timeout: float = 60) -> dict[str, list[dict[str, Any]]]:
        """Read the results topic until every delivered bus command has its answer (or the timeout).

        Returns every result per command id: a repeated command may be answered more than once, always alike.
        """
        return self._run(self._collect(timeout), timeout + 30)

    async def _collect(self, timeout: float) -> dict[str, list[dict[str, Any]]]:
        bus = [s for s in self.log.sent if s.channel == "bus"]
        wanted = {s.command_id: s for s in bus}  # one command may have been sent several times
        results: dict[str, list[dict[str, Any]]] = {}
        consumer = AIOKafkaConsumer(self.stack.topic(topics.COMMAND_RESULTS), bootstrap_servers=self.stack.bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
        await consumer.start()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        payload = json.loads(record.value)["payload"]
                        results.setdefault(str(payload["command_id"]), []).append(payload)
                missing = [i for i, s in wanted.items() if s.delivered and i not in results]
                if not missing and not batch:
                    break
        finally:
            await consumer.stop()
        for sent in bus:
            if sent.command_id in results:
                sent.result = results[sent.command_id][0]
                sent.delivered = True
        return results


def _connection_ids(command: cmd.Message) -> list[str]:
    ids = getattr(command, "connection_ids", None)
    if ids is not None:
        return [str(i) for i in ids]
    single = getattr(command, "connection_id", None)
    return [str(single)] if single is not None else []


def _http_request(command: cmd.Message) -> tuple[str, str, Any]:
    """The HTTP call the commands API offers for ``command``."""
    if isinstance(command, cmd.CreateConnection):
        return "POST", "/v1/connections", command.model_dump(mode="json", exclude_none=True)
    if isinstance(command, cmd.EditConnection):
        body = command.model_dump(mode="json", exclude_none=True, exclude={"connection_id"})
        return "PATCH", f"/v1/connections/{command.connection_id}", body
    verbs: dict[type[cmd.Message], str] = {cmd.RequestSync: "sync", cmd.DisableConnections: "disable",
                                           cmd.EnableConnections: "enable", cmd.DeleteConnections: "delete"}
    if type(command) in verbs:
        return "POST", f"/v1/connections/{verbs[type(command)]}", {
            "connection_ids": [str(i) for i in command.connection_ids]}  # type: ignore[attr-defined]
    if isinstance(command, cmd.InstallDriver):
        return "POST", f"/v1/drivers/{command.driver}/install", None
    raise TypeError(f"no HTTP route for {command.message_type}")

