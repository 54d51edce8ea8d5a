"""Process plumbing every service uses: stop on SIGTERM/SIGINT, freeze the start-up heap (and pause the collector
over a batch), create the topics it needs."""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from contracts import topics
from contracts.drivers import CATALOG


def stop_event_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def freeze_start_up_heap() -> None:
    """Put what start-up built (modules, the app, pools, clients) out of the cyclic collector's reach.

    It lives as long as the process. Frozen, collections no longer walk it: under load a full collection takes a
    few ms instead of 50-150, and work that allocates many short-lived containers (decoding events: a few dicts
    each) stops paying for the size of the heap on every young collection. Measured on the audit rebuild's
    scan and decode: 16 us of CPU per event before, 9.7 after.
    """
    gc.collect()
    gc.freeze()


_pauses = 0  # blocks inside collector_paused, in every thread
_pauses_lock = threading.Lock()
_resume = False  # whether the collector was on when the first of them began


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off while the block runs (the whole process; overlapping uses, from any
    thread, add up: it runs again when the last one ends, if it ran when the first began).

    For work that allocates many containers without cycles and drops them all at its end, like decoding and
    folding a batch of events: reference counting frees them, and the collections that walked them meanwhile
    found nothing. Measured on the audit rebuild (heap frozen): 2.5 us of CPU per event less. Keep the block
    short (a batch): cyclic garbage other threads make waits for it too.
    """
    global _pauses, _resume
    with _pauses_lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pauses_lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()


def all_topics(namespace: str = "") -> list[str]:
    """Every topic the service uses, with the deployment's namespace."""
    base = [topics.COMMANDS, topics.COMMAND_RESULTS, topics.EVENTS, topics.REPORTS]
    base += [topics.driver_jobs(d) for d in CATALOG]
    consumed = (topics.COMMANDS, topics.REPORTS, *map(topics.driver_jobs, CATALOG))
    return [namespace + t for t in (*base, *map(topics.dead_letters, consumed))]


async def ensure_topics(bootstrap: str, names: Iterable[str], partitions: int, replication: int) -> None:
    """Create missing topics with the configured partitions and replication (existing ones are kept)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, partitions, replication) for n in names if n not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
