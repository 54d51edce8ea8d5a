"""The published command examples are what the bus accepts: no secret in plaintext, sealed ones that open."""

from __future__ import annotations

import json

import pytest

from contracts import schema_export
from contracts.commands import ALL_COMMANDS, CreateConnection, EditConnection
from contracts.envelope import Message
from contracts.registry import decode
from contracts.results import CommandResult
from services.connections.entrypoints.guard import BusGuard, plaintext_secrets
from shared.auth import BusActors
from shared.sealed_credentials import CommandKeys
from shared.settings import Settings


@pytest.fixture(scope="module")
def guard() -> BusGuard:
    # The examples are sealed to the development command key, the one a local `make up` publishes.
    return BusGuard(BusActors({"orders-service": {"roles": ["admin"]}}), CommandKeys(Settings().command_key))


@pytest.mark.parametrize("message", ALL_COMMANDS, ids=lambda m: m.__name__)
def test_every_command_example_is_admitted_on_the_bus(message: type[Message], guard: BusGuard) -> None:
    for index, example in enumerate(message.model_json_schema()["examples"]):
        envelope, command = decode(json.dumps(schema_export.example_envelope(message, example, index)))
        assert not plaintext_secrets(getattr(command, "credentials", None), getattr(command, "driver", "shopware6"))
        admitted = guard.admit(envelope, command)
        assert not isinstance(admitted, CommandResult), (message.__name__, index, admitted)


@pytest.mark.parametrize("message", [CreateConnection, EditConnection], ids=lambda m: m.__name__)
def test_the_credential_examples_carry_their_secret_sealed(message: type[Message], guard: BusGuard) -> None:
    sealed = [e for e in message.model_json_schema()["examples"] if "sealed_credentials" in e]
    assert sealed, f"{message.__name__} has no example with sealed credentials"
    for example in sealed:
        envelope, command = decode(json.dumps(schema_export.example_envelope(message, example, 0)))
        admitted = guard.admit(envelope, command)
        assert isinstance(admitted, message)
        assert admitted.credentials["secret_access_key"]  # opened: the secret was in the sealed document
        assert "secret_access_key" not in (example.get("credentials") or {})


def test_the_published_schemas_carry_no_plaintext_secret() -> None:
    for name in ("CreateConnection.v1.json", "EditConnection.v1.json"):
        schema = json.loads((schema_export.PACKAGE_DIR / "schemas" / name).read_text())
        for example in schema["examples"]:
            assert not plaintext_secrets(example["payload"].get("credentials"), "shopware6"), name
            assert "secret-from-the-merchant" not in json.dumps(example)
