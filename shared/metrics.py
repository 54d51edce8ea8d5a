"""Prometheus metrics of every process, and the two ways they are served.

The metric objects live in prometheus_client's default registry (with its process and GC collectors), so
each process exposes whatever it touched: the write side its commands and stored events, the relay its
position, workers their jobs. HTTP processes add a ``/metrics`` route; the relay and workers serve the
registry on ``OMNI_METRICS_PORT`` (0 = off) with :func:`serve`.

Values that live elsewhere (the relay's tracked position, the store's head, consumer groups' committed
offsets) are *sampled*: read at scrape time, or by a background task, instead of counted here.

Every name starts with ``omni_``; the read side's own lag metrics (``projection_lag_events{view}`` and
friends, from :mod:`services.projections.lag`) are served beside these on the views API's ``/metrics``.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.logging import get_logger

log = get_logger(__name__)

COMMANDS = Counter(
    "omni_commands_total", "Commands handled, by type, entrance (http or kafka) and outcome "
    "(accepted, or the refusal's reason code).", ["command", "entrance", "outcome"])
EVENTS_STORED = Counter("omni_events_stored_total", "Domain events this process stored, by stored event name.",
                        ["type"])
STORE_SAVE_SECONDS = Histogram("omni_store_save_seconds", "Time to store one command's events.")
COMMAND_BATCH_SECONDS = Histogram(
    "omni_command_batch_seconds", "Time to run and commit one batch of HTTP commands (group commit), from its "
    "start in the worker thread to its results on the event loop.",
    buckets=(0.002, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5,
             10))
COMMAND_BATCH_SIZE = Histogram("omni_command_batch_size", "HTTP commands per group-commit batch.",
                               buckets=(1, 2, 3, 5, 10, 20, 50, 100, 200))
DEAD_LETTERS = Counter("omni_dead_letters_total", "Messages parked on a dead-letter topic, by source topic and "
                       "reason code.", ["topic", "reason_code"])
RELAY_PUBLISHED = Counter("omni_relay_messages_total", "Messages the relay published to Kafka.")
JOBS = Counter("omni_jobs_total", "Driver jobs by state reached in this worker (started, succeeded, failed).",
               ["driver", "kind", "state"])
JOBS_RUNNING = Gauge("omni_jobs_running", "Driver jobs this worker is running now.", ["driver"])
JOB_SECONDS = Histogram("omni_job_duration_seconds", "Time from a job's start to its final report.",
                        ["driver", "kind", "outcome"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
                                                                300, 600, 1800))

_CONSUMER_LAG_HELP = "Messages in the group's partitions not yet committed (end offset - committed offset)."


def exposition() -> tuple[bytes, str]:
    """The default registry in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside the pod/container
    """Serve ``/metrics`` on ``port`` from a daemon thread; ``0`` means off (the default outside deployments)."""
    if port:
        from prometheus_client import start_http_server

        start_http_server(port, addr=host)
        log.info("metrics_served", port=port)


def add_route(api: Any) -> None:
    """Add ``GET /metrics`` to a FastAPI app."""
    from fastapi import Response

    async def metrics() -> Response:
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    api.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)


# --- write side -------------------------------------------------------------------------------------------


def record_command(command: Any, entrance: str, result: Any) -> None:
    """Count one handled command (a :class:`~contracts.results.CommandResult`) by its outcome."""
    outcome = "accepted" if result.accepted else (result.reason_code or "rejected")
    COMMANDS.labels(type(command).__name__, entrance, outcome).inc()


def observe_command_batch(size: int, seconds: float) -> None:
    """One group-commit batch of HTTP commands: how many, and how long it took."""
    COMMAND_BATCH_SIZE.observe(size)
    COMMAND_BATCH_SECONDS.observe(seconds)


