"""A batch consumer's answers published, and its offsets committed, while the next batch is already handled.

A batch handler stores what its records ask for and returns the messages that answer them (command results).
Publishing those and committing the batch's offsets takes a few broker round trips; done inline they left the
store idle for each of them. :class:`CommitPipeline` does them in the background while the consumer polls and
handles the next batch:

- at most one batch is in flight: handing over batch N+1 first waits for batch N's answers and commit;
- a batch's offsets are committed only after every one of its answers is acknowledged, and batches commit in
  order: a committed offset never passes a record whose answer is not out;
- if batch N's answers or commit fail, the consumer is rewound to N's first records and the batch after it is
  dropped unanswered: both come again, and what they asked for answers from what is stored (at least once,
  nothing lost);
- after :meth:`drain` (the process is stopping) each batch is finished before its handler returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from aiokafka import TopicPartition

from shared.logging import get_logger

log = get_logger(__name__)
M = TypeVar("M")


class CommitPipeline(Generic[M]):
    """Publishes each batch's answers with ``publish`` and then commits its offsets, one batch behind."""

    def __init__(self, publish: Callable[[Sequence[M]], Awaitable[None]]) -> None:
        self.publish = publish
        self._in_flight: asyncio.Task[None] | None = None
        self._rewind_to: dict[TopicPartition, int] = {}
        self._consumer: Any = None
        self._closing = False

    async def hand_over(self, consumer: Any, records: Sequence[Any], answers: Sequence[M]) -> bool:
        """Finish the batch before, then publish ``answers`` and commit ``records``' offsets in the background.

        Returns ``False`` when the batch before failed: the consumer was rewound to it, and this batch (its
        records come again) was neither answered nor committed.
        """
        if not await self._settle():
            return False
        first: dict[TopicPartition, int] = {}
        after: dict[TopicPartition, int] = {}
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            first[partition] = min(first.get(partition, record.offset), record.offset)
            after[partition] = max(after.get(partition, 0), record.offset + 1)
        self._rewind_to, self._consumer = first, consumer
        self._in_flight = asyncio.create_task(self._finish(consumer, answers, after), name="commit-pipeline")
        if self._closing:
            return await self._settle()
        return True

    async def drain(self) -> None:
        """Finish the batch in flight; from now on each batch is finished before its handler returns."""
        self._closing = True
        await self._settle()

    async def _finish(self, consumer: Any, answers: Sequence[M], offsets: dict[TopicPartition, int]) -> None:
        if answers:
            await self.publish(answers)
        await consumer.commit(offsets)

    async def _settle(self) -> bool:
        task, self._in_flight = self._in_flight, None
        if task is None:
            return True
        try:
            await task
        except Exception as exc:  # noqa: BLE001 - any failure: the batch comes again
            log.warning("batch_answers_not_delivered_rewinding", error=f"{type(exc).__name__}: {exc}"[:300],
                        partitions={f"{tp.topic}/{tp.partition}": offset for tp, offset in self._rewind_to.items()})
            for partition, offset in self._rewind_to.items():
                try:
                    self._consumer.seek(partition, offset)
                except Exception as seek_error:  # noqa: BLE001 - revoked meanwhile: its next owner starts there
                    log.warning("rewind_skipped", partition=str(partition), error=type(seek_error).__name__)
            return False
        return True
