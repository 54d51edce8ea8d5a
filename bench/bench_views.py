"""Benchmark of the read side (a script, not a test): projection lag, rebuild speed and list query latency.

    python -m bench.bench_views                      # SQLite and PostgreSQL, defaults below
    python -m bench.bench_views --backend postgres --seconds 60 --connections 100000

For each backend:

1. **Lag at a steady write rate.** A realistic event stream (connections created, checked, synced with progress
   and data models, edited, disabled, deleted; made once by the real application and cached) is written into a
   fresh store by a separate process at ``--rate`` events/s, in small transactions every 5 ms. The real runner
   (every view, the production follower: LISTEN/NOTIFY on PostgreSQL, polling every 50 ms on SQLite) applies it.
   Lag of an event = when the views' transaction that applied it committed - when the store committed it.
2. **Rebuild speed.** Each view, then all five, rebuilt from that store (shadow tables, then swap): store
   positions covered per second.
3. **List query latency** on ``--connections`` rows of one tenant (plus a tenth as many of other tenants): the
   Connections tab's queries (first page, deep pages by cursor, status/driver filters, newest first, text
   search), as the query API runs them in a read transaction; p50/p99 per shape and over all.

PostgreSQL is the throwaway ``LocalPostgres`` cluster (fsync and synchronous_commit off: commit latency is
optimistic). Prints one table per measure.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import pickle
import random
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg.conninfo import conninfo_to_dict

from contracts import commands as cmd
from contracts import reports
from contracts.datamodel import Attribute, AttributeSet, AttributeType, DataModel
from services.connections.adapters.catalog import PydanticCatalog
from services.connections.adapters.vault import SqlVault
from services.connections.application import Connections
from services.connections.domain.meta import Meta
from services.projections.adapters import connection_list_table, tables, view_state
from services.projections.application import EventStoreReader, ProjectionRunner
from services.projections.live import ChangeHub
from services.projections.rebuild import rebuild
from services.projections.views import all_views
from shared.follower import NotificationFollower
from shared.local_postgres import LocalPostgres
from shared.sql import Database, open_database

TEMPLATE = Path(tempfile.gettempdir()) / "omni-bench-views-template-v1.pickle"
TICK = 0.005


# ----- the event stream ---------------------------------------------------------------------------------------


def _model(version: int, size: int = 20) -> DataModel:
    codes = [f"attr_{i:03d}" for i in range(size + version)]
    return DataModel(
        attributes=tuple(Attribute(code=c, labels={"en": f"{c} v{version if i % 5 == 0 else 0}"},
                                   type=AttributeType.TEXT) for i, c in enumerate(codes)),
        attribute_sets=(AttributeSet(code="main", attribute_codes=tuple(codes)),
                        AttributeSet(code="small", attribute_codes=tuple(codes[:5]))),
    )


def _make_template(connections: int) -> list[StoredEvent]:
    """Stored events of ``connections`` connections' lives, written by the real application on SQLite."""
    with tempfile.TemporaryDirectory() as folder:
        keys = open_database(f"sqlite:///{folder}/keys.sqlite")
        app = Connections(PydanticCatalog(), SqlVault(keys, {"k": os.urandom(32)}, "k"),
                          env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{folder}/e.sqlite"})
        rng = random.Random(7)
        for n in range(connections):
            tenant = f"tenant-{n % 20:02d}"
            meta = Meta(tenant, "bench", str(uuid4()), str(uuid4()))
            if n < 20:
                app.execute(cmd.InstallDriver(driver="pos"), uuid4(), meta)
            created = app.execute(cmd.CreateConnection(name=f"Till {n:05d}", driver="pos"), uuid4(), meta)
            connection_id = created.items[0].connection_id
            assert connection_id is not None

            def job(kind: str, cid: UUID = connection_id) -> UUID:
                return next(UUID(j.job_id) for j in app.repository.get(cid).jobs.values() if j.kind == kind)

            def run_job(kind: str, model: DataModel | None = None, steps: int = 0, cid: UUID = connection_id) -> None:
                job_id = job(kind)
                app.record_report(reports.JobStarted(job_id=job_id, connection_id=cid, worker="w"), meta)
                for step in range(steps):
                    app.record_report(reports.JobProgressed(job_id=job_id, connection_id=cid, done=step + 1,
                                                            total=steps), meta)
                app.record_report(reports.JobSucceeded(job_id=job_id, connection_id=cid, data_model=model), meta)

            run_job("check_credentials")
            run_job("sync", _model(0), steps=3)
            app.execute(cmd.RequestSync(connection_ids=[connection_id]), uuid4(), meta)
            run_job("sync", _model(1 + rng.randrange(3)), steps=2)
            if rng.random() < 0.2:
                app.execute(cmd.EditConnection(connection_id=connection_id, name=f"Till {n:05d} (renamed)"),
                            uuid4(), meta)
                run_job("sync", steps=1)
            if rng.random() < 0.1:
                app.execute(cmd.DisableConnections(connection_ids=[connection_id]), uuid4(), meta)
                if rng.random() < 0.5:
                    app.execute(cmd.DeleteConnections(connection_ids=[connection_id]), uuid4(), meta)
        events = [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
                  for n in app.recorder.select_notifications(start=1, limit=10_000_000)]
        app.close()
        keys.close()
    return events


def template(events_needed: int) -> list[StoredEvent]:
    """The cached event stream, made (once) long enough."""
    if TEMPLATE.exists():
        cached: list[StoredEvent] = pickle.loads(TEMPLATE.read_bytes())  # noqa: S301 - our own cache file
        if len(cached) >= events_needed:
            return cached[:events_needed]
    started = time.perf_counter()
    connections = events_needed // 22 + 1
    print(f"making the event stream: {connections} connections through the application...", flush=True)
    made = _make_template(connections)
    while len(made) < events_needed:
        connections = int(connections * 1.2) + 1
        made = _make_template(connections)
    TEMPLATE.write_bytes(pickle.dumps(made))
    print(f"  {len(made)} events in {time.perf_counter() - started:.1f} s", flush=True)
    return made[:events_needed]


# ----- writing at a steady rate (its own process) -------------------------------------------------------------


def _write(env: dict[str, str], events: list[StoredEvent], rate: float, out: Any) -> None:
    """Insert ``events`` at ``rate`` per second in small transactions; report (last position, commit time)."""
    store = EventStoreReader(env=env)
    written, marks = 0, []
    start = time.time()
    while written < len(events):
        due = min(len(events), int((time.time() - start) * rate) + 1)
        if due > written:
            ids = store.recorder.insert_events(events[written:due])
            committed = time.time()
            written = due
            marks.append((ids[-1] if ids else written, committed))
        time.sleep(TICK)
    store.close()
    out.put(marks)


# ----- measuring ----------------------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    env: dict[str, str]
    views_url: str


def _percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure_lag(backend: Backend, events: list[StoredEvent], rate: float) -> dict[str, float]:
    store = EventStoreReader(env=backend.env)
    views = open_database(backend.views_url)
    follower = NotificationFollower(store.recorder, 0.05, listen=True)  # type: ignore[arg-type]
    runner = ProjectionRunner(store, views, all_views(), follower, ChangeHub())
    applied: list[tuple[int, float]] = []
    apply = runner.apply

    def timed(batch: Sequence[Any]) -> Any:
        changes = apply(batch)
        applied.append((batch[-1].id, time.time()))
        return changes

    runner.apply = timed  # type: ignore[method-assign]
    results: multiprocessing.Queue[list[tuple[int, float]]] = multiprocessing.Queue()
    writer = multiprocessing.get_context("spawn").Process(target=_write, args=(backend.env, events, rate, results))

    async def follow() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        writer.start()
        while not applied or applied[-1][0] < len(events):
            await asyncio.sleep(0.1)
            if not writer.is_alive() and writer.exitcode:
                raise RuntimeError("the writer failed")
        stop.set()
        await task

    started = time.time()
    asyncio.run(follow())
    elapsed = time.time() - started
    marks = results.get(timeout=30)
    writer.join()
    lags: list[float] = []
    i = 0
    previous = 0
    for last, committed in marks:
        while applied[i][0] < last:
            i += 1
        lags += [applied[i][1] - committed] * (last - previous)  # every event of that write
        previous = last
    store.close()
    views.close()
    return {"events": len(events), "seconds": elapsed, "rate": len(events) / (marks[-1][1] - marks[0][1] + 1e-9),
            "p50": _percentile(lags, 50) * 1000, "p99": _percentile(lags, 99) * 1000,
            "max": max(lags) * 1000, "batches": len(applied)}


def measure_rebuilds(backend: Backend) -> dict[str, float]:
    store = EventStoreReader(env=backend.env)
    views = open_database(backend.views_url)
    speeds: dict[str, float] = {}
    total_seconds, total_cpu, head = 0.0, 0.0, 0
    for projection in all_views():
        cpu = time.process_time()
        progress = rebuild(store, views, projection)
        cpu = time.process_time() - cpu
        speeds[projection.name] = progress.position / progress.seconds
        # Positions per second of this process's own CPU: what the rebuild costs, whatever else the machine runs
        # (on PostgreSQL the server's share is not in it).
        speeds[f"{projection.name} (cpu)"] = progress.position / cpu
        total_seconds += progress.seconds
        total_cpu += cpu
        head = progress.position
    speeds["all five"] = head / total_seconds
    speeds["all five (cpu)"] = head / total_cpu
    store.close()
    views.close()
    return speeds


_SHAPES: dict[str, dict[str, Any]] = {
    "first page by name": {},
    "next pages by name": {"deep": True},
    "inactive by name": {"status": "inactive"},
    "one driver by name": {"driver": "shopify"},
    "newest first": {"sort": "updated_at", "descending": True},
    "failed syncs": {"last_sync_state": "failed"},
    "name contains": {"text": "till 0421"},
    # 1 name in 12 is a "Webshop ...", all after the "Till ..." ones: read in name order, the first page of
    # matches lies behind 92 % of the rows.
    "name contains, far": {"text": "webshop"},
}


def fill_list(views: Database, connections: int) -> None:
    rng = random.Random(11)
    drivers = ["pos", "shopware6", "shopify", "sfcc", "amazon", "magento2", "tradebyte"]
    spec = connection_list_table.SPEC
    trigram = view_state.trigram_enabled(views)
    with views.transaction() as tx:
        tables.drop(tx, spec)
        tables.create(tx, spec, trigram)
    base = 1_700_000_000
    batch: list[dict[str, Any]] = []

    def row(n: int, tenant: str) -> dict[str, Any]:
        created = base + n * 7
        name = f"{'Webshop' if n % 12 == 0 else 'Till'} {n:06d}"
        return {
            "connection_id": str(uuid4()), "tenant_id": tenant, "name": name,
            "driver": rng.choice(drivers), "status": rng.choices(["active", "inactive", "deleting"], [85, 14, 1])[0],
            "credential_state": "verified", "credential_reason": None, "credential_checked_at": str(created),
            "sync_state": "succeeded", "sync_job_id": str(uuid4()), "sync_done": 10, "sync_total": 10,
            "last_sync_state": rng.choices(["succeeded", "failed"], [97, 3])[0], "last_sync_at": str(created + 5),
            "last_sync_error": None, "deletion_step": None, "created_at": f"{created:012d}",
            "updated_at": f"{created + rng.randrange(10_000_000):012d}", "version": 9,
        }

    for n in range(connections + connections // 10):
        batch.append(row(n, "bench" if n < connections else f"other-{n % 50}"))
        if len(batch) == 5_000:
            with views.transaction() as tx:
                tables.upsert(tx, spec, batch)
            batch = []
    with views.transaction() as tx:
        tables.upsert(tx, spec, batch)
        if views.dialect == "postgres":
            tx.execute(f"ANALYZE {spec.name}")
        else:
            tx.execute("ANALYZE")


def measure_list(views: Database, rounds: int, connections: int) -> dict[str, tuple[float, float]]:
    timings: dict[str, list[float]] = {shape: [] for shape in _SHAPES}
    indexed = view_state.trigram_enabled(views)  # as the query API asks
    rng = random.Random(3)
    for round_number in range(rounds + 5):  # the first rounds warm caches and prepared statements: not counted
        for shape, params in _SHAPES.items():
            params = dict(params)
            deep = params.pop("deep", False)
            query = connection_list_table.ListQuery("bench", limit=50, **params)
            if deep:
                # A cursor from somewhere in the list, as a user paging on would send.
                query = connection_list_table.ListQuery("bench", limit=50, cursor=connection_list_table.encode_cursor(
                    [f"Till {rng.randrange(connections):06d}", "0"]))
            started = time.perf_counter()
            with views.read_transaction() as tx:
                connection_list_table.query(tx, query, search_indexed=indexed)
            if round_number >= 5:
                timings[shape].append((time.perf_counter() - started) * 1000)
    pages = [t for shape, ts in timings.items() if not shape.startswith("name contains") for t in ts]
    everything = [t for ts in timings.values() for t in ts]
    out = {shape: (_percentile(ts, 50), _percentile(ts, 99)) for shape, ts in timings.items()}
    out["all but name search"] = (_percentile(pages, 50), _percentile(pages, 99))
    out["all shapes"] = (_percentile(everything, 50), _percentile(everything, 99))
    return out


# ----- backends and the report -------------------------------------------------------------------------------


def sqlite_backend(folder: Path) -> Backend:
    return Backend("SQLite", {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / "e.sqlite"),
                              "SQLITE_LOCK_TIMEOUT": "10"}, f"sqlite:///{folder / 'views.sqlite'}")


def postgres_backend(pg: LocalPostgres) -> Backend:
    dsn = pg.create_database(f"bench_{uuid4().hex[:8]}")
    params = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": params["dbname"],
           "POSTGRES_HOST": params["host"], "POSTGRES_PORT": params["port"], "POSTGRES_USER": params["user"],
           "POSTGRES_PASSWORD": params.get("password", "")}
    return Backend("PostgreSQL", env, dsn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second written")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to write at that rate")
    parser.add_argument("--connections", type=int, default=100_000, help="rows of the tenant queried")
    parser.add_argument("--rounds", type=int, default=300, help="rounds of the list query shapes")
    args = parser.parse_args()
    events = template(int(args.rate * args.seconds))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; psycopg "
          f"{psycopg.pq.__impl__}; {len(events)} events at {args.rate:g}/s", flush=True)
    rows: list[tuple[str, dict[str, float], dict[str, float], dict[str, tuple[float, float]]]] = []
    with ExitStack() as stack:
        backends = []
        if args.backend in ("sqlite", "both"):
            backends.append(sqlite_backend(Path(stack.enter_context(tempfile.TemporaryDirectory()))))
        if args.backend in ("postgres", "both"):
            backends.append(postgres_backend(stack.enter_context(LocalPostgres())))
        for backend in backends:
            print(f"[{backend.name}] lag at {args.rate:g} events/s...", flush=True)
            lag = measure_lag(backend, events, args.rate)
            print(f"[{backend.name}] rebuilds...", flush=True)
            speeds = measure_rebuilds(backend)
            print(f"[{backend.name}] list queries on {args.connections} connections...", flush=True)
            views = open_database(backend.views_url)
            fill_list(views, args.connections)
            listing = measure_list(views, args.rounds, args.connections)
            views.close()
            rows.append((backend.name, lag, speeds, listing))
            print(f"[{backend.name}] done; load average {os.getloadavg()[0]:.1f}", flush=True)
    report(rows)


