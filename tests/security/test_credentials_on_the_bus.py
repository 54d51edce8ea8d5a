"""Credentials never travel the bus in plaintext: senders seal them to the service's command key; plaintext
secrets on the bus are refused (``plaintext_secret_on_bus``), sealed ones are opened at the entrance only."""

from __future__ import annotations

import base64
import os
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from contracts import commands as cmd
from contracts.registry import decode, encode
from contracts.results import CommandResult
from services.connections.domain.meta import Meta
from services.connections.entrypoints.guard import BusGuard, plaintext_secrets
from shared.auth import BusActors
from shared.sealed_credentials import CommandKeys, SealedCredentialsError, seal_credentials
from tests.security.conftest import TENANT_A, TENANT_B, WriteSide, auth_header

SECRET = "marker-secret-9c2d1f"
FORM = {"url": "https://shop.example.com", "access_key_id": "SWIAKEY"}
ACTORS = BusActors({"platform": {"roles": ["admin"]}})


def public_key(keys: CommandKeys) -> str:
    return keys.describe()["public_key"]


def over_bus(write_side: WriteSide, command: cmd.Message, tenant: str = TENANT_A,
             keys: CommandKeys | None = None) -> CommandResult:
    """Through the wire format: encode, decode, guard, application."""
    envelope, decoded = decode(encode({"tenant_id": tenant, "actor": "platform"}, command).model_dump_json())
    admitted = BusGuard(ACTORS, keys or write_side.command_keys).admit(envelope, decoded)
    if isinstance(admitted, CommandResult):
        return admitted
    meta = Meta(envelope.tenant_id, envelope.actor, envelope.correlation_id, str(envelope.message_id))
    return write_side.app.execute(admitted, envelope.message_id, meta)


def stored_credentials(write_side: WriteSide, connection_id: UUID) -> dict[str, Any]:
    connection = write_side.app.repository.get(connection_id)
    return write_side.vault.open(connection_id, connection.credentials)  # type: ignore[attr-defined]


@pytest.fixture
def installed(write_side: WriteSide) -> WriteSide:
    for tenant in (TENANT_A, TENANT_B):
        assert over_bus(write_side, cmd.InstallDriver(driver="shopware6"), tenant).accepted
    return write_side


def test_sealed_credentials_are_opened_at_the_entrance_and_stored_sealed(installed: WriteSide) -> None:
    sealed = seal_credentials(public_key(installed.command_keys), {"secret_access_key": SECRET}, TENANT_A)
    result = over_bus(installed, cmd.CreateConnection(name="Shop", driver="shopware6", credentials=FORM,
                                                      sealed_credentials=sealed))
    assert result.accepted, result
    connection_id = result.items[0].connection_id
    assert connection_id is not None
    assert stored_credentials(installed, connection_id) == {**FORM, "url": "https://shop.example.com/",
                                                           "secret_access_key": SECRET}

    rotated = seal_credentials(public_key(installed.command_keys), {"secret_access_key": SECRET + "-2"}, TENANT_A)
    edited = over_bus(installed, cmd.EditConnection(connection_id=connection_id, sealed_credentials=rotated))
    assert edited.accepted and edited.items[0].outcome == "done"
    assert stored_credentials(installed, connection_id)["secret_access_key"] == SECRET + "-2"
    # Nothing of it in the event store: every event's state, as stored.
    for notification in installed.app.recorder.select_notifications(start=1, limit=1000):
        assert SECRET.encode() not in notification.state


@pytest.mark.parametrize("credentials", [
    {**FORM, "secret_access_key": SECRET},
    {"secret_access_key": SECRET},
    {"production": {"bm_password": SECRET}},
    {"api_key": SECRET},
], ids=["create form", "secret only", "nested secret", "secret-looking unknown field"])
def test_plaintext_secrets_on_the_bus_are_refused_and_nothing_is_stored(installed: WriteSide,
                                                                         credentials: dict[str, Any]) -> None:
    before = installed.app.recorder.max_notification_id()
    created = over_bus(installed, cmd.CreateConnection(name="Shop", driver="shopware6", credentials=credentials))

    assert (created.accepted, created.reason_code) == (False, "plaintext_secret_on_bus")
    assert "rotate" in (created.message or "") and SECRET not in (created.message or "")
    assert installed.app.recorder.max_notification_id() == before


def test_an_edit_with_a_plaintext_secret_is_refused_masked_or_empty_secrets_are_not_secrets(installed: WriteSide) -> None:
    sealed = seal_credentials(public_key(installed.command_keys), {"secret_access_key": SECRET}, TENANT_A)
    created = over_bus(installed, cmd.CreateConnection(name="Shop", driver="shopware6", credentials=FORM,
                                                       sealed_credentials=sealed))
    connection_id = created.items[0].connection_id
    assert connection_id is not None

    refused = over_bus(installed, cmd.EditConnection(connection_id=connection_id,
                                                     credentials={"secret_access_key": "new-plain"}))
    masked = over_bus(installed, cmd.EditConnection(connection_id=connection_id, name="Shop 2",
                                                    credentials={"secret_access_key": "**********",
                                                                 "access_key_id": "SWIAKEY2"}))

    assert refused.reason_code == "plaintext_secret_on_bus"
    assert masked.accepted, masked
    assert stored_credentials(installed, connection_id) == {**FORM, "url": "https://shop.example.com/",
                                                           "access_key_id": "SWIAKEY2", "secret_access_key": SECRET}
    assert plaintext_secrets({"secret_access_key": "", "password": None, "access_key_id": "x"}, "shopware6") == []


