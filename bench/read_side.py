"""Read-side benchmarks: projection lag under a steady write rate, view rebuild, the list query."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench import baselines
from bench.harness import HEADERS, TENANT, Deployment, Infra, deployment
from bench.profiling import Spy
from bench.seed import Seeder
from bench.stats import Goal, Measurement, Spread, percentile
from shared.settings import Store

PER_SAVE = 4  # connections per transaction of the steady writer: 4 x 3 events


@dataclass
class LagConfig:
    events_per_second: float = 1_000.0
    seconds: float = 8.0


async def _steady_lag(deployed: Deployment, seeder: Seeder, rate: float, seconds: float, first: int,
                      ) -> tuple[list[float], float]:
    """Write ``rate`` events/s for ``seconds``; after each commit ask the view for the new connection with
    ``min_position`` (read-your-writes): the answer's arrival minus the commit is the lag, in ms."""
    lags: list[float] = []
    saves = int(rate * seconds / (PER_SAVE * 3))
    interval = PER_SAVE * 3 / rate
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=deployed.views, headers=HEADERS, timeout=30) as client:
        async def follow(position: int, connection_id: str, committed: float) -> None:
            # The API waits up to 5 s per request (503 after): a view further behind is asked again.
            for _ in range(12):
                response = await client.get(f"/v1/connections/{connection_id}", params={"min_position": position})
                if response.status_code == 200:
                    lags.append((time.perf_counter() - committed) * 1000)
                    return

        tasks = []
        started = time.perf_counter()
        for n in range(saves):
            delay = started + n * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            position, ids = await loop.run_in_executor(None, seeder.save, first + n * PER_SAVE, PER_SAVE)
            tasks.append(asyncio.create_task(follow(position, str(ids[-1]), time.perf_counter())))
        written = saves * PER_SAVE * 3 / (time.perf_counter() - started)
        await asyncio.gather(*tasks)
    return lags, written


def projection_lag(infra: Infra, store: Store, repeats: int, config: LagConfig) -> Measurement:
    limit = 100.0 if store is Store.POSTGRES else 250.0
    with deployment(infra, store, f"lag{store.value[:2]}") as deployed:
        seeder = Seeder(deployed.settings(), TENANT)
        seeder.save(0, 10)
        deployed.start_projections()
        p50s, p99s, rates = [], [], []
        first = 1_000
        try:
            for _ in range(repeats):
                lags, written = asyncio.run(_steady_lag(deployed, seeder, config.events_per_second, config.seconds,
                                                        first))
                first += 100_000
                p50s.append(percentile(lags, 0.5))
                p99s.append(percentile(lags, 0.99))
                rates.append(written)
            measurement = Measurement(
                f"projection_lag_{store.value}", f"Projection lag at {config.events_per_second:.0f} events/s "
                f"({'PostgreSQL' if store is Store.POSTGRES else 'SQLite'})", "ms p99", Spread(p99s),
                p50=Spread(p50s), p99=Spread(p99s),
                details={"events_per_second_written": rates, "seconds": config.seconds,
                         "events_per_transaction": PER_SAVE * 3},
                notes=["Lag = commit of a write -> the query API answers for the new connection with "
                       "min_position (the product's read-your-writes); it includes one HTTP request."],
            )
            measurement.goals = [Goal(f"p99 under {limit:.0f} ms", measurement.value.median, limit, False)]
            if not measurement.met:
                spy = Spy(deployed.pid("projections"), config.seconds, infra.root / f"lag_{store.value}.raw")
                asyncio.run(_steady_lag(deployed, seeder, config.events_per_second, config.seconds, first))
                spy.wait()
                measurement.profile = spy.summary()
            return measurement
        finally:
            seeder.close()


