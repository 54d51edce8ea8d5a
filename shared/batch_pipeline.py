"""A batch consumer whose polls overlap: batch N is stored while N+1 is fetched and decoded, and N-1 answered.

A batch's life has three stages: the consumer's handler decodes the polled records (on the event loop), the
batch's work stores what they ask for (in a worker thread) and returns the messages that answer them, and
those answers are published and the batch's offsets committed (broker round trips). Done in a row, each
stage left the others idle. With :class:`BatchPipeline` the handler hands the decoded batch over and returns
at once, so the consumer polls and decodes the next batch while this one works, and answers the one before.

- One batch works at a time, in poll order: handing over batch N+1 waits until N's work is done.
- A batch's offsets are committed only after every one of its answers is acknowledged, and batches commit in
  poll order: a committed offset never passes a record whose answer is not out.
- If a batch's work, answers or commit fail, the consumer is rewound to its first records, and so is every
  batch handed over after it: none of them commits, all come again, and what they asked for is answered
  from what is stored (at least once, nothing lost). A batch the consumer had already fetched before such a
  rewind (its records lie past the rewound position) is dropped when it is handed over: it comes again too.
- After :meth:`drain` (the process is stopping) each batch is finished before its handler returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiokafka import TopicPartition

from shared.logging import get_logger

log = get_logger(__name__)
M = TypeVar("M")
Work = Callable[[], Coroutine[Any, Any, Sequence[M]]]  # a batch's work: stores it, returns its answers


@dataclass(eq=False)
class _Batch:
    """One handed-over batch: where its records start and end per partition, and its two background tasks."""

    first: dict[TopicPartition, int]
    after: dict[TopicPartition, int]
    stale: bool = False  # a batch before it failed: its records come again
    working: asyncio.Task[Sequence[Any]] | None = field(default=None, repr=False)
    finishing: asyncio.Task[bool] | None = field(default=None, repr=False)


class BatchPipeline(Generic[M]):
    """Runs each batch's work, then publishes its answers with ``publish`` and commits its offsets, in the
    background and in poll order."""

    def __init__(self, publish: Callable[[Sequence[M]], Awaitable[None]]) -> None:
        self.publish = publish
        self._in_flight: list[_Batch] = []
        self._resume_at: dict[TopicPartition, int] = {}  # rewound partitions: the offset their records resume at
        self._closing = False

    async def hand_over(self, consumer: Any, records: Sequence[Any], work: Work[M]) -> bool:
        """Start ``work`` for ``records`` once the batch before has done its work; answer and commit after it.

        Returns ``False`` when the batch was dropped (fetched before a rewind: its records come again).
        """
        batch = _span(records)
        if any(offset > self._resume_at.get(tp, offset) for tp, offset in batch.first.items()):
            self._rewind(consumer, batch)
            return False
        for tp in batch.first:
            self._resume_at.pop(tp, None)  # the rewound records are back
        before = self._in_flight[-1] if self._in_flight else None
        self._in_flight.append(batch)
        if before is not None and before.working is not None:
            try:
                await asyncio.wait([before.working])
            except asyncio.CancelledError:  # the consumer is stopping: this batch was not handed over
                self._in_flight.remove(batch)
                raise
        if batch.stale:  # a batch before failed meanwhile
            self._in_flight.remove(batch)
            return False
        batch.working = asyncio.create_task(work(), name="batch-work")
        batch.finishing = asyncio.create_task(self._finish(consumer, batch, before), name="batch-finish")
        if self._closing:
            return await batch.finishing
        return True

    async def drain(self) -> None:
        """Finish every batch in flight; from now on each batch is finished before its handler returns."""
        self._closing = True
        for batch in list(self._in_flight):
            if batch.finishing is not None:
                await batch.finishing

    async def _finish(self, consumer: Any, batch: _Batch, before: _Batch | None) -> bool:
        try:
            assert batch.working is not None
            answers = await batch.working
            if before is not None and before.finishing is not None:
                await asyncio.wait([before.finishing])
            if batch.stale:
                return False
            if answers:
                await self.publish(answers)
            await consumer.commit(batch.after)
            return True
        except Exception as exc:  # noqa: BLE001 - any failure: the batch comes again
            if not batch.stale:
                log.warning("batch_not_finished_rewinding", error=f"{type(exc).__name__}: {exc}"[:300],
                            partitions={f"{tp.topic}/{tp.partition}": o for tp, o in batch.first.items()})
                for later in self._in_flight[self._in_flight.index(batch):]:
                    later.stale = True
                    self._rewind(consumer, later)
            return False
        finally:
            self._in_flight.remove(batch)

    def _rewind(self, consumer: Any, batch: _Batch) -> None:
        for tp, offset in batch.first.items():
            if offset >= self._resume_at.get(tp, offset + 1):
                continue  # already rewound to an earlier batch
            self._resume_at[tp] = offset
            try:
                consumer.seek(tp, offset)
            except Exception as seek_error:  # noqa: BLE001 - revoked meanwhile: its next owner starts there
                log.warning("rewind_skipped", partition=str(tp), error=type(seek_error).__name__)


def _span(records: Sequence[Any]) -> _Batch:
    first: dict[TopicPartition, int] = {}
    after: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        first[tp] = min(first.get(tp, record.offset), record.offset)
        after[tp] = max(after.get(tp, 0), record.offset + 1)
    return _Batch(first, after)
