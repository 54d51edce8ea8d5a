"""How fast ``connections audit rebuild`` folds the store into a view, next to the raw scan of the same store.

    python bench/bench_rebuild.py [--events 1000000] [--view connection_list] [--repeats 3]

Starts a throwaway PostgreSQL cluster (:class:`~shared.local_postgres.LocalPostgres`), stores ``--events``
events through the connections aggregates and the application's own ``save`` (20 events per connection: its
creation, a credential check, a sync with ten progress reports, a rename, a disable and an enable), builds the
live view with the read side's own rebuild, then alternates, ``--repeats`` times:

- the raw scan: every notification through the library's ``select_notifications``, in the batches and with
  the topic filter the rebuild uses (and once without the filter), doing nothing with them;
- the scan and decode: the same scan, each notification the view reads decoded by the read side's ``decode``
  (what the rebuild does before folding), nothing applied;
- the audit rebuild (:meth:`services.audit.application.Audit.rebuild`): the same scan, decoding, folding into
  shadow tables, then the row-by-row comparison with the live view.

It prints each figure in events/s (store positions per second, as the rebuild's progress counts them), the
medians, and the rebuild's rate as a fraction of the raw scan's; and, since a busy machine moves wall-clock
rates a lot, this process's CPU time per event for each (microseconds, the driver's and Python's work, not the
database server's). Nothing is kept: the cluster is deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.audit.bootstrap import build_audit  # noqa: E402
from services.audit.entrypoints.progress import NoProgress  # noqa: E402
from services.connections.bootstrap import build_write_side  # noqa: E402
from services.connections.domain.connection import Connection  # noqa: E402
from services.connections.domain.meta import Meta  # noqa: E402
from services.projections.application import decode  # noqa: E402
from services.projections.bootstrap import rebuild_view  # noqa: E402
from services.projections.rebuild import BATCH_SIZE  # noqa: E402
from services.projections.views import all_views  # noqa: E402
from shared.local_postgres import LocalPostgres  # noqa: E402
from shared.runtime import freeze_start_up_heap  # noqa: E402
from shared.settings import Settings, Store  # noqa: E402

EVENTS_PER_CONNECTION = 20
CONNECTIONS_PER_SAVE = 250  # 5,000 events per transaction
SEALED = {"v": 1, "ciphertext": "bench: never opened"}  # the rebuild never reads credentials


def _life(index: int, meta: Meta) -> Connection:
    """One connection's 20 events, pending on the aggregate."""
    connection = Connection(
        id=uuid.uuid4(), tenant_id=f"tenant-{index % 50}", name=f"Shop {index:07d}", driver="shopware6",
        credentials=SEALED, credentials_fingerprint=f"{index:016x}", settings={"default_language": "de-DE"},
        meta=meta.as_dict(),
    )
    check = connection.request_credential_check(str(uuid.uuid4()), meta)
    connection.record_started(check, "bench-worker", meta)
    connection.record_succeeded(check, meta)
    sync, _ = connection.request_sync(str(uuid.uuid4()), meta)
    connection.record_started(sync, "bench-worker", meta)
    for done in range(1, 11):
        connection.record_progress(sync, done * 100, 1_000, now=datetime.now(UTC), meta=meta)
    connection.record_succeeded(sync, meta)
    connection.edit(name=f"Shop {index:07d} (EU)", driver=None, credentials=None, credentials_fingerprint=None,
                    settings=None, meta=meta)
    connection.disable(meta)
    connection.enable(meta)
    assert len(connection.pending_events) == EVENTS_PER_CONNECTION
    return connection


