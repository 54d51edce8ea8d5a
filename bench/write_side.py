"""Write-side benchmarks: commands over Kafka (PostgreSQL and SQLite), single commands over HTTP, the relay."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import baselines
from bench.harness import HEADERS, TENANT, Deployment, Infra, create_commands, deployment, produce_and_collect, wait_until
from bench.profiling import Spy
from bench.stats import Goal, Measurement, Spread, percentile
from contracts import topics
from shared.settings import Store


REFERENCE_LIBRARY_RATE = 3_100
"""The library's PostgreSQL speedrun on a quiet 2-core machine (issue 10): one-command transactions/s."""


@dataclass
class Config:
    """How much work each benchmark does; ``quick`` shrinks everything for a smoke run of the harness."""

    repeats: int = 3
    kafka_commands: int = 20_000  # at most: each run stops sending after ``budget`` seconds
    budget: float = 6.0
    # Commands in flight at most (sent, result not yet back). Producers on the platform do not wait for one
    # another's results; the cap only bounds how long a run drains after its budget. At 1,000 (two of the
    # service's polls of 500) the service waited for this client: 1,640 against 1,950 commands/s at 4,000.
    kafka_window: int = 4_000
    http_rate: float = 500.0
    http_seconds: float = 3.0
    relay_connections: int = 10_000  # 40,000 stored events: 20 of the relay's batches, the first one not timed
    profile_seconds: float = 4.0

    @classmethod
    def quick(cls) -> Config:
        return cls(repeats=2, kafka_commands=600, budget=3.0, http_seconds=2.0, relay_connections=500,
                   profile_seconds=3.0)


def _kafka_rates(deployed: Deployment, count: int, repeats: int, between: Callable[[], float] | None = None,
                 budget: float | None = None, meter: CpuMeter | None = None, window: int = 1_000,
                 ) -> tuple[list[float], list[float], list[float]]:
    """``repeats`` runs of ``count`` creates for a fresh tenant each; the anchor measured before each run.

    With ``meter``, the CPU each process spends in each run is recorded in it (per command handled).
    """
    rates, anchors, accepted = [], [], []
    for run in range(repeats):
        if between is not None:
            anchors.append(between())
        tenant = f"w{run}-{uuid.uuid4().hex[:6]}"
        deployed.install(tenant)
        envelopes = create_commands(tenant, count)
        if meter is not None:
            # produce_and_collect encodes every envelope before it starts sending, most of them never sent
            # within the budget: that CPU is measured apart here and taken out of the client's.
            encoding = time.process_time()
            _ = [(str(e.message_id), e.model_dump_json().encode(), e.tenant_id.encode()) for e in envelopes]
            meter.start(client_setup=time.process_time() - encoding)
        collected = asyncio.run(produce_and_collect(deployed, envelopes, budget=budget, window=window))
        if meter is not None:
            meter.stop(len(collected.arrived))
        rates.append(len(collected.arrived) / collected.seconds)
        accepted.append(collected.accepted / max(1, len(collected.arrived)))
    return rates, anchors, accepted


@dataclass
class InProcess:
    """``Connections.execute_batch`` called directly: its rate, its CPU, and where its batches ended in the store."""

    commands_per_second: float
    cpu_us_per_command: float
    batch_ends: list[int]  # the store position of each batch's last event
    first_position: int  # the store position before the first batch
    batch: int  # commands per batch


def _in_process_batches(settings: Any, seconds: float = 3.0) -> InProcess:
    """Creates/s of ``Connections.execute_batch`` called directly, as the bus entrance does (batches of the
    service's ``command_batch_size``)."""
    from contracts.commands import CreateConnection, InstallDriver
    from services.connections.bootstrap import build_write_side
    from services.connections.domain.meta import Meta
    from shared.runtime import freeze_start_up_heap

    write = build_write_side(settings)
    freeze_start_up_heap()  # as the service does once started
    tenant = f"inproc-{uuid.uuid4().hex[:6]}"
    size = settings.command_batch_size
    try:
        write.app.execute(InstallDriver(driver="pos"), uuid.uuid4(), Meta(tenant, "bench", "install"))
        first = write.app.recorder.max_notification_id() or 0
        ends: list[int] = []
        done, started, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - started < seconds:
            results = write.app.execute_batch([(CreateConnection(name=f"in {done + i}", driver="pos"), command_id,
                                                Meta(tenant, "bench", str(command_id), str(command_id)))
                                               for i, command_id in enumerate(uuid.uuid4() for _ in range(size))])
            ends.append(max(r.position or 0 for r in results))
            done += size
        rate = done / (time.perf_counter() - started)
        return InProcess(rate, (time.process_time() - cpu) / done * 1e6, ends, first, size)
    finally:
        write.close()


@dataclass
class LibraryFloor:
    """The library alone storing the events of the in-process run again, one save per batch of creates."""

    events_per_second: float
    cpu_us_per_event: float
    events_per_command: float

    @property
    def commands_per_second(self) -> float:
        """The bound it implies: no create can be stored faster than the library stores its events."""
        return self.events_per_second / self.events_per_command