def rebuild_speed(deployed: Deployment, repeats: int) -> Measurement:
    """The connection list rebuilt from the store in this process, beside a raw scan of the same store."""
    from services.projections.bootstrap import build_read_side
    from services.projections.rebuild import RebuildProgress, rebuild

    settings = deployed.settings()
    side = build_read_side(settings)
    rates, anchors, applied = [], [], []
    try:
        projection = side.runner.by_name("connection_list")
        for _ in range(repeats):
            anchor, scanned = baselines.scan_events_per_second(settings)
            anchors.append(anchor)
            progress = rebuild(side.store, side.views, projection, progress=RebuildProgress("connection_list"))
            rates.append(progress.position / progress.seconds)
            applied.append(progress.events_applied)
    finally:
        side.close()
    measurement = Measurement(
        "view_rebuild", "View rebuild (connection list, PostgreSQL)", "events/s", Spread(rates),
        "raw select_notifications scan of the same store", "events/s", Spread(anchors),
        details={"store_events": scanned, "events_applied": applied},
        notes=["events/s = store positions covered per second (as RebuildProgress reports it); the rebuild "
               "reads only the topics the view uses and applies them in 5,000-event transactions."],
    )
    measurement.goals = [Goal("at least 30% of the raw scan", measurement.ratio or 0.0, 0.3, True),
                         Goal("at least 20,000 events/s", measurement.value.median, 20_000, True)]
    if not measurement.met:
        measurement.profile = _profile_in_process(lambda: rebuild(
            *_side_parts(settings), progress=RebuildProgress("connection_list")))
    return measurement


def _side_parts(settings: Any) -> tuple[Any, Any, Any]:
    from services.projections.bootstrap import build_read_side

    side = build_read_side(settings)
    return side.store, side.views, side.runner.by_name("connection_list")


def _profile_in_process(work: Any) -> list[str]:
    """pyinstrument-free: py-spy on our own pid while ``work`` runs in a thread."""
    import os
    import tempfile
    from pathlib import Path

    out = Path(tempfile.mkdtemp()) / "self.raw"
    thread = threading.Thread(target=work)
    thread.start()
    spy = Spy(os.getpid(), 6, out)
    thread.join()
    spy.wait()
    return spy.summary()


LIST_QUERIES: tuple[dict[str, Any], ...] = (
    {"limit": 50},
    {"status": "active", "limit": 50},
    {"status": "active", "driver": "pos", "limit": 50},
    {"driver": "shopware6", "sort": "created_at", "order": "desc", "limit": 50},
    {"q": "Outlet", "limit": 50},
    {"status": "inactive", "sort": "updated_at", "order": "desc", "limit": 100},
)


def list_latencies(deployed: Deployment, rounds: int = 25, by_query: dict[str, list[float]] | None = None,
                   ) -> list[float]:
    """Each query of :data:`LIST_QUERIES` and its next 2 pages (by cursor), ``rounds`` times; ms each (also
    kept per query in ``by_query``, to tell which filter is slow)."""
    times: list[float] = []
    with httpx.Client(base_url=deployed.views, headers=HEADERS, timeout=30) as client:
        client.get("/v1/connections", params={"limit": 1})
        for _ in range(rounds):
            for params in LIST_QUERIES:
                cursor = None
                for _page in range(3):
                    started = time.perf_counter()
                    response = client.get("/v1/connections", params={**params, **({"cursor": cursor} if cursor else {})})
                    times.append((time.perf_counter() - started) * 1000)
                    if by_query is not None:
                        by_query.setdefault("&".join(f"{k}={v}" for k, v in params.items()), []).append(times[-1])
                    response.raise_for_status()
                    cursor = response.json()["next_cursor"]
                    if not cursor:
                        break
    return times


def wait_views(deployed: Deployment, head: int, timeout: float = 600) -> float:
    """Seconds until the connection list applied ``head`` (read-your-writes with 5 s waits, repeated)."""
    started = time.monotonic()
    with httpx.Client(base_url=deployed.views, headers=HEADERS, timeout=30) as client:
        while time.monotonic() - started < timeout:
            deployed.stack.check_alive()
            if client.get("/v1/connections", params={"limit": 1, "min_position": head}).status_code == 200:
                return time.monotonic() - started
    raise TimeoutError(f"views did not reach {head} within {timeout} s")