def report(rows: list[tuple[str, dict[str, float], dict[str, float], dict[str, tuple[float, float]]]]) -> None:
    print("\nProjection lag (store commit -> views commit), all five views")
    print(f"{'backend':<12}{'events':>8}{'rate/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'batches':>9}")
    for name, lag, _, _ in rows:
        print(f"{name:<12}{lag['events']:>8.0f}{lag['rate']:>9.0f}{lag['p50']:>9.1f}{lag['p99']:>9.1f}"
              f"{lag['max']:>9.1f}{lag['batches']:>9.0f}")
    print("\nRebuild speed (store positions per second of wall time / of the rebuilding process's CPU time)")
    views = [v for v in rows[0][2] if not v.endswith("(cpu)")] if rows else []
    print(f"{'view':<20}" + "".join(f"{name:>24}" for name, *_ in rows))
    for v in views:
        print(f"{v:<20}" + "".join(f"{r[2][v]:>12,.0f} /{r[2][v + ' (cpu)']:>10,.0f}" for r in rows))
    print("\nList query (one tenant's page of 50), ms p50 / p99")
    shapes = list(rows[0][3]) if rows else []
    print(f"{'shape':<24}" + "".join(f"{name:>20}" for name, *_ in rows))
    for shape in shapes:
        print(f"{shape:<24}" + "".join(f"{r[3][shape][0]:>11.2f} /{r[3][shape][1]:>6.2f}" for r in rows))


if __name__ == "__main__":
    multiprocessing.set_start_method("spawn", force=True)
    main()

