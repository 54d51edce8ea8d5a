"""A polled batch is stored while the next is decoded; its answers go out and its offsets are committed after
it, in poll order, never ahead of them; a failed batch and every batch after it come again."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from shared.batch_pipeline import BatchPipeline


@dataclass
class Record:
    topic: str
    partition: int
    offset: int


@dataclass
class Consumer:
    """What the pipeline uses of aiokafka's consumer, recording every call in order."""

    calls: list[tuple[str, dict[TopicPartition, int]]] = field(default_factory=list)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await asyncio.sleep(0)
        self.calls.append(("commit", dict(offsets)))

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.calls.append(("seek", {partition: offset}))


class Broker:
    """Publishes answers; each publish waits for ``release`` so a test decides when the broker acknowledges."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.release = asyncio.Event()
        self.fail_next = False

    async def publish(self, answers: Sequence[str]) -> None:
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("broker away")
        self.published.extend(answers)


class Store:
    """Each batch's work: records the answers it stored, in the order the work ran; waits while ``held``."""

    def __init__(self) -> None:
        self.stored: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.go = asyncio.Event()
        self.go.set()

    def work(self, answers: list[str], fail: bool = False):  # noqa: ANN201 - the pipeline's work callable
        async def run() -> list[str]:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            try:
                await self.go.wait()
                await asyncio.sleep(0)
                if fail:
                    raise RuntimeError("store away")
                self.stored.extend(answers)
                return answers
            finally:
                self.running -= 1
        return run


def _batch(first: int, count: int, partition: int = 0) -> list[Record]:
    return [Record("commands", partition, offset) for offset in range(first, first + count)]


TP0 = TopicPartition("commands", 0)
TP1 = TopicPartition("commands", 1)


async def test_the_handler_returns_before_the_batch_is_stored_answered_or_committed() -> None:
    consumer, broker, store = Consumer(), Broker(), Store()
    store.go.clear()
    pipeline: BatchPipeline[str] = BatchPipeline(broker.publish)
    assert await pipeline.hand_over(consumer, _batch(0, 3), store.work(["a", "b", "c"]))
    await asyncio.sleep(0.01)
    assert store.running == 1 and store.stored == [] and consumer.calls == []
    store.go.set()
    await asyncio.sleep(0.01)
    assert store.stored == ["a", "b", "c"] and broker.published == [] and consumer.calls == []  # broker not yet
    broker.release.set()
    await pipeline.drain()
    assert broker.published == ["a", "b", "c"]
    assert consumer.calls == [("commit", {TP0: 3})]


async def test_one_batch_works_at_a_time_and_batches_commit_in_poll_order() -> None:
    consumer, broker, store = Consumer(), Broker(), Store()
    store.go.clear()
    pipeline: BatchPipeline[str] = BatchPipeline(broker.publish)
    await pipeline.hand_over(consumer, _batch(0, 2) + _batch(7, 1, partition=1), store.work(["a", "b", "c"]))
    second = asyncio.create_task(pipeline.hand_over(consumer, _batch(2, 2), store.work(["d", "e"])))
    await asyncio.sleep(0.01)
    assert not second.done()  # handed over only once the batch before has done its work
    store.go.set()
    assert await second
    await asyncio.sleep(0.01)
    assert store.stored == ["a", "b", "c", "d", "e"] and consumer.calls == []  # both stored, neither answered
    broker.release.set()
    await pipeline.drain()
    assert store.most_at_once == 1
    assert broker.published == ["a", "b", "c", "d", "e"]
    assert consumer.calls == [("commit", {TP0: 2, TP1: 8}), ("commit", {TP0: 4})]


async def test_a_batch_whose_answers_fail_is_rewound_and_so_is_every_batch_after_it() -> None:
    consumer, broker, store = Consumer(), Broker(), Store()
    pipeline: BatchPipeline[str] = BatchPipeline(broker.publish)
    broker.fail_next = True
    await pipeline.hand_over(consumer, _batch(10, 2) + _batch(4, 1, partition=1), store.work(["a", "b", "c"]))
    await pipeline.hand_over(consumer, _batch(12, 2) + _batch(5, 3, partition=1), store.work(["d", "e", "f"]))
    broker.release.set()
    await pipeline.drain()
    # Rewound to the failed batch's first records; nothing committed, the second batch not answered either.
    assert consumer.calls == [("seek", {TP0: 10}), ("seek", {TP1: 4})]
    assert broker.published == []
    # The records come again and this time go through.
    assert await pipeline.hand_over(consumer, _batch(10, 4) + _batch(4, 4, partition=1),
                                    store.work(["a", "b", "c", "d", "e", "f"]))
    await pipeline.drain()
    assert broker.published == ["a", "b", "c", "d", "e", "f"]
    assert consumer.calls[-1] == ("commit", {TP0: 14, TP1: 8})


