"""Group commit for single commands: requests arriving while a batch is being stored go into the next one.

Alone, a command runs at once (a batch of one). Under load, many HTTP commands share one transaction
(``Connections.execute_batch``), so the store's round trips per command fall instead of piling up in threads
that all wait for the database. The transaction runs in a worker thread while the event loop goes on
accepting requests; the next batch starts as soon as the previous one is committed (no waiting to fill it).
One batch at a time: HTTP commands of a tenant touch the same tenant aggregate, so two transactions at once
would conflict and be run again one command at a time.

A batch also holds at most :data:`MAX_CONNECTIONS_PER_BATCH` connections named by its commands (a bulk
command names up to 500): a transaction keeps every aggregate it touched, with its new events, in memory
until it commits, so 200 bulk commands in one transaction would hold 100,000 connections.
A command is never split: one naming more than the bound is a batch of its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import Callable, Sequence
from typing import TypeVar
from uuid import UUID

from contracts import commands as cmd
from contracts.results import CommandResult
from services.connections.application import Connections
from services.connections.domain.meta import Meta
from shared.metrics import observe_command_batch

_Waiting = tuple[cmd.Message, UUID, Meta, "asyncio.Future[CommandResult]", contextvars.Context]
T = TypeVar("T")

MAX_CONNECTIONS_PER_BATCH = 1_000


def connections_named(command: cmd.Message) -> int:
    """How many connections ``command`` loads at most (1 for a command about one connection or a driver)."""
    return max(1, len(getattr(command, "connection_ids", ()) or ()))


def bounded_batches(items: Sequence[T], command_of: Callable[[T], cmd.Message], max_size: int,
                    max_connections: int = MAX_CONNECTIONS_PER_BATCH) -> list[list[T]]:
    """``items`` in order, cut into consecutive batches of at most ``max_size`` commands naming at most
    ``max_connections`` connections together; a command is never split (one over the bound goes alone)."""
    batches: list[list[T]] = []
    start = 0
    while start < len(items):
        taken = _first_batch_length(items[start:], command_of, max_size, max_connections)
        batches.append(list(items[start:start + taken]))
        start += taken
    return batches


def _first_batch_length(items: Sequence[T], command_of: Callable[[T], cmd.Message], max_size: int,
                        max_connections: int = MAX_CONNECTIONS_PER_BATCH) -> int:
    """How many of ``items`` the first of :func:`bounded_batches` takes (reads no further than that batch)."""
    weight = 0
    for count, item in enumerate(items[:max_size]):
        weight += connections_named(command_of(item))
        if count and weight > max_connections:
            return count
    return min(len(items), max_size)


class CommandBatcher:
    """Runs commands through ``execute_batch``, one batch at a time, at most ``max_size`` per batch."""

    def __init__(self, app: Connections, max_size: int = 200) -> None:
        self._app = app
        self._max_size = max_size
        self._waiting: list[_Waiting] = []
        self._draining: asyncio.Task[None] | None = None

    async def execute(self, command: cmd.Message, command_id: UUID, meta: Meta) -> CommandResult:
        """The command's result, as ``Connections.execute`` would answer it."""
        future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((command, command_id, meta, future, contextvars.copy_context()))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            taken = _first_batch_length(self._waiting, lambda waiting: waiting[0], self._max_size)
            batch, self._waiting = self._waiting[:taken], self._waiting[taken:]
            commands = [(c, i, m) for c, i, m, *_ in batch]
            # In the context of the batch's first request: the store's span joins that request's trace.
            run = functools.partial(batch[0][4].run, self._app.execute_batch, commands)
            started = time.perf_counter()
            try:
                results = await loop.run_in_executor(None, run)
            except Exception as exc:  # noqa: BLE001 - every request of the batch answers with the failure
                for *_, future, _ in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            finally:
                observe_command_batch(len(batch), time.perf_counter() - started)
            for (*_, future, _), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
