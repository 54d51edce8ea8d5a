"""Consumers tolerate what they should: unknown fields, unknown types (named for dead letters), old versions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import uuid4

import pytest

from contracts import registry
from contracts.commands import ALL_COMMANDS, CreateConnection, InstallDriver
from contracts.envelope import Message
from contracts.events import ConnectionCreated
from contracts.registry import UndecodableMessage, decode, encode, register_upcaster


class PingV3(Message):
    """A message only these tests know, at its third version: ``target`` was ``host`` in v1, ``port`` new in v3."""

    message_type = "ContractsTestPing"
    schema_version = 3

    target: str
    port: int


@pytest.fixture
def ping_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """PingV3 is current; v1 and v2 are accepted by upcasting. The real tables are restored afterwards."""
    monkeypatch.setitem(registry.MESSAGES, ("ContractsTestPing", 3), PingV3)
    monkeypatch.setattr(registry, "UPCASTERS", dict(registry.UPCASTERS))
    register_upcaster("ContractsTestPing", 1, _rename_host, accepted_until=date(2027, 6, 30))
    register_upcaster("ContractsTestPing", 2, _default_port, accepted_until=date(2027, 12, 31))
    yield


def _rename_host(payload: dict[str, Any]) -> dict[str, Any]:
    return {"target": payload.pop("host"), **payload}


def _default_port(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "port": payload.get("port", 443)}


def _raw(message_type: str, version: int, payload: dict[str, Any], **envelope: Any) -> bytes:
    return json.dumps({
        "message_id": str(uuid4()), "type": message_type, "schema_version": version, "tenant_id": "acme",
        "payload": payload, **envelope,
    }).encode()


def test_unknown_optional_fields_in_the_payload_are_ignored() -> None:
    raw = _raw("InstallDriver", 1, {"driver": "pos", "licence_tier": "gold", "nested": {"a": 1}})

    envelope, payload = decode(raw)

    assert payload == InstallDriver(driver="pos")
    assert envelope.type == "InstallDriver"


def test_unknown_fields_in_the_envelope_are_ignored() -> None:
    raw = _raw("InstallDriver", 1, {"driver": "pos"}, trace_parent="00-abc-def-01", region="eu-1")

    _, payload = decode(raw)

    assert payload == InstallDriver(driver="pos")


def test_a_newer_producer_event_with_extra_fields_decodes_into_the_known_fields() -> None:
    payload = {**ConnectionCreated.model_json_schema()["examples"][0], "colour_scheme": "dark"}

    _, event = decode(_raw("ConnectionCreated", 1, payload))

    assert isinstance(event, ConnectionCreated) and event.name == "Berlin store"


def test_an_unknown_message_type_is_undecodable_with_reason_unknown_type() -> None:
    with pytest.raises(UndecodableMessage) as refused:
        decode(_raw("ReticulateSplines", 1, {"splines": 3}))

    assert refused.value.reason_code == "unknown_type"
    assert "unknown message type 'ReticulateSplines' version 1" in refused.value.message


def test_a_known_type_at_an_unknown_version_is_unknown_type() -> None:
    with pytest.raises(UndecodableMessage) as refused:
        decode(_raw("InstallDriver", 7, {"driver": "pos"}))

    assert refused.value.reason_code == "unknown_type"


def test_a_message_this_consumer_does_not_take_is_unknown_type_here() -> None:
    raw = encode({"tenant_id": "acme"}, ConnectionCreated.model_validate(
        ConnectionCreated.model_json_schema()["examples"][0])).model_dump_json()

    with pytest.raises(UndecodableMessage) as refused:
        decode(raw, ALL_COMMANDS)

    assert refused.value.reason_code == "unknown_type"


@pytest.mark.parametrize(
    ("raw", "reason_code"),
    [
        (b"\xff\xfe not json", "invalid_json"),
        (b"[1, 2]", "invalid_envelope"),
        (json.dumps({"type": "InstallDriver", "payload": {}}).encode(), "invalid_envelope"),
        (_raw("InstallDriver", 1, {"driver": "Not A Driver!"}), "invalid_payload"),
    ],
)
def test_every_undecodable_message_names_its_reason(raw: bytes, reason_code: str) -> None:
    with pytest.raises(UndecodableMessage) as refused:
        decode(raw)

    assert refused.value.reason_code == reason_code


@pytest.mark.usefixtures("ping_registry")
def test_an_older_version_is_upcast_to_the_current_model() -> None:
    raw = _raw("ContractsTestPing", 2, {"target": "shop.example.com", "port": 8443})

    envelope, payload = decode(raw)

    assert payload == PingV3(target="shop.example.com", port=8443)
    assert envelope.schema_version == 3, "the envelope names the version of the payload it returns"


@pytest.mark.usefixtures("ping_registry")
def test_upcasters_chain_from_the_oldest_accepted_version() -> None:
    raw = _raw("ContractsTestPing", 1, {"host": "shop.example.com"})

    envelope, payload = decode(raw)

    assert payload == PingV3(target="shop.example.com", port=443)
    assert envelope.payload == {"target": "shop.example.com", "port": 443}


@pytest.mark.usefixtures("ping_registry")
def test_the_current_version_decodes_without_upcasting() -> None:
    _, payload = decode(_raw("ContractsTestPing", 3, {"target": "a", "port": 1}))

    assert payload == PingV3(target="a", port=1)


@pytest.mark.usefixtures("ping_registry")
def test_an_old_version_that_cannot_be_upcast_is_undecodable_not_a_crash() -> None:
    with pytest.raises(UndecodableMessage) as refused:
        decode(_raw("ContractsTestPing", 1, {"hostname": "typo"}))

    assert refused.value.reason_code == "invalid_payload"
    assert "could not be upcast" in refused.value.message


@pytest.mark.usefixtures("ping_registry")
def test_a_version_below_one_is_an_invalid_envelope() -> None:
    with pytest.raises(UndecodableMessage) as refused:
        decode(_raw("ContractsTestPing", 0, {"target": "a"}))

    assert refused.value.reason_code == "invalid_envelope"


@pytest.mark.usefixtures("ping_registry")
def test_registering_a_second_upcaster_for_the_same_version_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_upcaster("ContractsTestPing", 1, _rename_host)


def test_every_registered_upcaster_states_its_deprecation_window() -> None:
    assert [key for key, u in registry.UPCASTERS.items() if u.accepted_until is None] == []


def test_encode_then_decode_round_trips_a_command() -> None:
    command = CreateConnection(name="Till 1", driver="pos")
    envelope = encode({"tenant_id": "acme", "actor": "orders-service"}, command)

    decoded_envelope, decoded = decode(envelope.model_dump_json())

    assert decoded == command and decoded_envelope == envelope
