"""Bus wiring shared by every process: the Kafka broker, message headers, dead letters.

Every message is an :class:`~contracts.envelope.Envelope` as JSON. Headers repeat the envelope's ids so
tools and tracing can read them without decoding the payload.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

from contracts.envelope import Envelope
from contracts.topics import dead_letters
from shared.logging import get_logger, redact_text
from shared.metrics import DEAD_LETTERS
from shared.settings import Settings
from shared.tracing import continued, current_traceparent, exporting, kafka_middleware, stored_context, tracer

log = get_logger(__name__)


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: str
    envelope: Envelope
    trace_parent: str | None = None  # the stored event's trace: the relay publishes inside it (shared/tracing.py)


def kafka_security(settings: Settings) -> BaseSecurity | None:
    """FastStream's security object for the ``OMNI_KAFKA_*`` security settings (``None``: plaintext, local only).

    TLS verifies the brokers' certificates against ``kafka_ssl_cafile`` or, without one, the system's CAs.
    """
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    tls = protocol.endswith("SSL")
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile) if tls else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    assert settings.kafka_sasl_username is not None and settings.kafka_sasl_password is not None  # validated
    login = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return login[settings.kafka_sasl_mechanism](
        settings.kafka_sasl_username, settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context, use_ssl=tls,
    )


def kafka_client_options(security: BaseSecurity | None) -> dict[str, Any]:
    """The same security as keyword arguments of a bare aiokafka client (admin, lag sampling)."""
    return parse_security(security)


def make_broker(bootstrap: str, client_id: str, security: BaseSecurity | None = None) -> KafkaBroker:
    """A broker whose producer keeps order per key and survives retries without duplicates."""
    return KafkaBroker(
        bootstrap,
        client_id=client_id,
        security=security,
        acks="all",
        enable_idempotence=True,
        compression_type="gzip",
        max_request_size=1024 * 1024,
        # Records per partition gathered while a request is in flight (the idempotent producer sends one at a
        # time per partition): at aiokafka's 16 KiB the relay waited on a round trip every ~25 records.
        max_batch_size=256 * 1024,
        partitioner=KeyPartitioner(),
        logger=None,
        middlewares=(kafka_middleware(),),  # W3C trace context in the message headers
    )


def headers_of(envelope: Envelope) -> dict[str, str]:
    headers = {
        "message_id": str(envelope.message_id),
        "type": envelope.type,
        "schema_version": str(envelope.schema_version),
        "tenant_id": envelope.tenant_id,
        "correlation_id": envelope.correlation_id,
    }
    if envelope.causation_id:
        headers["causation_id"] = envelope.causation_id
    return headers


class Bus:
    """The broker plus the deployment's namespace: ``namespace + topic`` and ``namespace + group`` on Kafka.

    A namespace lets several environments (or test runs) share one Kafka cluster without seeing each other.
    """

    def __init__(self, broker: KafkaBroker, namespace: str = "") -> None:
        self.broker = broker
        self.namespace = namespace

    def topic(self, name: str) -> str:
        return self.namespace + name

    def subscriber(self, topic: str, group_id: str | None, **options: Any) -> Any:
        """A subscriber in consumer group ``group_id``; ``None`` reads every partition without a group."""
        group = None if group_id is None else self.namespace + group_id
        return self.broker.subscriber(self.topic(topic), group_id=group, **options)

    async def publish(self, message: Outgoing) -> None:
        await self.broker.publish(
            message.envelope.model_dump_json().encode(),
            self.topic(message.topic),
            key=message.key.encode(),
            headers=headers_of(message.envelope),
            correlation_id=message.envelope.correlation_id,
        )

    async def publish_all(self, messages: Sequence[Outgoing]) -> None:
        """Send all, in order per key, and return only when the broker acknowledged every one."""
        producer = _producer_of(self.broker)
        if producer is not None:
            await self._send_all(producer, messages)
            return
        futures = []
        for m in messages:
            with continued(m.trace_parent, "bus.publish", **{"messaging.destination.name": m.topic}):
                futures.append(await self.broker.publish(
                    m.envelope.model_dump_json().encode(),
                    self.topic(m.topic),
                    key=m.key.encode(),
                    headers=headers_of(m.envelope),
                    correlation_id=m.envelope.correlation_id,
                    no_confirm=True,
                ))
        await asyncio.gather(*futures)

    async def _send_all(self, producer: AIOKafkaProducer, messages: Sequence[Outgoing]) -> None:
        """:meth:`publish_all` straight on the broker's aiokafka producer: the same records (value, key, headers
        with the W3C trace context) and the same producer span per message, named like FastStream's, without
        FastStream's per-message publish machinery: the relay's hot path. Each message's span continues the trace
        its stored event carries (the command's), so the consumer's span joins that trace.

        When this process exports no spans, none is made (one cost 14.5 us, a fifth of the relay's work per
        event): the stored trace context goes on in the headers as it is, and the consumer's span continues the
        command's trace directly."""
        futures = []
        spans = tracer() if exporting() else None
        parents: dict[str | None, Context | None] = {}
        for m in messages:
            topic = self.topic(m.topic)
            if spans is None:
                futures.append(await self._send(producer, topic, m, m.trace_parent))
                continue
            if m.trace_parent not in parents:
                parents[m.trace_parent] = stored_context(m.trace_parent)
            with spans.start_as_current_span(f"{topic} publish", context=parents[m.trace_parent],
                                             kind=SpanKind.PRODUCER, attributes={
                                                 "messaging.system": "kafka", "messaging.destination.name": topic,
                                                 "messaging.operation": "publish"}):
                futures.append(await self._send(producer, topic, m, current_traceparent()))
        await asyncio.gather(*futures)

    @staticmethod
    async def _send(producer: AIOKafkaProducer, topic: str, message: Outgoing, traceparent: str | None) -> Any:
        """One record as FastStream's publish makes it, its headers carrying ``traceparent`` (the W3C context)."""
        headers = {"content-type": "", "correlation_id": message.envelope.correlation_id, **headers_of(message.envelope)}
        if traceparent:
            headers["traceparent"] = traceparent
        return await producer.send(topic, message.envelope.model_dump_json().encode(), key=message.key.encode(),
                                   headers=[(name, value.encode()) for name, value in headers.items()])

    async def dead_letter(
        self, topic: str, raw: bytes, key: bytes | None, headers: dict[str, Any], reason_code: str, reason: str,
    ) -> None:
        """Park a message the consumer cannot handle, with the reason, and let the consumer go on."""
        out_headers = {k: (v if isinstance(v, str) else str(v)) for k, v in headers.items()}
        out_headers.update({"dlq_reason_code": reason_code, "dlq_reason": redact_text(reason)[:1000], "dlq_source_topic": topic})
        await self.broker.publish(raw, self.topic(dead_letters(topic)), key=key, headers=out_headers)
        DEAD_LETTERS.labels(topic, reason_code).inc()
        log.warning("dead_lettered", topic=topic, reason_code=reason_code, reason=reason[:300])


class KeyPartitioner:
    """aiokafka's default partitioner (the Java client's murmur2 of the key, so every producer puts a key on the
    same partition), remembering the hashes of recent keys: one connection's messages share a key, and the
    pure-Python hash was a visible share of the relay's time."""

    def __init__(self, keys: int = 65_536) -> None:
        self._hash = functools.lru_cache(maxsize=keys)(murmur2)

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return DefaultPartitioner()(key, all_partitions, available)
        return all_partitions[(self._hash(key) & 0x7FFFFFFF) % len(all_partitions)]


def _producer_of(broker: KafkaBroker) -> AIOKafkaProducer | None:
    """The started aiokafka producer under a FastStream broker (``None``: not started, or FastStream keeps it
    elsewhere in another version; then :meth:`Bus.publish_all` publishes through FastStream)."""
    holder = getattr(getattr(broker, "config", None), "producer", None)
    producer = getattr(getattr(holder, "_producer", None), "producer", None)
    return producer if isinstance(producer, AIOKafkaProducer) else None