def test_sealed_credentials_open_only_for_the_tenant_and_key_they_were_sealed_for(installed: WriteSide) -> None:
    for_a = seal_credentials(public_key(installed.command_keys), {"secret_access_key": SECRET}, TENANT_A)
    other_key = CommandKeys(base64.b64encode(os.urandom(32)).decode())
    to_other_key = seal_credentials(public_key(other_key), {"secret_access_key": SECRET}, TENANT_A)
    raw = bytearray(base64.b64decode(for_a))
    raw[-1] ^= 1
    tampered = base64.b64encode(bytes(raw)).decode()

    for sealed, tenant in ((for_a, TENANT_B), (to_other_key, TENANT_A), (tampered, TENANT_A),
                           ("not base64!", TENANT_A), (base64.b64encode(b"\x02" + bytes(80)).decode(), TENANT_A)):
        result = over_bus(installed, cmd.CreateConnection(name="Shop", driver="shopware6", credentials=FORM,
                                                          sealed_credentials=sealed), tenant)
        assert (result.accepted, result.reason_code) == (False, "invalid_sealed_credentials"), result
        assert SECRET not in result.model_dump_json()


def test_a_retired_command_key_still_opens_while_senders_switch_over(installed: WriteSide) -> None:
    old = base64.b64encode(os.urandom(32)).decode()
    sealed = seal_credentials(public_key(CommandKeys(old)), {"secret_access_key": SECRET}, TENANT_A)
    keys = CommandKeys(base64.b64encode(os.urandom(32)).decode(), [old])

    result = over_bus(installed, cmd.CreateConnection(name="Shop", driver="shopware6", credentials=FORM,
                                                      sealed_credentials=sealed), keys=keys)

    assert result.accepted, result
    with pytest.raises(SealedCredentialsError):
        CommandKeys(base64.b64encode(os.urandom(32)).decode()).open(sealed, TENANT_A)


def test_the_commands_api_serves_the_public_command_key_and_accepts_sealed_credentials(
    installed: WriteSide, client: TestClient
) -> None:
    described = client.get("/v1/contracts/command-key").json()
    assert described["algorithm"] == "X25519-HKDF-SHA256-A256GCM"
    assert described["public_key"] == public_key(installed.command_keys)
    assert len(base64.b64decode(described["public_key"])) == 32

    sealed = seal_credentials(described["public_key"], {"secret_access_key": SECRET}, TENANT_A)
    created = client.post("/v1/connections", headers=auth_header(TENANT_A, "admin"),
                          json={"name": "Shop", "driver": "shopware6", "credentials": FORM, "sealed_credentials": sealed})
    wrong_tenant = client.post("/v1/connections", headers=auth_header(TENANT_B, "admin"),
                               json={"name": "Shop", "driver": "shopware6", "credentials": FORM,
                                     "sealed_credentials": sealed})

    assert created.status_code == 200, created.text
    assert (wrong_tenant.status_code, wrong_tenant.json()["reason_code"]) == (422, "invalid_sealed_credentials")
    connection_id = UUID(created.json()["items"][0]["connection_id"])
    assert stored_credentials(installed, connection_id)["secret_access_key"] == SECRET


def test_refusals_never_echo_a_secret(installed: WriteSide, client: TestClient) -> None:
    bad_forms: list[Any] = [
        {**FORM, "url": "ftp://nope", "secret_access_key": SECRET},
        {**FORM, "secret_access_key": SECRET * 100},  # too long
        {**FORM, "secret_access_key": SECRET, "unexpected": SECRET},
        {"secret_access_key": {"nested": SECRET}},
    ]
    answers = []
    for credentials in bad_forms:
        answers.append(client.post("/v1/connections", headers=auth_header(TENANT_A, "admin"),
                                   json={"name": "Shop", "driver": "shopware6", "credentials": credentials}))
        answers.append(client.post("/v1/connections", headers=auth_header(TENANT_A, "admin"),
                                   json={"name": ["not", "a", "name"], "driver": "shopware6", "credentials": credentials}))
    answers.append(client.post("/v1/connections", headers={**auth_header(TENANT_A, "admin"),
                                                           "Content-Type": "application/json"},
                               content=b'{"name": "x", "credentials": {"secret_access_key": "' + SECRET.encode() + b'"'))
    answers.append(client.get("/v1/drivers", headers={"Authorization": f"Bearer {SECRET}"}))

    assert {a.status_code for a in answers} <= {401, 422}, [a.text for a in answers]
    assert all(a.json()["reason_code"] for a in answers)
    assert not [a.text for a in answers if SECRET in a.text]
