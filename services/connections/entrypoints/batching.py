"""Group commit for single commands: requests arriving while a batch is being stored go into the next one.

Alone, a command runs at once (a batch of one). Under load, many HTTP commands share one transaction
(``Connections.execute_batch``), so the store's round trips per command fall instead of piling up in threads
that all wait for the database.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from contracts import commands as cmd
from contracts.results import CommandResult
from services.connections.application import Connections
from services.connections.domain.meta import Meta

_Waiting = tuple[cmd.Message, UUID, Meta, "asyncio.Future[CommandResult]"]


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
        self._waiting.append((command, command_id, meta, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max_size], self._waiting[self._max_size:]
            try:
                results = await asyncio.to_thread(self._app.execute_batch, [(c, i, m) for c, i, m, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every request of the batch answers with the failure
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (*_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
