"""A command batch's results are published and its offsets committed one batch behind, never ahead of them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from shared.commit_pipeline import CommitPipeline


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


def _batch(first: int, count: int, partition: int = 0) -> list[Record]:
    return [Record("commands", partition, offset) for offset in range(first, first + count)]


TP0 = TopicPartition("commands", 0)
TP1 = TopicPartition("commands", 1)


async def test_offsets_are_committed_only_after_the_batchs_answers_are_acknowledged() -> None:
    consumer, broker = Consumer(), Broker()
    pipeline: CommitPipeline[str] = CommitPipeline(broker.publish)
    assert await pipeline.hand_over(consumer, _batch(0, 3), ["a", "b", "c"])  # returns before the broker answers
    await asyncio.sleep(0.01)
    assert consumer.calls == [] and broker.published == []
    broker.release.set()
    await pipeline.drain()
    assert broker.published == ["a", "b", "c"]
    assert consumer.calls == [("commit", {TP0: 3})]


async def test_the_next_batch_waits_for_the_one_before_and_batches_commit_in_order() -> None:
    consumer, broker = Consumer(), Broker()
    pipeline: CommitPipeline[str] = CommitPipeline(broker.publish)
    await pipeline.hand_over(consumer, _batch(0, 2) + _batch(7, 1, partition=1), ["a", "b", "c"])
    second = asyncio.create_task(pipeline.hand_over(consumer, _batch(2, 2), ["d", "e"]))
    await asyncio.sleep(0.01)
    assert not second.done()  # at most one batch in flight
    broker.release.set()
    assert await second
    await pipeline.drain()
    assert broker.published == ["a", "b", "c", "d", "e"]
    assert consumer.calls == [("commit", {TP0: 2, TP1: 8}), ("commit", {TP0: 4})]


async def test_a_batch_whose_answers_fail_is_rewound_and_the_batch_after_it_comes_again_too() -> None:
    consumer, broker = Consumer(), Broker()
    pipeline: CommitPipeline[str] = CommitPipeline(broker.publish)
    broker.fail_next = True
    broker.release.set()
    await pipeline.hand_over(consumer, _batch(10, 2) + _batch(4, 1, partition=1), ["a", "b", "c"])
    assert not await pipeline.hand_over(consumer, _batch(12, 2), ["d", "e"])
    # Rewound to the failed batch's first records; nothing committed, the second batch not answered.
    assert consumer.calls == [("seek", {TP0: 10}), ("seek", {TP1: 4})]
    assert broker.published == []
    # The records come again and this time go through.
    assert await pipeline.hand_over(consumer, _batch(10, 4) + _batch(4, 1, partition=1), ["a", "b", "c", "d", "e"])
    await pipeline.drain()
    assert broker.published == ["a", "b", "c", "d", "e"]
    assert consumer.calls[-1] == ("commit", {TP0: 14, TP1: 5})


async def test_once_draining_each_batch_is_finished_before_its_handler_returns() -> None:
    consumer, broker = Consumer(), Broker()
    broker.release.set()
    pipeline: CommitPipeline[str] = CommitPipeline(broker.publish)
    await pipeline.drain()
    assert await pipeline.hand_over(consumer, _batch(0, 1), ["a"])
    assert broker.published == ["a"] and consumer.calls == [("commit", {TP0: 1})]


async def test_a_batch_without_answers_still_commits_its_offsets() -> None:
    consumer, broker = Consumer(), Broker()
    pipeline: CommitPipeline[str] = CommitPipeline(broker.publish)
    await pipeline.hand_over(consumer, _batch(5, 2), [])  # e.g. all dead-lettered, or answered one by one
    await pipeline.drain()
    assert consumer.calls == [("commit", {TP0: 7})] and broker.published == []
