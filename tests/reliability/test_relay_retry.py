"""The relay rides out a broker outage: a batch whose publishing fails is sent again, not the process ended.

The Kafka outage scenario hits this only when a publish fails while the broker is away or just back (leaders not
elected yet), which depends on timing; this pins the behaviour down without a broker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import LeaderNotAvailableError

from services.connections import relay as relay_module
from services.connections.relay import Relay

pytestmark = pytest.mark.reliability


class _FlakyBus:
    """Fails the first ``failures`` publishes the way aiokafka does right after a broker restart."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[list[Any]] = []

    async def publish_all(self, messages: list[Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise LeaderNotAvailableError
        self.sent.append(messages)


def _relay(bus: _FlakyBus) -> Relay:
    return Relay(app=None, positions=None, bus=bus, worker_key=b"", follower=None)  # type: ignore[arg-type]


def test_a_batch_that_fails_to_publish_is_sent_again_until_the_broker_takes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(relay_module, "PUBLISH_RETRY_FIRST_SECONDS", 0.01)
    bus = _FlakyBus(failures=3)
    asyncio.run(_relay(bus)._publish(["m1", "m2"], asyncio.Event()))  # type: ignore[list-item]
    assert bus.sent == [["m1", "m2"]]


def test_a_relay_told_to_stop_gives_up_the_batch_it_could_not_publish(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay_module, "PUBLISH_RETRY_FIRST_SECONDS", 0.01)

    async def stopped() -> None:
        stop = asyncio.Event()
        stop.set()
        await _relay(_FlakyBus(failures=100))._publish(["m1"], stop)  # type: ignore[list-item]

    with pytest.raises(LeaderNotAvailableError):
        asyncio.run(stopped())
