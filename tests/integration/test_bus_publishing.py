"""The relay's publishing on the real broker: ``Bus.publish_all`` sends on the aiokafka producer FastStream
started (its fast path) and the records are those FastStream's own publish would send.

The fast path finds the producer inside FastStream's broker; if a FastStream upgrade moved it, publishing
would quietly fall back to the slower per-message path. The first test makes that move loud.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.envelope import Envelope
from shared.bus import Bus, Outgoing, _producer_of, make_broker
from shared.local_kafka import LocalKafka
from shared.tracing import configure_tracing

pytestmark = [pytest.mark.kafka]


def _message(key: str, n: int) -> Outgoing:
    envelope = Envelope(type="ConnectionRenamed", tenant_id="acme", payload={"n": n}, correlation_id=f"corr-{n}")
    return Outgoing("connections.events.v1", key, envelope)


async def _published(kafka_broker: LocalKafka, messages: list[Outgoing], started: Callable[[Bus], None],
                     ) -> list[ConsumerRecord[bytes, bytes]]:
    """``messages`` sent by ``Bus.publish_all`` on a started broker (``started`` sees the bus first), as read
    back from the topic."""
    bus = Bus(make_broker(kafka_broker.bootstrap, "test-bus"), f"t{uuid.uuid4().hex[:8]}.")
    await bus.broker.start()
    consumer = AIOKafkaConsumer(bus.topic("connections.events.v1"), bootstrap_servers=kafka_broker.bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        started(bus)
        await bus.publish_all(messages)
        await consumer.start()
        received: list[ConsumerRecord[bytes, bytes]] = []
        while len(received) < len(messages):
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, f"only {len(received)} of {len(messages)} messages arrived"
            received += [record for records in batch.values() for record in records]
    finally:
        await consumer.stop()
        await bus.broker.stop()
    return received


async def test_publish_all_uses_the_started_aiokafka_producer_and_sends_faststreams_records(
    kafka_broker: LocalKafka,
) -> None:
    messages = [_message(key, n) for n, key in enumerate(["a", "b", "a", "c", "a", "b"])]

    def on_aiokafka(bus: Bus) -> None:
        assert isinstance(_producer_of(bus.broker), AIOKafkaProducer), \
            "FastStream keeps its aiokafka producer elsewhere now: shared/bus.py _producer_of must follow it"

    received = await _published(kafka_broker, messages, on_aiokafka)

    by_id = {str(m.envelope.message_id): m for m in messages}
    for record in received:
        headers = {name: value.decode() for name, value in record.headers}
        sent = by_id[headers["message_id"]]
        assert record.key == sent.key.encode()
        assert Envelope.model_validate_json(record.value) == sent.envelope
        assert headers["correlation_id"] == sent.envelope.correlation_id
        assert headers["type"] == "ConnectionRenamed" and headers["tenant_id"] == "acme"
        assert "content-type" in headers
    # Per key, in the order sent (each key lands on one partition).
    for key in ("a", "b", "c"):
        got = [Envelope.model_validate_json(r.value).payload["n"] for r in received if r.key == key.encode()]
        assert got == [m.envelope.payload["n"] for m in messages if m.key == key]


STORED_TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize("exporting", [False, True])
async def test_the_stored_trace_goes_on_in_the_headers_with_or_without_a_span_per_message(
    kafka_broker: LocalKafka, monkeypatch: pytest.MonkeyPatch, exporting: bool,
) -> None:
    import shared.bus

    monkeypatch.setattr(shared.bus, "exporting", lambda: exporting)
    spans = InMemorySpanExporter()
    if exporting:
        configure_tracing("test-bus", extra=spans)
    messages = [Outgoing(m.topic, m.key, m.envelope, STORED_TRACE) for m in (_message("a", 1), _message("b", 2))]
    messages.append(_message("c", 3))  # an event stored without a trace
    topics: list[str] = []
    received = await _published(kafka_broker, messages, lambda bus: topics.append(bus.topic("connections.events.v1")))

    traces = {Envelope.model_validate_json(r.value).payload["n"]: dict(r.headers).get("traceparent") for r in received}
    for n in (1, 2):
        parent = traces[n]
        assert parent is not None
        # The same trace; with spans exported, the message's own producer span is the consumer's parent.
        assert parent.decode().split("-")[1] == STORED_TRACE.split("-")[1]
        assert (parent.decode() == STORED_TRACE) is not exporting
    assert (traces[3] is None) is not exporting  # untraced: a new trace only when spans are made
    if exporting:
        trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
        producers = [s for s in spans.get_finished_spans() if s.name == topics[0] + " publish"]
        assert len(producers) == 3
