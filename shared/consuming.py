"""The one way every consumer handles a Kafka message: decode, handle, or dead-letter with the reason.

- Undecodable (not JSON, bad envelope, unknown type, invalid payload): dead-lettered at once.
- Handling raises: the message is redelivered (nack) a few times with backoff, then dead-lettered. A batch
  (a batch subscriber's poll) is tried again in place a few times, then handled one message at a time.
Either way the consumer goes on with the next message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import structlog
from faststream.kafka.message import KafkaMessage

from contracts.envelope import Envelope, Message
from contracts.registry import UndecodableMessage, decode
from shared.bus import Bus
from shared.logging import get_logger

log = get_logger(__name__)
MAX_ATTEMPTS = 5

Handler = Callable[[Envelope, Message], Awaitable[None]]


class Decoded(NamedTuple):
    """A polled record and what it decoded to."""

    record: Any
    envelope: Envelope
    payload: Message


class MessageGate:
    """Counts failed attempts per message so a poison message cannot stall its partition forever."""

    def __init__(self, bus: Bus, topic: str, allowed: tuple[type[Message], ...],
                 pause: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.bus = bus
        self.topic = topic
        self.allowed = allowed
        self.pause = pause  # the backoff between attempts
        self._failures: dict[tuple[int, int], int] = {}

    async def handle(self, message: KafkaMessage, handler: Handler) -> None:
        raw = message.raw_message
        record: Any = raw[0] if isinstance(raw, tuple) else raw
        body: bytes = message.body if isinstance(message.body, bytes) else bytes(message.body)
        headers = dict(message.headers or {})
        try:
            envelope, payload = decode(body, self.allowed)
        except UndecodableMessage as bad:
            await self.bus.dead_letter(self.topic, body, record.key, headers, bad.reason_code, bad.message)
            return
        slot = (record.partition, record.offset)
        with structlog.contextvars.bound_contextvars(
            correlation_id=envelope.correlation_id, tenant_id=envelope.tenant_id, message_type=envelope.type,
        ):
            try:
                await handler(envelope, payload)
            except Exception as exc:
                attempts = self._failures.get(slot, 0) + 1
                self._failures[slot] = attempts
                if attempts >= MAX_ATTEMPTS:
                    self._failures.pop(slot, None)
                    reason = f"{type(exc).__name__}: {exc}"[:1000]
                    await self.bus.dead_letter(self.topic, body, record.key, headers, "processing_failed", reason)
                    return
                log.warning("handling_failed_will_retry", attempt=attempts, error=type(exc).__name__)
                await self.pause(_backoff(attempts))
                raise
            self._failures.pop(slot, None)

    async def decode_batch(self, records: Sequence[Any]) -> list[Decoded]:
        """The records of a batch (``batch=True`` subscriber) decoded, in order; undecodable ones are
        dead-lettered one by one and left out."""
        decoded: list[Decoded] = []
        for record in records:
            body = record.value or b""
            try:
                decoded.append(Decoded(record, *decode(body, self.allowed)))
            except UndecodableMessage as bad:
                headers = {k: v.decode(errors="replace") for k, v in record.headers}
                await self.bus.dead_letter(self.topic, body, record.key, headers, bad.reason_code, bad.message)
        return decoded

    async def handle_decoded(self, decoded: Sequence[Decoded], handle_all: Callable[[], Awaitable[None]],
                             handler: Handler) -> None:
        """``handle_all`` handles the decoded records together; while it fails it is tried again with backoff,
        and if it keeps failing the records are handled one at a time with ``handler`` instead, so one poison
        message cannot hold back the others. Returns when each record is handled or dead-lettered."""
        for attempt in range(1, MAX_ATTEMPTS):
            try:
                await handle_all()
                return
            except Exception as exc:  # noqa: BLE001 - tried again, then one by one
                if attempt == MAX_ATTEMPTS - 1:
                    log.warning("batch_failed_handling_one_by_one", size=len(decoded), error=type(exc).__name__)
                    break
                log.warning("batch_failed_will_retry", attempt=attempt, size=len(decoded), error=type(exc).__name__)
                await self.pause(_backoff(attempt))
        for record, envelope, payload in decoded:
            await self._handle_alone(record, envelope, payload, handler)

    async def _handle_alone(self, record: Any, envelope: Envelope, payload: Message, handler: Handler) -> None:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await handler(envelope, payload)
                return
            except Exception as exc:  # noqa: BLE001 - after the last attempt it is dead-lettered, never lost
                if attempt == MAX_ATTEMPTS:
                    headers = {k: v.decode(errors="replace") for k, v in record.headers}
                    reason = f"{type(exc).__name__}: {exc}"[:1000]
                    await self.bus.dead_letter(self.topic, record.value or b"", record.key, headers,
                                               "processing_failed", reason)
                    return
                await self.pause(_backoff(attempt))


def _backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt``: 0.4, 0.8, 1.6, 3.2, then 5 at most."""
    return min(0.2 * 2**attempt, 5)
