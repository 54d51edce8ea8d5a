"""Bus entrance of the connections service: commands in, results out; worker reports in."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from contracts import topics
from contracts.commands import ALL_COMMANDS
from contracts.envelope import Envelope, Message
from contracts.registry import encode
from contracts.reports import ALL_REPORTS, JobReport
from contracts.results import CommandResult
from services.connections.application import Connections
from services.connections.domain.meta import Meta
from services.connections.entrypoints.batching import bounded_batches
from services.connections.entrypoints.guard import BusGuard
from shared.bus import Bus, Outgoing
from shared.batch_pipeline import BatchPipeline
from shared.consuming import Decoded, MessageGate
from shared.metrics import record_command
from shared.tracing import current_traceparent


def result_message(envelope: Envelope, result: CommandResult) -> Outgoing:
    """The command's result, keyed by command id, correlated with the command."""
    return Outgoing(
        topics.COMMAND_RESULTS,
        str(envelope.message_id),
        encode(
            {"tenant_id": envelope.tenant_id, "correlation_id": envelope.correlation_id,
             "causation_id": str(envelope.message_id), "actor": "connections"},
            result,
        ),
    )


def register(bus: Bus, app: Connections, guard: BusGuard, batch_size: int = 500) -> BatchPipeline[Outgoing]:
    """Subscribe the service's handlers on ``bus``; ``guard`` admits each command (role, tenant, credentials).

    Returns the pipeline that stores each command batch, publishes its results and commits its offsets while
    the consumer polls and decodes the next batch; drain it before the broker stops.
    """
    commands = MessageGate(bus, topics.COMMANDS, ALL_COMMANDS)
    report_gate = MessageGate(bus, topics.REPORTS, ALL_REPORTS)
    pipeline: BatchPipeline[Outgoing] = BatchPipeline(bus.publish_all)

    async def run_command(envelope: Envelope, command: Message) -> None:
        meta = Meta(envelope.tenant_id, envelope.actor, envelope.correlation_id, str(envelope.message_id),
                    trace_parent=current_traceparent())
        admitted = guard.admit(envelope, command)
        result = admitted if isinstance(admitted, CommandResult) else await asyncio.to_thread(
            app.execute, admitted, envelope.message_id, meta)
        record_command(command, "kafka", result)
        await bus.publish(result_message(envelope, result))

    async def record_report(envelope: Envelope, report: Message) -> None:
        assert isinstance(report, JobReport)
        meta = Meta(envelope.tenant_id, envelope.actor, envelope.correlation_id, str(envelope.message_id),
                    trace_parent=current_traceparent())
        await asyncio.to_thread(app.record_report, report, meta)

    async def run_commands(batch: Sequence[Decoded], admitted: list[Message | CommandResult],
                           trace_parent: str | None, answers: list[Outgoing]) -> None:
        """Commands polled together are stored in one transaction (see ``Connections.execute_batch``), or in
        several in a row when together they name more connections than one transaction may hold. Their results
        go to ``answers``, for the pipeline to publish."""
        items = [
            (command, envelope.message_id,
             Meta(envelope.tenant_id, envelope.actor, envelope.correlation_id, str(envelope.message_id),
                  trace_parent=trace_parent))
            for (_, envelope, _), command in zip(batch, admitted, strict=True) if not isinstance(command, CommandResult)
        ]
        done: list[CommandResult] = []
        for part in bounded_batches(items, lambda item: item[0], len(items)):  # a transaction's memory is bounded
            done += await asyncio.to_thread(app.execute_batch, part)
        executed = iter(done)
        results = [a if isinstance(a, CommandResult) else next(executed) for a in admitted]
        for (_, envelope, command), result in zip(batch, results, strict=True):
            record_command(command, "kafka", result)
        answers.extend(result_message(envelope, result) for (_, envelope, _), result in zip(batch, results, strict=True))

    # The handler decodes and admits a poll, then hands it to the pipeline and returns: the consumer fetches and
    # decodes the next poll while this one is stored (shared/batch_pipeline.py). Offsets are committed by the
    # pipeline, after the batch's results are out. A fetch takes up to 4 MiB of a partition (aiokafka's default,
    # 1 MiB, is about 2,000 commands): the consumer fetches again only once it has handled everything fetched,
    # and waited for that fetch each time. FastStream's own decoding of each record is skipped (``decoder``):
    # the gate decodes the records.
    @bus.subscriber(topics.COMMANDS, group_id="connections-commands", auto_offset_reset="earliest",
                    ack_policy=AckPolicy.MANUAL, batch=True, max_records=batch_size, batch_timeout_ms=5,
                    max_partition_fetch_bytes=4 * 1024 * 1024, decoder=_records)
    async def on_commands(message: KafkaMessage) -> None:
        records: tuple[Any, ...] = message.raw_message  # type: ignore[assignment]
        try:
            batch = await commands.decode_batch(records)  # the undecodable dead-lettered
            admitted = [guard.admit(envelope, command) for _, envelope, command in batch]
        except Exception:
            await message.nack()  # rewound to the batch's first records: it comes again
            raise
        trace_parent = current_traceparent()  # the batch's consume span, the same for all its commands

        async def work() -> list[Outgoing]:
            answers: list[Outgoing] = []
            await commands.handle_decoded(batch, lambda: run_commands(batch, admitted, trace_parent, answers),
                                          run_command)
            return answers

        await pipeline.hand_over(message.consumer, records, work)

    @bus.subscriber(topics.REPORTS, group_id="connections-reports", auto_offset_reset="earliest",
                       ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_report(message: KafkaMessage) -> None:
        await report_gate.handle(message, record_report)

    return pipeline


async def _records(message: StreamMessage[Any]) -> Any:
    """A batch subscriber's decoder that leaves the polled records as they are."""
    return message.raw_message