def fill(settings: Settings, events: int) -> float:
    """Store ``events`` events (rounded up to whole connections); returns the seconds it took."""
    write = build_write_side(settings)
    meta = Meta(tenant_id="bench", actor="bench", correlation_id=str(uuid.uuid4()))
    connections = -(-events // EVENTS_PER_CONNECTION)
    started = time.perf_counter()
    try:
        for first in range(0, connections, CONNECTIONS_PER_SAVE):
            batch = [_life(i, meta) for i in range(first, min(first + CONNECTIONS_PER_SAVE, connections))]
            write.app.save(*batch)
            stored = min(first + CONNECTIONS_PER_SAVE, connections) * EVENTS_PER_CONNECTION
            print(f"\rstored {stored:,} events", end="", file=sys.stderr, flush=True)
    finally:
        write.close()
    print(file=sys.stderr)
    return time.perf_counter() - started


def settle(dsn: str) -> None:
    """Vacuum and analyze the freshly filled database, as autovacuum eventually does: until then the planner
    has no statistics on the events' topics and a scan with the topic filter ran at a quarter of its speed
    (57,000 against 240,000 events/s in the same run), or autovacuum ran in the middle of a measurement."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def raw_scan(settings: Settings, topics: list[str] | None) -> tuple[int, float, float]:
    """Every notification through ``select_notifications``, as the rebuild reads them; (positions, seconds,
    CPU seconds of this process)."""
    return _scan(settings, topics, decoding=False)


def decoding_scan(settings: Settings, view: str) -> tuple[int, float, float]:
    """The raw scan plus the read side's ``decode`` of what ``view`` reads: the rebuild's work before folding."""
    return _scan(settings, sorted(_projection(view).topics), decoding=True)


def _tools(settings: Settings) -> Any:
    """The audit tools as ``connections audit`` builds them: start-up heap frozen (the scans get the same)."""
    tools = build_audit(settings)
    freeze_start_up_heap()
    return tools


def _scan(settings: Settings, topics: list[str] | None, *, decoding: bool) -> tuple[int, float, float]:
    tools = _tools(settings)
    wanted = frozenset(topics or ())
    try:
        recorder = tools.store.recorder
        head = recorder.max_notification_id() or 0
        started, cpu = time.perf_counter(), time.process_time()
        position = 0
        while position < head:
            batch = recorder.select_notifications(start=position + 1, limit=BATCH_SIZE, stop=head,
                                                  topics=topics or ())
            if decoding:
                decode(tools.store, batch, wanted)
            position = batch[-1].id if len(batch) == BATCH_SIZE else head
        return head, time.perf_counter() - started, time.process_time() - cpu
    finally:
        tools.close()


def _projection(view: str) -> Any:
    return next(p for p in all_views() if p.name == view)


def audit_rebuild(settings: Settings, view: str) -> dict[str, Any]:
    tools = _tools(settings)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        report = tools.audit.rebuild(view, NoProgress())
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        tools.close()
    assert report.equal, f"the rebuilt {view} differs from the live one: {report.differences[:3]}"
    return {"events": report.events, "build_seconds": report.seconds, "total_seconds": total,
            "rows": report.rebuilt_rows, "cpu_seconds": cpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to store (default 1,000,000)")
    parser.add_argument("--view", default="connection_list", choices=[p.name for p in all_views()])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    topics = sorted(_projection(args.view).topics)

    with LocalPostgres() as postgres, tempfile.TemporaryDirectory() as data_dir:
        dsn = postgres.create_database(f"bench_rebuild_{uuid.uuid4().hex[:8]}")
        settings = Settings(store=Store.POSTGRES, database_url=dsn, data_dir=Path(data_dir))
        fill_seconds = fill(settings, args.events)
        started = time.perf_counter()
        rebuild_view(settings, args.view)  # the live view, built by the read side itself
        live_seconds = time.perf_counter() - started
        settle(dsn)
        raw_scan(settings, topics)  # warm the cache once: every measured run then reads the same way
        filtered, unfiltered, decoded, builds, totals = [], [], [], [], []
        cpu: dict[str, list[float]] = {"raw_scan": [], "scan_and_decode": [], "audit_rebuild": []}
        for repeat in range(1, args.repeats + 1):
            head, seconds, used = raw_scan(settings, topics)
            filtered.append(head / seconds)
            cpu["raw_scan"].append(used / head * 1e6)
            head, seconds, _ = raw_scan(settings, None)
            unfiltered.append(head / seconds)
            head, seconds, used = decoding_scan(settings, args.view)
            decoded.append(head / seconds)
            cpu["scan_and_decode"].append(used / head * 1e6)
            result = audit_rebuild(settings, args.view)
            builds.append(result["events"] / result["build_seconds"])
            totals.append(result["events"] / result["total_seconds"])
            cpu["audit_rebuild"].append(result["cpu_seconds"] / result["events"] * 1e6)
            print(f"run {repeat}: raw scan {filtered[-1]:,.0f} events/s (topic filter), {unfiltered[-1]:,.0f} "
                  f"events/s (none); scan and decode {decoded[-1]:,.0f} events/s; audit rebuild {builds[-1]:,.0f} "
                  f"events/s (build), {totals[-1]:,.0f} events/s (with the comparison of {result['rows']:,} rows); "
                  f"ratio {builds[-1] / filtered[-1]:.3f}; CPU us/event: scan {cpu['raw_scan'][-1]:.1f}, "
                  f"scan and decode {cpu['scan_and_decode'][-1]:.1f}, rebuild with comparison "
                  f"{cpu['audit_rebuild'][-1]:.1f}; load {os.getloadavg()[0]:.1f}", file=sys.stderr)

    figures = {
        "events": head, "view": args.view, "repeats": args.repeats,
        "fill_events_per_second": round(head / fill_seconds),
        "read_side_rebuild_events_per_second": round(head / live_seconds),
        "raw_scan_events_per_second": round(statistics.median(filtered)),
        "raw_scan_unfiltered_events_per_second": round(statistics.median(unfiltered)),
        "scan_and_decode_events_per_second": round(statistics.median(decoded)),
        "audit_rebuild_events_per_second": round(statistics.median(builds)),
        "audit_rebuild_with_comparison_events_per_second": round(statistics.median(totals)),
        "ratio_per_run": [round(b / f, 3) for b, f in zip(builds, filtered, strict=True)],
        "client_cpu_us_per_event": {name: round(statistics.median(values), 1) for name, values in cpu.items()},
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    figures["ratio"] = round(figures["audit_rebuild_events_per_second"] / figures["raw_scan_events_per_second"], 3)
    figures["scan_and_decode_ratio"] = round(
        figures["scan_and_decode_events_per_second"] / figures["raw_scan_events_per_second"], 3)
    figures["ratio_with_comparison"] = round(
        figures["audit_rebuild_with_comparison_events_per_second"] / figures["raw_scan_events_per_second"], 3)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