def observe_saves(app: Any) -> None:
    """Count and time every save of an eventsourcing application (the one method every write goes through).

    The wrapper is put on the instance, so the application's code stays free of metrics.
    """
    save = app.save

    def counted_save(*objs: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        recordings = save(*objs, **kwargs)
        STORE_SAVE_SECONDS.observe(time.perf_counter() - started)
        # One increment per stored name (e.g. X.Created.v1), not per event: a batch stores hundreds of events.
        for topic, count in collections.Counter(r.notification.topic for r in recordings).items():
            EVENTS_STORED.labels(topic).inc(count)
        return recordings

    app.save = counted_save


# --- driver workers ---------------------------------------------------------------------------------------


class _Reporter(Protocol):
    async def report(self, report: Any) -> None: ...


@dataclass
class JobWatch:
    """Counts one job's states from the reports it sends and times it from start to final report."""

    driver: str
    kind: str
    started: float = field(default_factory=time.monotonic)

    def reporter(self, inner: _Reporter) -> _Reporter:
        """``inner``, counting what it sends."""
        return _WatchedReporter(inner, self)

    def saw(self, report_type: str) -> None:
        state = {"JobStarted": "started", "JobSucceeded": "succeeded", "JobFailed": "failed"}.get(report_type)
        if state is None:
            return  # progress and heartbeats are not states
        JOBS.labels(self.driver, self.kind, state).inc()
        if state != "started":
            JOB_SECONDS.labels(self.driver, self.kind, state).observe(time.monotonic() - self.started)


@dataclass
class _WatchedReporter:
    inner: _Reporter
    watch: JobWatch

    async def report(self, report: Any) -> None:
        await self.inner.report(report)
        self.watch.saw(type(report).__name__)


@contextmanager
def observe_job(driver: str, kind: Any) -> Iterator[JobWatch]:
    """Around one job in a worker: the running gauge, and a :class:`JobWatch` for its reports."""
    JOBS_RUNNING.labels(driver).inc()
    try:
        yield JobWatch(driver, str(getattr(kind, "value", kind)))
    finally:
        JOBS_RUNNING.labels(driver).dec()


# --- sampled values ---------------------------------------------------------------------------------------


class Sampled(Collector):
    """Gauges whose values are read when Prometheus scrapes, from functions given at start.

    For numbers that live in a database (a tracked position, the store's head): reading them at scrape time
    is always current and needs no background task. A failing read drops that gauge from the scrape (and
    ``omni_sample_errors`` says so) instead of failing the whole page.
    """

    def __init__(self) -> None:
        self._gauges: list[tuple[str, str, Callable[[], float]]] = []

    def add(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self._gauges.append((name, help_text, read))

    def collect(self) -> Iterable[GaugeMetricFamily]:
        errors = GaugeMetricFamily("omni_sample_errors", "Sampled gauges that could not be read in this scrape.")
        failed = 0
        for name, help_text, read in self._gauges:
            try:
                value = float(read())
            except Exception:  # noqa: BLE001 - a scrape must not fail because one source is down
                failed += 1
                continue
            yield GaugeMetricFamily(name, help_text, value=value)
        errors.add_metric([], failed)
        yield errors


def register_sampled(sampled: Sampled) -> None:
    REGISTRY.register(sampled)


def sample_relay(position: Callable[[], int], head: Callable[[], int | None]) -> Sampled:
    """The relay's tracked position, the store's head and the difference, read at scrape time."""
    sampled = Sampled()
    sampled.add("omni_relay_position", "Last store position the relay published and tracked.", position)
    sampled.add("omni_event_store_head", "Last position of the event store's notification log.",
                lambda: head() or 0)
    sampled.add("omni_relay_lag_events", "Stored events the relay has not published yet.",
                lambda: max(0, (head() or 0) - position()))
    register_sampled(sampled)
    return sampled


class ConsumerLag(Collector):
    """Consumer lag per group and partition, as last sampled by :func:`sample_consumer_lag`."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str, int], int] = {}

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily("omni_consumer_lag_messages", _CONSUMER_LAG_HELP,
                                   labels=["group", "topic", "partition"])
        for (group, topic, partition), lag in sorted(self.values.items()):
            family.add_metric([group, topic, str(partition)], lag)
        yield family
        total = GaugeMetricFamily("omni_consumer_group_lag_messages", "Consumer lag summed over the group's "
                                  "partitions (what a worker autoscaler watches).", labels=["group"])
        sums: dict[str, int] = {}
        for (group, _, _), lag in self.values.items():
            sums[group] = sums.get(group, 0) + lag
        for group, lag in sorted(sums.items()):
            total.add_metric([group], lag)
        yield total


_consumer_lag: ConsumerLag | None = None


def consumer_lag_collector() -> ConsumerLag:
    """The process's one consumer-lag collector, registered on first use."""
    global _consumer_lag  # noqa: PLW0603 - one registry per process, so one collector per process
    if _consumer_lag is None:
        _consumer_lag = ConsumerLag()
        REGISTRY.register(_consumer_lag)
    return _consumer_lag


def groups_of(broker: Any) -> list[tuple[str, list[str]]]:
    """The consumer groups a FastStream broker's subscribers use, with their topics (group-less ones left out)."""
    return [(s.group_id, list(s.topic_names)) for s in broker.subscribers if s.group_id]


def driver_job_groups(namespace: str) -> list[tuple[str, list[str]]]:
    """Every driver's worker group (``driver-<id>``, as the workers name it) with its jobs topic.

    The write side samples these too, so a driver's backlog shows (and can scale its workers) even while
    none of its workers runs.
    """
    from contracts import topics
    from contracts.drivers import CATALOG

    return [(f"{namespace}driver-{d}", [namespace + topics.driver_jobs(d)]) for d in CATALOG]


async def measure_consumer_lag(bootstrap: str, groups: Sequence[tuple[str, list[str]]],
                               **client_options: Any) -> dict[tuple[str, str, int], int]:
    """Committed offsets (admin client) against end offsets (a group-less consumer) for each group's partitions.

    A partition the group never committed counts from the start of the log (its lag is everything there):
    that is what a new consumer group with ``auto_offset_reset=earliest`` still has to read.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import GroupCoordinatorNotAvailableError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **client_options)
    await admin.start()
    await consumer.start()
    try:
        names = sorted({t for _, topics in groups for t in topics})
        known = {d["topic"]: sorted(p["partition"] for p in d["partitions"])
                 for d in await admin.describe_topics(names) if not d.get("error_code")}
        lags: dict[tuple[str, str, int], int] = {}
        for group, topics in groups:
            partitions = [TopicPartition(t, p) for t in topics for p in known.get(t, ())]
            if not partitions:
                continue
            try:
                committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            except GroupCoordinatorNotAvailableError:
                # No offsets topic yet (a new cluster where no group ever committed): nothing committed.
                committed = {}
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
            for tp in partitions:
                done = committed.get(tp)
                position = done.offset if done is not None and done.offset >= 0 else starts[tp]
                lags[(group, tp.topic, tp.partition)] = max(0, ends[tp] - position)
        return lags
    finally:
        await consumer.stop()
        await admin.close()


async def sample_consumer_lag(bootstrap: str, groups: Sequence[tuple[str, list[str]]], interval: float,
                              stop: asyncio.Event | None = None, **client_options: Any) -> None:
    """Sample the groups' lag every ``interval`` seconds until cancelled or ``stop`` is set.

    Failures (broker away) are logged and retried at the next interval: metrics must never stop a process.
    """
    collector = consumer_lag_collector()
    while stop is None or not stop.is_set():
        try:
            collector.values.update(await measure_consumer_lag(bootstrap, groups, **client_options))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - see above
            log.warning("consumer_lag_sample_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        with suppress(asyncio.TimeoutError):
            if stop is None:
                await asyncio.sleep(interval)
            else:
                await asyncio.wait_for(stop.wait(), interval)
