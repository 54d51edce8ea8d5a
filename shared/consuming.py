"""The one way every consumer handles a Kafka message: decode, handle, or dead-letter with the reason.

- Undecodable (not JSON, bad envelope, unknown type, invalid payload): dead-lettered at once.
- Handling raises: the message is redelivered (nack) a few times with backoff, then dead-lettered.
Either way the consumer goes on with the next message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from faststream.kafka.message import KafkaMessage

from contracts.envelope import Envelope, Message
from contracts.registry import UndecodableMessage, decode
from shared.bus import Bus
from shared.logging import get_logger

log = get_logger(__name__)
MAX_ATTEMPTS = 5

Handler = Callable[[Envelope, Message], Awaitable[None]]
BatchHandler = Callable[[list[tuple[Envelope, Message]]], Awaitable[None]]


class MessageGate:
    """Counts failed attempts per message so a poison message cannot stall its partition forever."""

    def __init__(self, bus: Bus, topic: str, allowed: tuple[type[Message], ...]) -> None:
        self.bus = bus
        self.topic = topic
        self.allowed = allowed
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
                await asyncio.sleep(min(0.2 * 2**attempts, 5))
                raise
            self._failures.pop(slot, None)

    async def handle_batch(self, message: KafkaMessage, batch_handler: BatchHandler, handler: Handler) -> None:
        """A batch of records (``batch=True`` subscriber): the decodable ones are handled together.

        Undecodable records are dead-lettered one by one. If handling the batch keeps failing, the records
        are handled one at a time instead, so one poison message cannot hold back the others.
        """
        records: tuple[Any, ...] = message.raw_message  # type: ignore[assignment]
        decoded: list[tuple[Envelope, Message]] = []
        for record in records:
            body = record.value or b""
            try:
                decoded.append(decode(body, self.allowed))
            except UndecodableMessage as bad:
                headers = {k: v.decode(errors="replace") for k, v in record.headers}
                await self.bus.dead_letter(self.topic, body, record.key, headers, bad.reason_code, bad.message)
        if not decoded:
            return
        slot = (records[0].partition, records[0].offset)
        try:
            await batch_handler(decoded)
        except Exception as exc:
            attempts = self._failures.get(slot, 0) + 1
            self._failures[slot] = attempts
            if attempts < MAX_ATTEMPTS - 1:
                log.warning("batch_failed_will_retry", attempt=attempts, size=len(decoded), error=type(exc).__name__)
                await asyncio.sleep(min(0.2 * 2**attempts, 5))
                raise
            self._failures.pop(slot, None)
            log.warning("batch_failed_handling_one_by_one", size=len(decoded), error=type(exc).__name__)
            for record, (envelope, payload) in zip((r for r in records if _decodes(r, self.allowed)), decoded,
                                                   strict=True):
                await self._handle_alone(record, envelope, payload, handler)
            return
        self._failures.pop(slot, None)

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
                await asyncio.sleep(min(0.2 * 2**attempt, 5))


def _decodes(record: Any, allowed: tuple[type[Message], ...]) -> bool:
    try:
        decode(record.value or b"", allowed)
    except UndecodableMessage:
        return False
    return True