async def test_a_batch_whose_work_fails_is_rewound_and_not_answered() -> None:
    consumer, broker, store = Consumer(), Broker(), Store()
    broker.release.set()
    pipeline: BatchPipeline[str] = BatchPipeline(broker.publish)
    await pipeline.hand_over(consumer, _batch(0, 2), store.work(["a", "b"]))
    await pipeline.hand_over(consumer, _batch(2, 2), store.work(["c", "d"], fail=True))
    await pipeline.hand_over(consumer, _batch(7, 1, partition=1), store.work(["x"]))  # a partition of its own
    await pipeline.drain()
    assert broker.published == ["a", "b"]
    assert consumer.calls == [("commit", {TP0: 2}), ("seek", {TP0: 2}), ("seek", {TP1: 7})]


async def test_a_batch_fetched_before_a_rewind_is_dropped_and_its_other_partitions_rewound_too() -> None:
    consumer, broker, store = Consumer(), Broker(), Store()
    pipeline: BatchPipeline[str] = BatchPipeline(broker.publish)
    broker.fail_next = True
    broker.release.set()
    await pipeline.hand_over(consumer, _batch(10, 2), store.work(["a", "b"]))
    await asyncio.sleep(0.01)  # failed: partition 0 rewound to 10
    stale = _batch(12, 2) + _batch(3, 1, partition=1)  # polled before the seek took effect
    assert not await pipeline.hand_over(consumer, stale, store.work(["c", "d", "e"]))
    assert store.stored == ["a", "b"]  # the dropped batch did no work
    assert consumer.calls == [("seek", {TP0: 10}), ("seek", {TP1: 3})]
    assert await pipeline.hand_over(consumer, _batch(10, 4) + _batch(3, 1, partition=1),
                                    store.work(["a", "b", "c", "d", "e"]))
    await pipeline.drain()
    assert broker.published == ["a", "b", "c", "d", "e"]
    assert consumer.calls[-1] == ("commit", {TP0: 14, TP1: 4})


async def test_once_draining_each_batch_is_finished_before_its_handler_returns() -> None:
    consumer, broker, store = Consumer(), Broker(), Store()
    broker.release.set()
    pipeline: BatchPipeline[str] = BatchPipeline(broker.publish)
    await pipeline.drain()
    assert await pipeline.hand_over(consumer, _batch(0, 1), store.work(["a"]))
    assert broker.published == ["a"] and consumer.calls == [("commit", {TP0: 1})]


async def test_a_batch_without_answers_still_commits_its_offsets() -> None:
    consumer, broker, store = Consumer(), Broker(), Store()
    pipeline: BatchPipeline[str] = BatchPipeline(broker.publish)
    await pipeline.hand_over(consumer, _batch(5, 2), store.work([]))  # e.g. all dead-lettered, or answered one by one
    await pipeline.drain()
    assert consumer.calls == [("commit", {TP0: 7})] and broker.published == []



async def test_a_handler_cancelled_while_waiting_leaves_nothing_behind() -> None:
    consumer, broker, store = Consumer(), Broker(), Store()
    broker.release.set()
    store.go.clear()
    pipeline: BatchPipeline[str] = BatchPipeline(broker.publish)
    await pipeline.hand_over(consumer, _batch(0, 1), store.work(["a"]))
    waiting = asyncio.create_task(pipeline.hand_over(consumer, _batch(1, 1), store.work(["b"])))
    await asyncio.sleep(0.01)
    waiting.cancel()  # the consumer stops while the batch waits for the one before
    await asyncio.sleep(0.01)
    store.go.set()
    await pipeline.drain()
    assert store.stored == ["a"] and broker.published == ["a"] and consumer.calls == [("commit", {TP0: 1})]
    assert pipeline._in_flight == []  # noqa: SLF001 - no batch left that later ones would wait for or rewind
    assert await pipeline.hand_over(consumer, _batch(1, 1), store.work(["b"]))  # it comes again and goes through
    assert broker.published == ["a", "b"]