def _library_floor(infra: Infra, settings: Any, run: InProcess) -> LibraryFloor:
    """eventsourcing's ``Application.save`` of the very events ``run`` stored (read back and decoded), one save
    per batch as ``execute_batch`` made them, into a new database configured as the service's store (the
    library's recorder with its binary insert, shared/postgres_recorder.py): no other code of ours runs while it
    is timed.

    What it leaves out is what the application adds on top: running the commands (loading the tenant,
    validating, sealing, making the events), the undo journal, snapshots, metrics and tracing.
    """
    from eventsourcing.application import Application
    from services.projections.application import EventStoreReader
    from shared.settings import Settings

    reader = EventStoreReader(env=settings.eventsourcing_env())
    try:
        batches, start = [], run.first_position + 1
        for end in run.batch_ends:
            notifications = reader.recorder.select_notifications(start, end - start + 1)
            batches.append([reader.mapper.to_domain_event(n) for n in notifications])
            start = end + 1
    finally:
        reader.close()
    target = Settings(data_dir=settings.data_dir, store=settings.store, database_url=infra.database("floor"))
    env = {k: v for k, v in target.eventsourcing_env().items() if not k.startswith("AGGREGATE_CACHE")}
    app: Application[Any] = Application(env={**env, "CREATE_TABLE": "y"})
    try:
        app.save(*batches[0])  # warms the pool and the statements; not timed
        timed = batches[1:] or batches
        events = sum(len(b) for b in timed)
        started, cpu = time.perf_counter(), time.process_time()
        for batch in timed:
            app.save(*batch)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    finally:
        app.close()
    commands = run.batch * len(run.batch_ends)
    stored = sum(len(b) for b in batches)
    return LibraryFloor(events / seconds, cpu_seconds / events * 1e6, stored / commands)


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pids: Iterable[int]) -> dict[int, int]:
    """User + system CPU ticks of each process (all its threads), from /proc; processes gone are left out."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        found[pid] = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return found


def _tree(root: int | None) -> set[int]:
    """``root`` and all its descendants."""
    if root is None:
        return set()
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in found]
        found.update(children)
        frontier.extend(children)
    return found


def _listening_pid(port: int) -> int | None:
    """The process with a TCP socket listening on ``port`` (the broker when the run reuses one)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # state LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:
            continue
    return None


def _postgres_pids(dsn: str | None) -> set[int]:
    """The server processes of the PostgreSQL cluster (backends and background processes)."""
    if dsn is None:
        return set()
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return {int(row[0]) for row in conn.execute("SELECT pid FROM pg_stat_activity").fetchall()}


