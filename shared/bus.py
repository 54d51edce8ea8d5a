"""Bus wiring shared by every process: the Kafka broker, message headers, dead letters.

Every message is an :class:`~contracts.envelope.Envelope` as JSON. Headers repeat the envelope's ids so
tools and tracing can read them without decoding the payload.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from contracts.envelope import Envelope
from contracts.topics import dead_letters
from shared.logging import get_logger, redact_text
from shared.metrics import DEAD_LETTERS
from shared.settings import Settings
from shared.tracing import continued, kafka_middleware

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

    async def dead_letter(
        self, topic: str, raw: bytes, key: bytes | None, headers: dict[str, Any], reason_code: str, reason: str,
    ) -> None:
        """Park a message the consumer cannot handle, with the reason, and let the consumer go on."""
        out_headers = {k: (v if isinstance(v, str) else str(v)) for k, v in headers.items()}
        out_headers.update({"dlq_reason_code": reason_code, "dlq_reason": redact_text(reason)[:1000], "dlq_source_topic": topic})
        await self.broker.publish(raw, self.topic(dead_letters(topic)), key=key, headers=out_headers)
        DEAD_LETTERS.labels(topic, reason_code).inc()
        log.warning("dead_lettered", topic=topic, reason_code=reason_code, reason=reason[:300])
