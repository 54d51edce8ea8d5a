"""Every message is documented, has examples, a key and a topic; the AsyncAPI document covers every topic."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from contracts import schema_export, topics
from contracts.channels import all_channels, key_of
from contracts.commands import CreateConnection, EditConnection
from contracts.drivers import CATALOG
from contracts.envelope import Message
from contracts.registry import MESSAGES, decode

ALL = sorted(MESSAGES.values(), key=lambda m: m.message_type)


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((schema_export.PACKAGE_DIR / schema_export.ASYNCAPI).read_text())
    return document


@pytest.mark.parametrize("message", ALL, ids=lambda m: m.message_type)
def test_every_message_says_when_it_is_sent_and_what_a_consumer_does(message: type[Message]) -> None:
    doc = message.__doc__ or ""
    assert len(doc.split()) >= 15, f"{message.__name__} needs a docstring: when it is sent, what to do with it"


@pytest.mark.parametrize("message", ALL, ids=lambda m: m.message_type)
def test_every_message_has_examples_that_its_model_accepts(message: type[Message]) -> None:
    examples = message.model_json_schema().get("examples", [])
    assert examples, f"{message.__name__} has no json_schema_extra examples"
    for example in examples:
        message.model_validate(example)


@pytest.mark.parametrize("message", ALL, ids=lambda m: m.message_type)
def test_every_example_envelope_decodes_to_its_example(message: type[Message]) -> None:
    for index, example in enumerate(message.model_json_schema()["examples"]):
        envelope, payload = decode(json.dumps(schema_export.example_envelope(message, example, index)))
        assert payload == message.model_validate(example)
        assert envelope.type == message.message_type


def _credentials(example: dict[str, Any]) -> dict[str, Any]:
    """The credentials the service sees: the plain fields, then the sealed ones (sealed to the development
    command key for the example envelopes' tenant)."""
    from shared.sealed_credentials import CommandKeys
    from shared.settings import Settings

    sealed = example.get("sealed_credentials")
    opened = CommandKeys(Settings().command_key).open(sealed, "acme") if sealed else {}
    return {**example.get("credentials", {}), **opened}


def test_command_examples_carry_credentials_and_settings_their_driver_accepts() -> None:
    for example in CreateConnection.model_json_schema()["examples"]:
        spec = CATALOG[example["driver"]]
        spec.credentials_model.model_validate(_credentials(example))
        spec.settings_model.model_validate(example.get("settings", {}))
    for example in EditConnection.model_json_schema()["examples"]:
        assert set(_credentials(example)) <= set(CATALOG["shopware6"].credentials_model.model_fields)


@pytest.mark.parametrize("message", ALL, ids=lambda m: m.message_type)
def test_every_message_has_a_key_and_travels_on_a_topic(message: type[Message]) -> None:
    assert key_of(message).description
    assert any(message in channel.messages for channel in all_channels())


def test_published_schemas_accept_their_examples_and_reject_a_wrong_type() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for message in ALL:
        schema = schema_export.message_json_schema(message)
        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        validator = jsonschema.Draft202012Validator(schema, format_checker=checker)
        jsonschema.Draft202012Validator.check_schema(schema)
        for example in schema["examples"]:
            validator.validate(example)
        wrong = {**schema["examples"][0], "type": "SomethingElse"}
        assert not validator.is_valid(wrong)


def test_a_message_the_service_encodes_validates_against_its_published_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from contracts.registry import encode

    envelope = encode({"tenant_id": "acme", "causation_id": "x"}, CreateConnection(name="Till 1", driver="pos"))
    schema = json.loads((schema_export.PACKAGE_DIR / "schemas" / "CreateConnection.v1.json").read_text())

    jsonschema.validate(json.loads(envelope.model_dump_json()), schema, format_checker=jsonschema.FormatChecker())


def _expected_topics() -> set[str]:
    jobs = {topics.driver_jobs(driver_id) for driver_id in CATALOG}
    consumed = {topics.COMMANDS, topics.REPORTS, *jobs}
    return {topics.COMMANDS, topics.COMMAND_RESULTS, topics.EVENTS, topics.REPORTS, *jobs} | {
        topics.dead_letters(t) for t in consumed
    }


def test_the_asyncapi_document_has_a_channel_for_every_topic_including_driver_jobs_and_dead_letters(
    asyncapi: dict[str, Any],
) -> None:
    addresses = {channel["address"] for channel in asyncapi["channels"].values()}
    assert addresses == _expected_topics()
    assert asyncapi["asyncapi"] == "3.0.0"


def test_the_documented_topics_are_the_topics_the_service_creates() -> None:
    from shared.runtime import all_topics

    assert set(all_topics()) == _expected_topics()


def test_every_message_version_is_in_the_asyncapi_document_with_key_headers_and_examples(
    asyncapi: dict[str, Any],
) -> None:
    components = asyncapi["components"]["messages"]
    for message in ALL:
        component = components[f"{message.message_type}_v{message.schema_version}"]
        assert component["bindings"]["kafka"]["key"]["description"] == key_of(message).description
        assert component["headers"]["$ref"].startswith("#/components/schemas/")
        assert component["examples"], message.message_type
        for example in component["examples"]:
            assert example["headers"]["message_id"] == example["payload"]["message_id"]
            assert example["headers"]["schema_version"] == str(message.schema_version)


def test_headers_carry_the_envelope_ids_and_dead_letters_carry_the_reason(asyncapi: dict[str, Any]) -> None:
    schemas = asyncapi["components"]["schemas"]
    envelope_ids = {"message_id", "type", "schema_version", "tenant_id", "correlation_id", "causation_id"}
    assert set(schemas["MessageHeaders"]["properties"]) == envelope_ids
    assert {"dlq_reason_code", "dlq_reason"} <= set(schemas["DeadLetterHeaders"]["required"])
    dead_letter_channels = [c for c in asyncapi["channels"].values() if c["address"].endswith(".dlq")]
    assert dead_letter_channels
    assert all(list(c["messages"]) == ["DeadLetter"] for c in dead_letter_channels)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_reference_in_the_asyncapi_document_resolves(asyncapi: dict[str, Any]) -> None:
    for reference in set(_refs(asyncapi)):
        target: Any = asyncapi
        for part in reference.removeprefix("#/").split("/"):
            assert isinstance(target, dict) and part in target, f"dangling reference {reference}"
            target = target[part]


def test_the_contracts_package_imports_only_pydantic_and_the_standard_library() -> None:
    # Modules the interpreter loaded before (site hooks of this machine) are not the package's doing.
    probe = (
        "import sys; before = set(sys.modules); "
        "import contracts.registry, contracts.schema_export, contracts.compat, contracts.channels, contracts.drivers; "
        "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout.split()
    allowed = set(sys.stdlib_module_names) | {
        "contracts", "pydantic", "pydantic_core", "typing_extensions", "annotated_types", "typing_inspection",
    }
    # _sysconfigdata_* is the interpreter's own build description, loaded by the standard library's sysconfig.
    assert sorted(m for m in set(loaded) - allowed if not m.startswith("_sysconfigdata")) == []