def _machine_busy_ticks() -> int:
    """Ticks all CPUs of the machine spent busy (not idle, not waiting for I/O), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]


@dataclass
class CpuMeter:
    """CPU time per command of each process a Kafka run involves, read from /proc before and after each run.

    Groups: the service process, the PostgreSQL server, the Kafka broker, this benchmark process (producing
    the commands and collecting the results) and the rest of the machine (other work sharing the cores).
    What the service, PostgreSQL and Kafka spend with no load (:meth:`idle`, measured once) is taken out of
    each run's figures: the rest is what the commands cost, the idle part is a share of the cores they lose.
    """

    deployed: Deployment
    kafka_pid: int | None
    runs: list[dict[str, float]] = field(default_factory=list)  # microseconds of CPU per command, by group
    idle_cores: dict[str, float] = field(default_factory=dict)  # cores each group keeps busy with no load
    commands_per_save: list[float] = field(default_factory=list)  # commands per batch (transaction), by run

    def _groups(self) -> dict[str, set[int]]:
        return {"service": _tree(self.deployed.pid("service")), "postgres": _postgres_pids(self.deployed.dsn),
                "kafka": _tree(self.kafka_pid)}

    def idle(self, seconds: float = 3.0) -> None:
        before, started = {name: _cpu_ticks(pids) for name, pids in self._groups().items()}, time.perf_counter()
        time.sleep(seconds)
        wall = time.perf_counter() - started
        self.idle_cores = {name: round(used / wall, 4)
                           for name, used in self._used(before).items()}

    def _used(self, before: dict[str, dict[int, int]]) -> dict[str, float]:
        after = {name: _cpu_ticks(pids) for name, pids in self._groups().items()}
        return {name: sum(t - before[name].get(pid, 0) for pid, t in ticks.items()) / _TICKS
                for name, ticks in after.items()}

    def _saves(self) -> float:
        """How many saves (transactions of events) the service made so far, from its ``/metrics``."""
        text = httpx.get(f"{self.deployed.api}/metrics", timeout=10).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("omni_store_save_seconds_count"))

    def start(self, client_setup: float = 0.0) -> None:
        """``client_setup``: CPU seconds this process will spend in the run on work that is not sending or
        collecting (taken out of the client's figure)."""
        self._client_setup = client_setup
        self._saves_before = self._saves()
        self._before = {name: _cpu_ticks(pids) for name, pids in self._groups().items()}
        self._client = sum(os.times()[:2])
        self._machine = _machine_busy_ticks()
        self._started = time.perf_counter()

    def stop(self, commands: int) -> None:
        wall = time.perf_counter() - self._started
        used = self._used(self._before)
        seconds = {name: max(0.0, value - self.idle_cores.get(name, 0.0) * wall) for name, value in used.items()}
        seconds["bench client"] = max(0.0, sum(os.times()[:2]) - self._client - self._client_setup)
        machine = (_machine_busy_ticks() - self._machine) / _TICKS
        seconds["rest of machine"] = max(0.0, machine - sum(used.values()) - seconds["bench client"])
        self.runs.append({name: round(value / max(1, commands) * 1e6, 1) for name, value in seconds.items()})
        self.commands_per_save.append(round(commands / max(1.0, self._saves() - self._saves_before), 1))

    def median(self) -> dict[str, float]:
        return {name: Spread([run[name] for run in self.runs]).median for name in self.runs[0]} if self.runs else {}


def _profile_kafka(deployed: Deployment, infra: Infra, config: Config, name: str) -> list[str]:
    """A shorter extra run with py-spy attached to ``connections serve`` (not counted in the figures)."""
    tenant = f"p-{uuid.uuid4().hex[:6]}"
    deployed.install(tenant)
    spy = Spy(deployed.pid("service"), config.profile_seconds, infra.root / f"{name}.raw")
    asyncio.run(produce_and_collect(deployed, create_commands(tenant, config.kafka_commands),
                                    budget=config.profile_seconds, window=config.kafka_window))
    spy.wait()
    return spy.summary()


def kafka_postgres(infra: Infra, config: Config) -> Measurement:
    """Commands/s over Kafka on PostgreSQL, with the library's one-command-per-transaction rate beside it.

    Beside the rate, what bounds it, measured in the same run: the CPU each process spends per command, the
    application alone (no Kafka), and the library alone storing the same events.
    """
    with deployment(infra, Store.POSTGRES, "wpg") as deployed:
        deployed.start_service()
        anchor_settings = deployed.settings()
        kafka_pid = infra.kafka.pid if infra.kafka is not None else _listening_pid(
            int(infra.bootstrap.rsplit(":", 1)[1]))
        meter = CpuMeter(deployed, kafka_pid)
        meter.idle()
        rates, anchors, accepted = _kafka_rates(
            deployed, config.kafka_commands, config.repeats,
            lambda: baselines.library_transactions_per_second(anchor_settings), config.budget, meter,
            config.kafka_window)
        measurement = Measurement(
            "write_kafka_postgres", "Write path over Kafka, PostgreSQL (CreateConnection)", "commands/s",
            Spread(rates), "eventsourcing one command per transaction (PostgreSQL, one client)", "transactions/s",
            Spread(anchors),
            details={"seconds_of_sending_per_run": config.budget, "accepted_fraction": accepted,
                     "batch_size_setting": 500, "commands_in_flight_at_most": config.kafka_window},
        )
        in_process = _in_process_batches(anchor_settings)
        anchor = baselines.library_transactions_per_second(anchor_settings)
        floor = _library_floor(infra, anchor_settings, in_process)
        measurement.details["application_alone_commands_per_second"] = round(in_process.commands_per_second)
        measurement.details["application_alone_vs_library"] = round(in_process.commands_per_second / anchor, 2)
        measurement.details["application_alone_cpu_us_per_command"] = round(in_process.cpu_us_per_command)
        measurement.details["library_save_events_per_second"] = round(floor.events_per_second)
        measurement.details["library_save_cpu_us_per_event"] = round(floor.cpu_us_per_event, 1)
        measurement.details["events_per_command"] = round(floor.events_per_command, 2)
        measurement.details["library_bound_commands_per_second"] = round(floor.commands_per_second)
        library_cpu = floor.cpu_us_per_event * floor.events_per_command  # us of CPU per command, library alone
        measurement.details["library_cpu_bound_commands_per_second"] = round(1e6 / library_cpu)
        measurement.notes.append(
            f"The application alone (execute_batch of {in_process.batch} creates in this process, no Kafka) stored "
            f"{in_process.commands_per_second:,.0f} commands/s ({in_process.cpu_us_per_command:,.0f} us of CPU per "
            f"command) against the library's {anchor:,.0f} transactions/s measured right after: "
            f"{in_process.commands_per_second / anchor:.2f}x.")
        measurement.notes.append(
            f"The library alone (eventsourcing's Application.save of the same {floor.events_per_command:.2f} events "
            f"per command, read back from that run, one save per batch of {in_process.batch} commands, into a new database) "
            f"stored {floor.events_per_second:,.0f} events/s ({floor.cpu_us_per_event:.0f} us of CPU per event): "
            f"no create can be stored faster than {floor.commands_per_second:,.0f} commands/s here, however little "
            f"the application and Kafka add; and by its CPU ({library_cpu:,.0f} us per command) one interpreter "
            f"cannot store more than {1e6 / library_cpu:,.0f} commands/s, even on an idle core.")
        cpu = meter.median()
        if cpu:
            cores = os.cpu_count() or 1
            idle = sum(meter.idle_cores.values())
            work = sum(v for k, v in cpu.items() if k != "rest of machine")
            server = work - cpu["bench client"]
            measurement.details["cpu_us_per_command"] = cpu
            measurement.details["idle_cores"] = meter.idle_cores
            measurement.details["commands_per_transaction"] = meter.commands_per_save
            measurement.details["cores"] = cores
            measurement.details["cpu_bound_commands_per_second"] = round((cores - idle) / work * 1e6)
            measurement.details["cpu_bound_without_bench_client"] = round((cores - idle) / server * 1e6)
            measurement.details["service_bound_commands_per_second"] = round(1e6 / cpu["service"])
            measurement.notes.append(
                "CPU per command over Kafka (median of the runs, from /proc, what each process spends with no load "
                "taken out): " + ", ".join(f"{name} {value:,.0f} us" for name, value in cpu.items())
                + f". With no load the service, PostgreSQL and Kafka keep {idle:.2f} of the {cores} cores busy. The "
                f"processes of the run need {work:,.0f} us per command: the machine, with nothing else on it, cannot "
                f"do more than {(cores - idle) / work * 1e6:,.0f} commands/s ({(cores - idle) / server * 1e6:,.0f} "
                "with the producing and collecting client on another machine), and the service's consumer (one "
                f"thread holding the interpreter) not more than {1e6 / cpu['service']:,.0f}. With the service's "
                f"share replaced by the library alone storing the same events ({library_cpu:,.0f} us), the machine "
                f"could still do no more than {(cores - idle) / (work - cpu['service'] + library_cpu) * 1e6:,.0f} "
                "commands/s: the ceiling left by Kafka, PostgreSQL and the client, with no application code at all.")
            measurement.details["machine_bound_with_library_alone"] = round(
                (cores - idle) / (work - cpu["service"] + library_cpu) * 1e6)
        ratio = measurement.ratio or 0.0
        measurement.goals = [Goal("at least 1.5x the library baseline", ratio, 1.5, True),
                             Goal("at least 5,000 commands/s", measurement.value.median, 5_000, True)]
        measurement.notes.append(
            f"The library's rate here was {measurement.baseline.median:,.0f} transactions/s against about "  # type: ignore[union-attr]
            f"{REFERENCE_LIBRARY_RATE:,} on a quiet 2-core machine (the issue's reference): this run had about "
            f"{measurement.baseline.median / REFERENCE_LIBRARY_RATE:.0%} of such a machine. At the measured ratio "  # type: ignore[union-attr]
            f"({ratio:.2f}x) a quiet machine would give about {ratio * REFERENCE_LIBRARY_RATE:,.0f} commands/s"
            + (f", if the ratio held; but the CPU each command costs (above) caps it at "
               f"{measurement.details['cpu_bound_commands_per_second']:,} whatever the load: the library's rate "
               "is one round trip per transaction, which a loaded machine slows far more than a batch of "
               f"{in_process.batch}."
               if "cpu_bound_commands_per_second" in measurement.details else "."))
        if cpu:
            measurement.notes.append(
                f"The service reached {measurement.value.median * cpu['service'] / 1e6:.0%} of its own CPU bound "
                f"({1e6 / cpu['service']:,.0f} commands/s at {cpu['service']:,.0f} us per command). Its consumer "
                "overlaps a poll's three stages (shared/batch_pipeline.py): while poll N is stored in a worker thread, "
                "the event loop fetches, decodes and admits poll N+1, and publishes poll N-1's results and commits its "
                "offsets. What is left is the interpreter lock the loop and the store's thread share, and the store's "
                "round trips to PostgreSQL while the loop has nothing left to do.")
            measurement.notes.append(_five_thousand(
                cpu, cores, in_process.cpu_us_per_command, library_cpu,
                measurement.details["machine_bound_with_library_alone"]))
        if not measurement.met:
            measurement.profile = _profile_kafka(deployed, infra, config, "write_kafka_postgres")
        return measurement


def _five_thousand(cpu: dict[str, float], cores: int, application_us: float, library_us: float,
                   machine_bound_with_library: int) -> str:
    """What 5,000 commands/s would ask of the service on this machine, from the CPU each process spent."""
    budget = cores * 1e6 / 5_000
    others = sum(v for k, v in cpu.items() if k not in ("service", "rest of machine"))
    left = budget - others
    start = (f"5,000 commands/s on {cores} cores leaves each command {budget:,.0f} us of CPU in all processes together; "
             f"Kafka, PostgreSQL and the client took {others:,.0f} us per command in this run (other work on the "
             f"machine {cpu['rest of machine']:,.0f} more). ")
    if left <= 0:
        return start + "That alone is over the budget: 5,000/s is out of reach on this machine whatever the service does."
    interpreter = 1e6 / 5_000  # the consumer's one interpreter: its loop and its store thread share the lock
    needed = min(left, interpreter)
    return start + (
        f"That leaves the service {left:,.0f} us, and its one interpreter (the consumer's loop and the store's thread "
        f"share its lock) can give each command at most {interpreter:,.0f} us at that rate. It took "
        f"{cpu['service']:,.0f} us. Of those, the application alone (execute_batch, no Kafka) takes "
        f"{application_us:,.0f}, of which the library storing the events {library_us:,.0f}; the consumer around it "
        f"(Kafka client, decoding, admission, results, metrics) about {max(0.0, cpu['service'] - application_us):,.0f}. "
        "So 5,000/s is not a limit of Kafka, PostgreSQL or the library here (with the library alone in the "
        f"service's place the machine could do {machine_bound_with_library:,} commands/s): "
        f"it needs the service's CPU per command at {needed:,.0f} us or less, {1 - needed / cpu['service']:.0%} below "
        "now, and every core kept busy. The profile below shows where the service's time goes.")


def kafka_sqlite(infra: Infra, config: Config) -> Measurement:
    """Commands/s over Kafka on SQLite, beside raw sqlite3 inserts of event-sized rows."""
    with deployment(infra, Store.SQLITE, "wsq") as deployed:
        deployed.start_service()
        rates, anchors, accepted = _kafka_rates(
            deployed, config.kafka_commands, config.repeats,
            lambda: baselines.sqlite_inserts_per_second(deployed.data_dir), config.budget, window=config.kafka_window)
        measurement = Measurement(
            "write_kafka_sqlite", "Write path over Kafka, SQLite (CreateConnection)", "commands/s", Spread(rates),
            "raw sqlite3 inserts, 200 per transaction", "rows/s", Spread(anchors),
            details={"seconds_of_sending_per_run": config.budget, "accepted_fraction": accepted},
            notes=["Goal: report the ratio. A command stores about 4 events (Connection.Created, "
                   "Connection.JobRequested, Tenant.ConnectionAdded, ProcessedCommand) and reads the store to "
                   "check the command and the connection are new."],
        )
        return measurement


async def _http_load(api: str, rate: float, seconds: float, connections: int = 64, drain: float = 6.0,
                     ) -> tuple[list[float], int, int]:
    """Open loop: a CreateConnection due every 1/rate s whatever the answers do; each latency in ms, counted
    from when the request was due (a request waiting for a free connection is late, not excused).

    A small keep-alive HTTP/1.1 client on raw asyncio streams: httpx's pool spends O(n^2) time with
    thousands of requests queued, which would measure the client instead of the service.
    """
    host, port = api.removeprefix("http://").split(":")
    total = int(rate * seconds)
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    latencies: list[float] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while (item := await queue.get()) is not None:
                index, due = item
                body = json.dumps({"name": f"http {index}", "driver": "pos"}).encode()
                writer.write(f"POST /v1/connections HTTP/1.1\r\nHost: {host}\r\nAuthorization: "
                             f"{HEADERS['Authorization']}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - due) * 1000)
                failures += not head.startswith(b"HTTP/1.1 2")
        finally:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    started = time.perf_counter()
    for i in range(total):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((i, due))
    for _ in workers:
        queue.put_nowait(None)
    # A service far slower than the offered rate would keep the run going for minutes: requests still
    # queued at the drain limit are dropped and counted as failed, with their wait so far as latency.
    done, pending = await asyncio.wait(workers, timeout=drain)
    for task in pending:
        task.cancel()
    now = time.perf_counter()
    while not queue.empty():
        item = queue.get_nowait()
        if item is not None:
            latencies.append((now - item[1]) * 1000)
            failures += 1
    achieved = (total - failures) / (now - started)
    return latencies, failures, int(achieved)


@dataclass
class _ServiceSample:
    """What the service reports about itself at one moment: its CPU time (all threads, and its event loop's
    thread alone: HTTP handling), its group-commit batches (the ``omni_command_batch_*`` histograms of
    ``/metrics``) and its full garbage collections."""

    cpu_seconds: float
    loop_cpu_seconds: float  # the main thread's: the event loop (HTTP, the bus consumers); batches run elsewhere
    batch_seconds: dict[float, float]  # cumulative count of batches by bucket upper bound
    batch_seconds_sum: float
    batches: float
    commands: float
    full_collections: float
    at: float = field(default_factory=time.monotonic)

    @classmethod
    def take(cls, deployed: Deployment) -> _ServiceSample:
        pid = deployed.pid("service")
        stat, loop = (Path(f"/proc/{pid}/{where}stat").read_text().rpartition(")")[2].split()
                      for where in ("", f"task/{pid}/"))
        ticks = os.sysconf("SC_CLK_TCK")
        text = httpx.get(f"{deployed.api}/metrics", timeout=10).text
        buckets = {float(m[1]): float(m[2]) for m in re.finditer(
            r'^omni_command_batch_seconds_bucket\{le="([^"]+)"\} (\S+)$', text, re.M)}

        def value(pattern: str) -> float:
            found = re.search(pattern, text, re.M)
            return float(found[1]) if found else 0.0

        return cls((int(stat[11]) + int(stat[12])) / ticks, (int(loop[11]) + int(loop[12])) / ticks, buckets,
                   value(r"^omni_command_batch_seconds_sum (\S+)$"), value(r"^omni_command_batch_seconds_count (\S+)$"),
                   value(r"^omni_command_batch_size_sum (\S+)$"),
                   value(r'^python_gc_collections_total\{generation="2"\} (\S+)$'))


def _between(before: _ServiceSample, after: _ServiceSample, idle: tuple[float, float] = (0.0, 0.0),
             ) -> dict[str, float]:
    """The service's side of one run: CPU per request, batches, their size and duration (bucket bounds).

    Per request is per command the batches ran: a request given up by the load (still queued when it stopped)
    cost little and is not counted. ``idle``: the CPU seconds per second the service spends with no requests
    (all threads, the event loop's), taken out of the run's CPU, or an overloaded run would charge each of its
    fewer requests a larger share of the bus consumers' polling.
    """
    batches = after.batches - before.batches
    requests = after.commands - before.commands
    seconds = after.at - before.at
    counts = {le: after.batch_seconds[le] - before.batch_seconds.get(le, 0.0) for le in sorted(after.batch_seconds)}

    def at_most_ms(fraction: float) -> float:
        """The upper bound of the bucket holding this fraction of the run's batches (ms; 10,000: beyond 10 s)."""
        return next((min(le, 10.0) * 1000 for le, count in counts.items() if count >= fraction * batches), 0.0)

    def per_request_ms(seconds: float) -> float:
        return round(seconds / max(1, requests) * 1000, 3)

    return {"service_cpu_ms_per_request": per_request_ms(after.cpu_seconds - before.cpu_seconds - idle[0] * seconds),
            "event_loop_cpu_ms_per_request": per_request_ms(
                after.loop_cpu_seconds - before.loop_cpu_seconds - idle[1] * seconds),
            "batches": batches, "commands_per_batch": round(requests / max(1.0, batches), 1),
            "batch_ms_mean": round((after.batch_seconds_sum - before.batch_seconds_sum) / max(1.0, batches) * 1000, 1),
            # CPU of the threads beside the event loop's (the batches', mostly) per batch: what a batch computes
            "batch_cpu_ms_mean": round(((after.cpu_seconds - after.loop_cpu_seconds) - (
                before.cpu_seconds - before.loop_cpu_seconds)) / max(1.0, batches) * 1000, 1),
            "batch_ms_p50_at_most": at_most_ms(0.5), "batch_ms_p99_at_most": at_most_ms(0.99),
            "full_gc_collections": after.full_collections - before.full_collections}


def http_single(infra: Infra, config: Config) -> Measurement:
    """Single CreateConnection commands over HTTP at a fixed rate (500/s): the latency users see.

    Beside the latency, the service's side of each run, from its own ``/metrics`` and /proc: how many
    group-commit batches it ran, how large and how long they were, its CPU per request, its full GCs.
    """
    with deployment(infra, Store.POSTGRES, "whttp") as deployed:
        deployed.start_service()
        httpx.post(f"{deployed.api}/v1/drivers/pos/install", headers=HEADERS, timeout=30).raise_for_status()
        settings = deployed.settings()
        p50s, p99s, anchors, achieved, failures, service = [], [], [], [], [], []
        asyncio.run(_http_load(deployed.api, 50, 1))  # warm-up: connections, caches
        quiet = _ServiceSample.take(deployed)
        time.sleep(3)
        still = _ServiceSample.take(deployed)
        idle = ((still.cpu_seconds - quiet.cpu_seconds) / (still.at - quiet.at),
                (still.loop_cpu_seconds - quiet.loop_cpu_seconds) / (still.at - quiet.at))
        for _ in range(config.repeats):
            anchors.append(baselines.library_transactions_per_second(settings))
            before = _ServiceSample.take(deployed)
            latencies, failed, rate = asyncio.run(_http_load(deployed.api, config.http_rate, config.http_seconds))
            service.append(_between(before, _ServiceSample.take(deployed), idle))
            p50s.append(percentile(latencies, 0.5))
            p99s.append(percentile(latencies, 0.99))
            achieved.append(rate)
            failures.append(failed)
        # The same offered load scaled as the machine is slowed today (the library's rate here against a quiet
        # machine's): tells the service's latency from the machine's lack of capacity.
        scaled_rate = max(10.0, min(config.http_rate, config.http_rate * Spread(anchors).median / REFERENCE_LIBRARY_RATE))
        scaled, scaled_failed, _ = asyncio.run(_http_load(deployed.api, scaled_rate, config.http_seconds))
        per_run = {key: [run[key] for run in service] for key in service[0]}
        median = {key: Spread(values).median for key, values in per_run.items()}
        cpu_ms = median["service_cpu_ms_per_request"]
        measurement = Measurement(
            "write_http", f"Write path over HTTP, single commands at {config.http_rate:.0f}/s (PostgreSQL)", "ms p99",
            Spread(p99s), "eventsourcing one command per transaction (PostgreSQL, one client)", "transactions/s",
            Spread(anchors), p50=Spread(p50s), p99=Spread(p99s),
            details={"offered_rate": config.http_rate, "seconds": config.http_seconds,
                     "completed_rate": achieved, "failed_requests": failures,
                     "scaled_offered_rate": round(scaled_rate, 1), "scaled_p50_ms": percentile(scaled, 0.5),
                     "scaled_p99_ms": percentile(scaled, 0.99), "scaled_failed_requests": scaled_failed,
                     "service_idle_cpu_ms_per_second": round(idle[0] * 1000, 1), **per_run},
            notes=["The ratio compares unlike units (latency vs the library's rate); the baseline shows what one "
                   "client can commit per second here: 500 commands/s needs more than that, or batching (HTTP "
                   "commands arriving together share a transaction).",
                   f"scaled_*: one more run at {scaled_rate:.0f}/s, i.e. 500/s times this run's library rate over "
                   f"{REFERENCE_LIBRARY_RATE:,}/s (a quiet machine's): the latency when the load is scaled like the "
                   "machine's capacity. Requests still queued 6 s after the last was due count as failed.",
                   # What the latency is made of, measured in the same runs (medians of the runs):
                   f"Group commit: {median['batches']:.0f} batches per run of {median['commands_per_batch']:.1f} "
                   f"commands, {median['batch_ms_mean']:.1f} ms each on average (half took at most "
                   f"{median['batch_ms_p50_at_most']:g} ms, 99% at most {median['batch_ms_p99_at_most']:g} ms), of "
                   f"which about {median['batch_cpu_ms_mean']:.1f} ms of its own CPU: the rest is waiting for "
                   "PostgreSQL (28 round trips per batch: pool checks, the vault's keys, the store's transaction), "
                   "for the interpreter lock after each, and for a core. One batch runs at a time, so a request "
                   "waits for the batch in flight, then for its own: about two batch times, plus the HTTP handling "
                   "of the requests ahead of it on the event loop.",
                   f"The service spent {cpu_ms:.2f} ms of CPU per request (beyond the {idle[0] * 1000:.0f} ms/s it "
                   "spends idle), "
                   f"{median['event_loop_cpu_ms_per_request']:.2f} ms of it on the event loop's thread (HTTP "
                   "handling), the rest mostly in the batches' thread (the command and its share of the "
                   f"transaction), all under one interpreter lock: at {config.http_rate:.0f}/s that keeps "
                   f"{cpu_ms * config.http_rate / 10:.0f}% of a core busy; the closer to 100%, the longer the queues. "
                   f"Full GCs per run: {median['full_gc_collections']:.0f} (the start-up heap is frozen, so each "
                   "walks only what the requests left)."],
        )
        measurement.goals = [Goal("p99 under 50 ms at 500 commands/s", measurement.value.median, 50, False)]
        if not measurement.met:
            spy = Spy(deployed.pid("service"), config.profile_seconds, infra.root / "write_http.raw")
            asyncio.run(_http_load(deployed.api, config.http_rate, config.profile_seconds))
            spy.wait()
            measurement.profile = spy.summary()
        return measurement


def relay(infra: Infra, config: Config) -> Measurement:
    """Stored events -> Kafka: the relay process catching up on a store of ``relay_connections`` creates,
    beside a raw aiokafka producer sending the same number of messages of the same size."""
    with deployment(infra, Store.POSTGRES, "relay") as deployed:
        deployed.start_service()
        deployed.install(TENANT)
        asyncio.run(produce_and_collect(deployed, create_commands(TENANT, config.relay_connections), budget=8))
        deployed.stop()
        from bench.harness import max_position

        head = max_position(deployed)
        rates, anchors = [], []
        sample = _sample_messages(deployed, 2_000)
        for run in range(config.repeats):
            anchors.append(baselines.aiokafka_messages_per_second(
                infra.bootstrap, deployed.topic(f"raw-relay-{run}"), sample * max(1, head // len(sample))))
            rates.append(_relay_rate(deployed, head))
        measurement = Measurement(
            "relay", "Relay: stored events to Kafka", "events/s", Spread(rates),
            "raw aiokafka batch producer (acks=all, idempotent, gzip)", "messages/s", Spread(anchors),
            details={"stored_events": head, "created_connections": config.relay_connections},
            notes=["Timed from the relay's first acknowledged batch to its last (its process start is left "
                   "out); every stored event counts, also those that publish nothing. The raw producer sends "
                   "the relay's own messages (sampled from the store) with the relay's producer settings."],
        )
        measurement.goals = [Goal("at least 50% of raw aiokafka", measurement.ratio or 0.0, 0.5, True),
                             Goal("at least 10,000 events/s", measurement.value.median, 10_000, True)]
        if not measurement.met:
            ceiling = _relay_ceiling(deployed, head)
            measurement.details.update(ceiling)
            measurement.notes.append(
                f"The relay's ceiling in this run, its two halves measured apart in the bench process (whole store, "
                f"batches of 500): reading and translating alone {ceiling['translate_only_events_per_second']:,} "
                f"events/s ({ceiling['translate_cpu_us_per_event']} us CPU/event); publishing the translated "
                f"{ceiling['messages']:,} messages alone, through the relay's Bus, "
                f"{ceiling['publish_only_events_per_second']:,} events/s = "
                f"{ceiling['publish_only_messages_per_second']:,} messages/s ({ceiling['publish_cpu_us_per_event']} us "
                f"CPU/event). The relay overlaps the two but both need the one interpreter (GIL): its bound is about "
                f"1/(1/translate + 1/publish) = {ceiling['serial_bound_events_per_second']:,} events/s.")
            spy: list[Spy] = []
            _relay_rate(deployed, head, lambda: spy.append(Spy(deployed.pid("relay"), config.profile_seconds,
                                                              infra.root / "relay.raw")))
            spy[0].wait()
            measurement.profile = spy[0].summary()
        return measurement


def _relay_ceiling(deployed: Deployment, head: int, batch: int = 500) -> dict[str, Any]:
    """The relay's two halves apart: translating the whole store (read, decode, jobs' credentials) without
    publishing, then publishing what it gave through the relay's Bus without translating; wall and CPU time."""
    import base64

    from services.connections.bootstrap import build_write_side
    from services.connections.relay import Relay
    from shared.bus import Bus, make_broker

    settings = deployed.settings()
    write = build_write_side(settings)
    try:
        relay = Relay(write.app, None, None, base64.b64decode(settings.worker_key), None)  # type: ignore[arg-type]
        batches, position = [], 0
        wall, cpu = time.perf_counter(), time.process_time()
        while position < head:
            notifications = write.app.recorder.select_notifications(start=position + 1, limit=batch)
            if not notifications:
                break
            batches.append(relay._translate(notifications))  # noqa: SLF001 - the relay's translation alone
            position = notifications[-1].id
        translate_wall, translate_cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        write.close()

    async def publish() -> tuple[float, float]:
        broker = make_broker(deployed.infra.bootstrap, "bench-relay-ceiling")
        await broker.connect()
        try:
            bus = Bus(broker, deployed.namespace)  # the relay's own topics (3 partitions each)
            await bus.publish_all(batches[0][:1])  # metadata and connections before the clock starts
            wall, cpu = time.perf_counter(), time.process_time()
            for messages in batches:
                await bus.publish_all(messages)
            return time.perf_counter() - wall, time.process_time() - cpu
        finally:
            await broker.stop()

    publish_wall, publish_cpu = asyncio.run(publish())
    messages = sum(len(b) for b in batches)
    translate, publish_rate = position / translate_wall, position / publish_wall
    return {
        "translate_only_events_per_second": round(translate), "translate_cpu_us_per_event": round(
            translate_cpu / position * 1e6), "messages": messages,
        "publish_only_events_per_second": round(publish_rate),
        "publish_only_messages_per_second": round(messages / publish_wall),
        "publish_cpu_us_per_event": round(publish_cpu / position * 1e6),
        "serial_bound_events_per_second": round(1 / (1 / translate + 1 / publish_rate)),
    }


def _relay_rate(deployed: Deployment, head: int, started: Callable[[], None] | None = None) -> float:
    """Relay the whole store again from position 0; events/s from its first acknowledged batch to ``head``."""
    _reset_relay_position(deployed)
    deployed.start("relay", ["relay"])
    try:
        first = wait_until(lambda: _relay_position(deployed), 120, "the relay's first batch", deployed, 0.01)
        began = time.monotonic()
        if started is not None:
            started()
        wait_until(lambda: _relay_position(deployed) >= head, 600, "relay caught up", deployed, interval=0.02)
        return (head - first) / max(1e-6, time.monotonic() - began)
    finally:
        deployed.stack.stop("relay")


def _reset_relay_position(deployed: Deployment) -> None:
    import psycopg

    assert deployed.dsn is not None
    with psycopg.connect(deployed.dsn, autocommit=True) as conn:
        try:
            conn.execute("DELETE FROM tracked_positions WHERE name = 'relay'")
        except psycopg.errors.UndefinedTable:
            pass  # no relay ran yet


def _relay_position(deployed: Deployment) -> int:
    """The relay's tracked position (it advances only after the broker acknowledged the batch)."""
    import psycopg

    assert deployed.dsn is not None
    try:
        with psycopg.connect(deployed.dsn, autocommit=True) as conn:
            row = conn.execute("SELECT position FROM tracked_positions WHERE name = 'relay'").fetchone()
    except psycopg.Error:
        return 0
    return int(row[0]) if row else 0


def _sample_messages(deployed: Deployment, count: int) -> list[tuple[bytes, bytes]]:
    """Messages as the relay sends them (envelopes of the stored events), to size the raw producer's load."""
    from services.connections.translation import outgoing
    from services.projections.application import EventStoreReader

    reader = EventStoreReader(env=deployed.settings().eventsourcing_env())
    try:
        found: list[tuple[bytes, bytes]] = []
        for notification in reader.recorder.select_notifications(start=1, limit=count):
            event = reader.mapper.to_domain_event(notification)
            try:
                messages = outgoing(notification.topic, event, notification.id, lambda e, p: _no_job(e))
            except _NoJob:
                continue
            found += [(m.key.encode(), m.envelope.model_dump_json().encode()) for m in messages
                      if m.topic == topics.EVENTS]
        return found or [(b"k", b"x" * 600)]
    finally:
        reader.close()


class _NoJob(Exception):
    pass


def _no_job(event: Any) -> Any:
    raise _NoJob
