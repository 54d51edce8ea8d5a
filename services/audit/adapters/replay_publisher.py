"""Publishing replays on the project's :class:`~shared.bus.Bus`: the same envelopes, plus a ``replay`` header.

The envelope (and so the message id) is exactly what the relay sent the first time; consumers that dedupe by
message id drop what they already have, and the ``replay: true`` header tells everyone else why it came again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from shared.bus import Bus, Outgoing, headers_of

REPLAY_HEADER = "replay"


class KafkaReplayPublisher:
    """A :class:`~services.audit.ports.Publisher` sending through the bus's broker and namespace."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Send all (in order per key, as the relay does) and wait until the broker acknowledged each."""
        futures = [
            await self.bus.broker.publish(
                m.envelope.model_dump_json().encode(),
                self.bus.topic(m.topic),
                key=m.key.encode(),
                headers={**headers_of(m.envelope), REPLAY_HEADER: "true"},
                correlation_id=m.envelope.correlation_id,
                no_confirm=True,
            )
            for m in messages
        ]
        await asyncio.gather(*futures)
