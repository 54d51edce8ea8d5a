"""A consumer's poll through the gate: undecodable records dead-lettered at once naming what was wrong; a poll
whose handling keeps failing is tried again, then handled one record at a time, so only the record that
keeps failing is dead-lettered and every other one is handled."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from contracts.commands import ALL_COMMANDS, DisableConnections, InstallDriver
from contracts.envelope import Envelope, Message
from contracts.registry import encode
from shared.consuming import Decoded, MessageGate


@dataclass
class Record:
    offset: int
    value: bytes
    key: bytes = b"k"
    partition: int = 0
    topic: str = "commands"
    headers: list[tuple[str, bytes]] = field(default_factory=lambda: [("type", b"InstallDriver")])


class DeadLetters:
    """The gate's bus, as far as it uses one: what was dead-lettered, and why."""

    def __init__(self) -> None:
        self.parked: list[tuple[bytes, str, str]] = []

    async def dead_letter(self, topic: str, raw: bytes, key: bytes | None, headers: dict[str, Any],
                          reason_code: str, reason: str) -> None:
        self.parked.append((raw, reason_code, reason))


def _record(offset: int, command: Message) -> Record:
    return Record(offset, encode({"tenant_id": "acme", "actor": "tests"}, command).model_dump_json().encode())


pauses: list[float] = []  # the backoffs the gate asked for, instead of sleeping them


async def _no_pause(seconds: float) -> None:
    pauses.append(seconds)


def _gate(bus: DeadLetters) -> MessageGate:
    return MessageGate(bus, "commands", ALL_COMMANDS, pause=_no_pause)  # type: ignore[arg-type]


async def test_undecodable_records_are_dead_lettered_with_the_reason_and_the_rest_decoded_in_order() -> None:
    bus = DeadLetters()
    good = [_record(0, InstallDriver(driver="pos")), _record(3, InstallDriver(driver="shopify"))]
    bad_payload = json.loads(good[0].value)
    bad_payload["payload"] = {"driver": 7}
    records = [good[0], Record(1, b"{nope"), Record(2, json.dumps(bad_payload).encode()), good[1]]
    decoded = await _gate(bus).decode_batch(records)
    assert [d.record.offset for d in decoded] == [0, 3]
    assert [type(d.payload) for d in decoded] == [InstallDriver, InstallDriver]
    assert [(raw, code) for raw, code, _ in bus.parked] == [(b"{nope", "invalid_json"),
                                                           (records[2].value, "invalid_payload")]
    assert "driver" in bus.parked[1][2]  # the reason names the field


async def test_a_poll_that_keeps_failing_is_tried_four_times_then_one_by_one_and_only_the_poison_parked() -> None:
    bus = DeadLetters()
    pauses.clear()
    poison = DisableConnections(connection_ids=["00000000-0000-4000-8000-000000000001"])
    records = [_record(0, InstallDriver(driver="pos")), _record(1, poison), _record(2, InstallDriver(driver="shopify"))]
    gate = _gate(bus)
    decoded = await gate.decode_batch(records)
    together: list[int] = []
    handled: list[str] = []

    async def handle_all() -> None:
        together.append(len(decoded))
        raise RuntimeError("one of them breaks the batch")

    async def handle_one(envelope: Envelope, payload: Message) -> None:
        if isinstance(payload, DisableConnections):
            raise RuntimeError("this one breaks every time")
        handled.append(payload.driver)  # type: ignore[attr-defined]

    await gate.handle_decoded(decoded, handle_all, handle_one)
    assert together == [3, 3, 3, 3]
    assert handled == ["pos", "shopify"]
    assert [(raw, code) for raw, code, _ in bus.parked] == [(records[1].value, "processing_failed")]
    assert "RuntimeError: this one breaks every time" in bus.parked[0][2]
    assert pauses == [0.4, 0.8, 1.6] + [0.4, 0.8, 1.6, 3.2]  # backoff between the poll's tries, then the poison's


async def test_a_poll_that_fails_once_is_handled_together_on_the_next_try() -> None:
    bus = DeadLetters()
    gate = _gate(bus)
    decoded: list[Decoded] = await gate.decode_batch([_record(0, InstallDriver(driver="pos"))])
    tries: list[int] = []

    async def handle_all() -> None:
        tries.append(1)
        if len(tries) == 1:
            raise ConnectionError("store away for a moment")

    async def handle_one(envelope: Envelope, payload: Message) -> None:
        raise AssertionError("not one by one")

    await gate.handle_decoded(decoded, handle_all, handle_one)
    assert len(tries) == 2 and bus.parked == []
