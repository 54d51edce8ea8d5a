"""Property-based fuzzing of the bus entrance (hypothesis): any bytes decode into a command or raise
``UndecodableMessage`` with a reason code (the consumer dead-letters it); any decodable command gets a
``CommandResult``, accepted or refused with a reason, and never crashes the handler."""

from __future__ import annotations

import base64
import json
import os
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.commands import ALL_COMMANDS
from contracts.registry import UndecodableMessage, decode
from contracts.results import CommandResult
from services.connections.adapters.catalog import PydanticCatalog
from services.connections.application import Connections
from services.connections.domain.meta import Meta
from services.connections.entrypoints.guard import BusGuard
from shared.auth import BusActors
from shared.sealed_credentials import CommandKeys, seal_credentials
from tests.unit.fakes import InMemoryVault

REASONS = {"invalid_json", "invalid_envelope", "unknown_type", "invalid_payload"}
FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
KEYS = CommandKeys(base64.b64encode(os.urandom(32)).decode())
PUBLIC = KEYS.describe()["public_key"]
GUARD = BusGuard(BusActors({"platform": {"roles": ["admin"]}, "viewer-svc": {"roles": ["viewer"]},
                            "tenant-bound": {"roles": ["admin"], "tenants": ["acme"]}}), KEYS)
TYPES = [m.message_type for m in ALL_COMMANDS]
CONNECTIONS = [UUID(int=i) for i in range(1, 4)]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
credential_fields = st.dictionaries(
    st.sampled_from(["url", "access_key_id", "secret_access_key", "shop_domain", "access_token", "password",
                     "production", "refresh_token", "seller_id", "api_key", "x"]),
    st.one_of(st.text(max_size=20), st.just("**********"), st.just("https://shop.example.com"), json_values),
    max_size=4,
)
payloads = st.fixed_dictionaries({}, optional={
    "connection_id": st.sampled_from([str(c) for c in CONNECTIONS]) | st.text(max_size=40),
    "connection_ids": st.lists(st.sampled_from([str(c) for c in CONNECTIONS]), max_size=3) | json_values,
    "name": st.text(max_size=30) | json_values,
    "driver": st.sampled_from(["pos", "shopware6", "shopify", "amazon", "nope", "", "POS"]) | json_values,
    "credentials": credential_fields | json_values,
    "sealed_credentials": st.one_of(
        st.text(max_size=40),
        st.builds(lambda creds, tenant: seal_credentials(PUBLIC, creds, tenant),
                  st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
                  st.sampled_from(["acme", "other"]))),
    "settings": json_values,
})
envelopes = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES), "payload": payloads, "tenant_id": st.sampled_from(["acme", "other"])},
    optional={
        "message_id": st.uuids().map(str) | st.text(max_size=10),
        "schema_version": st.sampled_from([1, 2, 0, -1, "1"]),
        "correlation_id": st.text(max_size=120),
        "actor": st.sampled_from(["platform", "viewer-svc", "tenant-bound", "stranger", ""]) | json_values,
        "occurred_at": st.sampled_from(["2026-01-01T00:00:00Z", "yesterday", 12]),
    },
)

ids = st.lists(st.sampled_from([str(c) for c in CONNECTIONS]), min_size=1, max_size=3)
well_formed = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["InstallDriver", "UninstallDriver"]),
                           "payload": st.fixed_dictionaries({"driver": st.sampled_from(["pos", "shopware6", "nope"])})}),
    st.fixed_dictionaries({"type": st.just("CreateConnection"), "payload": st.fixed_dictionaries(
        {"name": st.text(min_size=1, max_size=10), "driver": st.sampled_from(["pos", "shopware6"])},
        optional={"connection_id": st.sampled_from([str(c) for c in CONNECTIONS]), "credentials": credential_fields,
                  "sealed_credentials": payloads.map(lambda _: seal_credentials(PUBLIC, {"secret_access_key": "s"},
                                                                                 "acme"))})}),
    st.fixed_dictionaries({"type": st.sampled_from(["RequestSync", "DisableConnections", "EnableConnections",
                                                    "DeleteConnections"]),
                           "payload": st.fixed_dictionaries({"connection_ids": ids})}),
    st.fixed_dictionaries({"type": st.just("EditConnection"), "payload": st.fixed_dictionaries(
        {"connection_id": st.sampled_from([str(c) for c in CONNECTIONS])},
        optional={"name": st.text(min_size=1, max_size=10), "credentials": credential_fields})}),
).flatmap(lambda d: st.fixed_dictionaries({
    **{k: st.just(v) for k, v in d.items()},
    "tenant_id": st.sampled_from(["acme", "other"]),
    "actor": st.sampled_from(["platform", "viewer-svc", "tenant-bound", "stranger"]),
}))


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes_decode_or_are_refused_with_a_reason(raw: bytes) -> None:
    try:
        decode(raw, ALL_COMMANDS)
    except UndecodableMessage as bad:
        assert bad.reason_code in REASONS and bad.message


@FUZZ
@given(document=envelopes | json_values | st.fixed_dictionaries(
    {"type": st.text(max_size=20), "payload": json_values, "tenant_id": st.sampled_from(["", "../x", "a" * 70]) | json_values}))
def test_any_json_decodes_into_a_command_or_is_refused_with_a_reason(document: Any) -> None:
    raw = json.dumps(document)
    try:
        envelope, command = decode(raw, ALL_COMMANDS)
    except UndecodableMessage as bad:
        assert bad.reason_code in REASONS and bad.message
        return
    assert type(command) in ALL_COMMANDS and envelope.type == command.message_type


def test_any_decodable_command_gets_a_result_through_the_service_handler_path() -> None:
    app = Connections(PydanticCatalog(), InMemoryVault())
    app.execute(decode(json.dumps({"type": "InstallDriver", "tenant_id": "acme", "payload": {"driver": "pos"}}))[1],
                UUID(int=99), Meta("acme", "platform", "setup"))
    seen: set[str] = set()

    @FUZZ
    @given(document=envelopes | well_formed)
    def handle(document: dict[str, Any]) -> None:
        try:
            envelope, command = decode(json.dumps(document), ALL_COMMANDS)
        except UndecodableMessage as bad:
            assert bad.reason_code in REASONS
            seen.add(bad.reason_code)
            return
        admitted = GUARD.admit(envelope, command)
        if isinstance(admitted, CommandResult):
            result = admitted
        else:
            meta = Meta(envelope.tenant_id, envelope.actor, envelope.correlation_id, str(envelope.message_id))
            result = app.execute(admitted, envelope.message_id, meta)
        assert isinstance(result, CommandResult)
        assert result.accepted or result.reason_code or all(i.reason_code for i in result.items), result
        seen.add("accepted" if result.accepted else str(result.reason_code))

    handle()
    # The fuzzing reached every kind of outcome, not only the decoder's refusals.
    assert {"accepted", "forbidden", "invalid_payload"} <= seen, seen
