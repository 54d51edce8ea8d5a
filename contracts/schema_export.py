"""Generates the contract's artifacts from the code: JSON Schema per message and one AsyncAPI 3.0 document.

    python -m contracts.schema_export            # write contracts/schemas/*.json and contracts/asyncapi.json
    python -m contracts.schema_export --check    # exit 1 naming every artifact that is missing or stale
    python -m contracts.schema_export --release  # copy the current schemas to contracts/released/ (a release)

Each ``schemas/<type>.v<version>.json`` describes one whole Kafka message value: the envelope with ``type``
and ``schema_version`` fixed and ``payload`` the message's own schema (JSON Schema draft 2020-12,
self-contained). ``asyncapi.json`` describes every topic with its messages, keys, headers and examples.
Both are checked into the repo; a test fails when they differ from what this module generates.

Only the standard library and pydantic are used, so the package stays installable on its own.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import contracts
from contracts import compat, topics
from contracts.channels import Channel, all_channels, key_of
from contracts.commands import ALL_COMMANDS, CreateConnection
from contracts.envelope import Envelope, Message
from contracts.registry import MESSAGES, UPCASTERS, UndecodableMessage

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMAS = "schemas"
ASYNCAPI = "asyncapi.json"
RELEASED = "released"
RELEASE_MANIFEST = "release.json"

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"

# The fields the service always sends and other producers must send; decoding is more lenient (it fills in
# defaults), but a published schema that requires them tells producers what a complete message is.
WIRE_REQUIRED = ("message_id", "type", "schema_version", "tenant_id", "correlation_id", "occurred_at", "payload")

HEADER_NAMES = ("message_id", "type", "schema_version", "tenant_id", "correlation_id", "causation_id")
DEAD_LETTER_REASONS = ("invalid_json", "invalid_envelope", "unknown_type", "invalid_payload", "processing_failed")

# Example envelopes use fixed ids and times so generating twice gives the same bytes.
_EXAMPLE_NAMESPACE = uuid5(NAMESPACE_URL, "omni-channel-connections:contract-examples")
_EXAMPLE_TENANT = "acme"
_EXAMPLE_TIME = "2025-01-15T09:30:00Z"
_EXAMPLE_COMMAND_ID = "5d9e3b1a-7c2f-4a8e-b6d0-1c2b3a4d5e6f"  # the command the CommandResult examples answer
_EXAMPLE_CORRELATION = "req-7f3a9c2e"


def schema_name(message: type[Message]) -> str:
    """``CreateConnection.v1``: the stable name of a (type, version) in files and documents."""
    return f"{message.message_type}.v{message.schema_version}"


def _messages() -> list[type[Message]]:
    return sorted(MESSAGES.values(), key=lambda m: (m.message_type, m.schema_version))


# --- JSON Schema per message ------------------------------------------------------------------------------


def _payload_examples(message: type[Message]) -> list[dict[str, Any]]:
    examples = message.model_json_schema().get("examples", [])
    return [dict(e) for e in examples]


def _actor(message: type[Message]) -> str:
    if message in ALL_COMMANDS:
        return "orders-service"
    if message.message_type.startswith("Job") and message.message_type != "JobStateChanged":
        return "driver:shopware6"
    return "connections"


def example_envelope(message: type[Message], payload: Mapping[str, Any], index: int) -> dict[str, Any]:
    """A complete, valid Kafka message value for one payload example."""
    if message is CreateConnection and index == 0:
        message_id = UUID(_EXAMPLE_COMMAND_ID)
    else:
        message_id = uuid5(_EXAMPLE_NAMESPACE, f"{schema_name(message)}/{index}")
    causation = payload.get("command_id") if message.message_type == "CommandResult" else None
    if message not in ALL_COMMANDS and causation is None:
        causation = _EXAMPLE_COMMAND_ID  # everything else was caused, directly or not, by a command
    envelope = Envelope(
        message_id=message_id,
        type=message.message_type,
        schema_version=message.schema_version,
        tenant_id=_EXAMPLE_TENANT,
        correlation_id=_EXAMPLE_CORRELATION,
        causation_id=None if message in ALL_COMMANDS else str(causation),
        occurred_at=datetime.fromisoformat(_EXAMPLE_TIME),
        actor=_actor(message),
        payload=dict(payload),
    )
    # The payload goes through its model so the example is exactly what a producer would send.
    typed = message.model_validate(payload)
    return envelope.model_copy(update={"payload": typed.model_dump(mode="json")}).model_dump(mode="json")


def _envelope_properties(message: type[Message], payload_ref: str) -> dict[str, Any]:
    properties: dict[str, Any] = dict(Envelope.model_json_schema()["properties"])
    properties["type"] = {
        "const": message.message_type,
        "description": properties["type"]["description"],
        "title": "Type",
        "type": "string",
    }
    properties["schema_version"] = {
        "const": message.schema_version,
        "description": properties["schema_version"]["description"],
        "title": "Schema Version",
        "type": "integer",
    }
    properties["payload"] = {"$ref": payload_ref}
    return properties


def envelope_schema(message: type[Message], ref_prefix: str = "#/$defs/") -> tuple[dict[str, Any], dict[str, Any]]:
    """(schema of the whole message value, definitions it refers to by ``ref_prefix``)."""
    payload = message.model_json_schema(ref_template=ref_prefix + "{model}")
    definitions: dict[str, Any] = payload.pop("$defs", {})
    if message.__name__ in definitions:
        raise ValueError(f"{message.__name__} refers to another model of the same name")
    definitions[message.__name__] = payload
    payload_examples = payload.get("examples", [])
    schema: dict[str, Any] = {
        "title": f"{message.message_type} v{message.schema_version}",
        "description": _clean_doc(message.__doc__ or message.message_type),
        "type": "object",
        "properties": _envelope_properties(message, ref_prefix + message.__name__),
        "required": list(WIRE_REQUIRED),
        "x-message-type": message.message_type,
        "x-schema-version": message.schema_version,
        "x-key": key_of(message).description,
        "examples": [example_envelope(message, e, i) for i, e in enumerate(payload_examples)],
    }
    return schema, definitions


def message_json_schema(message: type[Message]) -> dict[str, Any]:
    """The self-contained JSON Schema of one (type, version), as written to ``schemas/``."""
    schema, definitions = envelope_schema(message)
    return {"$schema": JSON_SCHEMA_DIALECT, **schema, "$defs": dict(sorted(definitions.items()))}


def _clean_doc(doc: str) -> str:
    lines = doc.strip().splitlines()
    first, rest = lines[0], lines[1:]
    indent = min((len(x) - len(x.lstrip()) for x in rest if x.strip()), default=0)
    return "\n".join([first, *(x[indent:] for x in rest)]).strip()


# --- AsyncAPI ---------------------------------------------------------------------------------------------


def _component_id(message: type[Message]) -> str:
    # Message ids in channels allow no dots.
    return f"{message.message_type}_v{message.schema_version}"


def _headers_schema(required: Sequence[str], description: str) -> dict[str, Any]:
    properties = {
        "message_id": {"type": "string", "format": "uuid", "description": "the envelope's message_id"},
        "type": {"type": "string", "description": "the envelope's type"},
        "schema_version": {
            "type": "string", "pattern": "^[1-9][0-9]*$", "description": "the envelope's schema_version, in decimal",
        },
        "tenant_id": {"type": "string", "description": "the envelope's tenant_id"},
        "correlation_id": {"type": "string", "description": "the envelope's correlation_id"},
        "causation_id": {"type": "string", "description": "the envelope's causation_id, when it has one"},
    }
    return {"type": "object", "description": description, "properties": properties, "required": list(required)}


def _dead_letter_headers() -> dict[str, Any]:
    schema = _headers_schema(
        (),
        "The original message's headers (whatever it had: an undecodable message may have none of the "
        "usual ones) plus the reason it was parked.",
    )
    schema["properties"] |= {
        "dlq_reason_code": {
            "type": "string",
            "enum": list(DEAD_LETTER_REASONS),
            "description": "why: undecodable (invalid_json, invalid_envelope, unknown_type, invalid_payload) or "
            "processing_failed after repeated attempts; new codes may be added",
        },
        "dlq_reason": {"type": "string", "maxLength": 1000, "description": "the reason for people"},
        "dlq_source_topic": {"type": "string", "description": "the topic the message came from"},
    }
    schema["required"] = ["dlq_reason_code", "dlq_reason", "dlq_source_topic"]
    return schema


def _headers_of_example(envelope: Mapping[str, Any]) -> dict[str, str]:
    headers = {name: str(envelope[name]) for name in HEADER_NAMES if envelope.get(name) is not None}
    return headers


def _asyncapi_message(message: type[Message]) -> dict[str, Any]:
    doc = _clean_doc(message.__doc__ or message.message_type)
    summary, _, description = doc.partition("\n")
    examples = []
    for index, payload in enumerate(_payload_examples(message)):
        envelope = example_envelope(message, payload, index)
        examples.append({
            "name": f"{message.message_type}-{index + 1}",
            "headers": _headers_of_example(envelope),
            "payload": envelope,
        })
    headers = "CommandHeaders" if message in ALL_COMMANDS else "MessageHeaders"
    return {
        "name": message.message_type,
        "title": f"{message.message_type} v{message.schema_version}",
        "summary": summary.strip(),
        "description": description.strip() or summary.strip(),
        "contentType": "application/json",
        "headers": {"$ref": f"#/components/schemas/{headers}"},
        "payload": {"$ref": f"#/components/schemas/{schema_name(message)}"},
        "correlationId": {
            "description": "ties a command to its result and everything it caused",
            "location": "$message.header#/correlation_id",
        },
        "bindings": {"kafka": {"key": key_of(message).json_schema(), "bindingVersion": KAFKA_BINDING_VERSION}},
        "examples": examples,
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A message a consumer could not decode or kept failing on, parked with the reason.",
        "description": "The value is the original message value byte for byte (it may not even be JSON) and the "
        "key is the original key; the headers say why it was parked.",
        "contentType": "application/octet-stream",
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {"description": "the original message value, unchanged"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the original message's key"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [
            {
                "name": "unknown-type",
                "headers": {
                    "message_id": "0b6f1c55-6a5e-4d55-9a43-3f0c7c1f2e9d",
                    "type": "CreateConection",
                    "schema_version": "1",
                    "tenant_id": _EXAMPLE_TENANT,
                    "correlation_id": _EXAMPLE_CORRELATION,
                    "dlq_reason_code": "unknown_type",
                    "dlq_reason": "unknown message type 'CreateConection' version 1 here",
                    "dlq_source_topic": topics.COMMANDS,
                },
                "payload": {
                    "message_id": "0b6f1c55-6a5e-4d55-9a43-3f0c7c1f2e9d",
                    "type": "CreateConection",
                    "schema_version": 1,
                    "tenant_id": _EXAMPLE_TENANT,
                    "correlation_id": _EXAMPLE_CORRELATION,
                    "occurred_at": _EXAMPLE_TIME,
                    "payload": {"name": "Till 1", "driver": "pos"},
                },
            }
        ],
    }


def _channel(channel: Channel) -> dict[str, Any]:
    if channel.dead_letters_of is not None:
        messages = {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}}
    else:
        messages = {_component_id(m): {"$ref": f"#/components/messages/{_component_id(m)}"} for m in channel.messages}
    return {
        "address": channel.address,
        "title": channel.title,
        "description": f"{channel.description}\n\nSent by {channel.sent_by}; read by {channel.read_by}.",
        "messages": messages,
    }


def _operations(channels: Sequence[Channel]) -> dict[str, Any]:
    """Send and receive operations of the connections service and its driver workers (one system)."""
    operations: dict[str, Any] = {}

    def add(operation_id: str, action: str, channel: Channel, summary: str) -> None:
        operations[operation_id] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel.id}"},
            "summary": summary,
            "messages": [
                {"$ref": f"#/channels/{channel.id}/messages/{name}"} for name in _channel(channel)["messages"]
            ],
        }

    for channel in channels:
        if channel.dead_letters_of is not None:
            add(f"deadLetter-{channel.id}", "send", channel,
                f"{channel.sent_by} park unreadable or poison messages of {channel.dead_letters_of}")
        elif channel.address == topics.COMMANDS:
            add("receiveCommand", "receive", channel, "the connections service handles a command")
        elif channel.address == topics.COMMAND_RESULTS:
            add("sendCommandResult", "send", channel, "the connections service answers a command")
        elif channel.address == topics.EVENTS:
            add("sendEvent", "send", channel, "the relay publishes what happened")
        elif channel.address == topics.REPORTS:
            add("sendReport", "send", channel, "a driver worker reports on its job")
            add("receiveReport", "receive", channel, "the connections service records a report")
        else:
            driver = channel.address.split(".")[1]
            add(f"sendJob-{driver}", "send", channel, f"the relay hands a job to the {driver} workers")
            add(f"receiveJob-{driver}", "receive", channel, f"a {driver} worker takes a job")
    return operations


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic."""
    channels = all_channels()
    schemas: dict[str, Any] = {
        "MessageHeaders": _headers_schema(
            ("message_id", "type", "schema_version", "tenant_id", "correlation_id"),
            "Set on every message the service and its workers send; they repeat the envelope's ids so tools "
            "can route and trace without decoding the value.",
        ),
        "CommandHeaders": _headers_schema(
            (),
            "Recommended on commands (the service reads only the value, so none is required).",
        ),
        "DeadLetterHeaders": _dead_letter_headers(),
    }
    messages: dict[str, Any] = {}
    for message in _messages():
        envelope, definitions = envelope_schema(message, "#/components/schemas/")
        for name, definition in definitions.items():
            if schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two different schemas are named {name}")
        schemas[schema_name(message)] = envelope
        messages[_component_id(message)] = _asyncapi_message(message)
    messages["DeadLetter"] = _dead_letter_message()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:omni-channel-connections:contracts",
        "info": {
            "title": "Omni-Channel Connections",
            "version": contracts.__version__,
            "description": (
                "The bus contract of the connections service and its driver workers. Every message value is a "
                "JSON envelope (message_id, type, schema_version, tenant_id, correlation_id, causation_id, "
                "occurred_at, actor) around a typed payload. Send commands to connections.commands.v1 and read "
                "their results on connections.command-results.v1 (keyed by the command's message_id); follow "
                "connections.events.v1 and dedupe by message_id. Deployments may prefix every topic with a "
                "namespace (e.g. 'staging.'). See docs/contracts.md."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "the local development broker (`connections kafka` or `connections up`)",
            }
        },
        "channels": {channel.id: _channel(channel) for channel in channels},
        "operations": _operations(channels),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": dict(sorted(messages.items())),
        },
    }


# --- files ------------------------------------------------------------------------------------------------


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """Every artifact by its path relative to the package folder, as the exact text to write."""
    files = {f"{SCHEMAS}/{schema_name(m)}.json": _dump(message_json_schema(m)) for m in _messages()}
    files[ASYNCAPI] = _dump(asyncapi_document())
    return files


def stale_artifacts(root: Path, expected: Mapping[str, str] | None = None) -> list[str]:
    """What differs between ``root`` (a contracts folder) and ``expected`` (default: freshly generated)."""
    expected = generate() if expected is None else expected
    problems: list[str] = []
    for relative, text in sorted(expected.items()):
        path = root / relative
        if not path.exists():
            problems.append(f"{relative} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{relative} is stale (differs from what the code generates)")
    schema_dir = root / SCHEMAS
    if schema_dir.is_dir():
        for path in sorted(schema_dir.glob("*.json")):
            relative = f"{SCHEMAS}/{path.name}"
            if relative not in expected:
                problems.append(f"{relative} is left over: no message generates it any more")
    return problems


def write(root: Path, files: Mapping[str, str] | None = None) -> list[str]:
    """Write the artifacts into ``root`` and remove left-over schema files; returns the paths written."""
    files = generate() if files is None else files
    (root / SCHEMAS).mkdir(parents=True, exist_ok=True)
    for path in (root / SCHEMAS).glob("*.json"):
        if f"{SCHEMAS}/{path.name}" not in files:
            path.unlink()
    written = []
    for relative, text in sorted(files.items()):
        path = root / relative
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(relative)
    return written


def current_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every current (type, version), by :func:`schema_name`."""
    return {schema_name(m): message_json_schema(m) for m in _messages()}


def release(root: Path, today: date) -> list[str]:
    """Make the current schemas the released ones (a new release), keeping old versions still in their window.

    Refuses (raises ``ValueError``) when a previously released version is no longer current and has no
    upcaster whose deprecation window lasts at least :data:`compat.MIN_DEPRECATION_DAYS` from ``today``.
    """
    released_dir = root / RELEASED
    previous = compat.load_schemas(released_dir) if released_dir.is_dir() else {}
    manifest_path = released_dir / RELEASE_MANIFEST
    manifest: dict[str, Any] = {"release": 0, "current": []}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    current = current_schemas()
    kept: dict[str, dict[str, Any]] = {}
    for name, schema in previous.items():
        if name in current:
            continue
        message_type, version = compat.parse_name(name)
        upcaster = UPCASTERS.get((message_type, version))
        until = upcaster.accepted_until if upcaster else None
        if until is not None and until < today:
            continue  # its window is over: this release retires it
        newly_deprecated = name in manifest.get("current", [])
        if until is None or (newly_deprecated and (until - today).days < compat.MIN_DEPRECATION_DAYS):
            raise ValueError(
                f"{name} would stop being accepted: register an upcaster from it with accepted_until at least "
                f"{compat.MIN_DEPRECATION_DAYS} days from {today.isoformat()}"
            )
        kept[name] = schema
    problems = compat.check_compatibility(previous, current, MESSAGES, UPCASTERS)
    if problems:
        raise ValueError("not compatible with the last release:\n" + "\n".join(problems))
    if released_dir.exists():
        shutil.rmtree(released_dir)
    released_dir.mkdir(parents=True)
    for name, schema in sorted({**kept, **current}.items()):
        (released_dir / f"{name}.json").write_text(_dump(schema), encoding="utf-8")
    new_manifest = {
        "release": int(manifest["release"]) + 1,
        "released_on": today.isoformat(),
        "contracts_version": contracts.__version__,
        "current": sorted(current),
        "deprecated": sorted(kept),
    }
    manifest_path.write_text(_dump(new_manifest), encoding="utf-8")
    return sorted({**kept, **current})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.schema_export", description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="only check that the artifacts are fresh")
    action.add_argument("--release", action="store_true", help="copy the current schemas to released/")
    parser.add_argument("--root", type=Path, default=PACKAGE_DIR, help="the contracts folder (default: this package)")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_artifacts(args.root)
        for problem in problems:
            print(f"{problem}; run: python -m contracts.schema_export", file=sys.stderr)
        return 1 if problems else 0
    if args.release:
        try:
            names = release(args.root, date.today())
        except (ValueError, UndecodableMessage) as refused:
            print(f"release refused: {refused}", file=sys.stderr)
            return 1
        print(f"released {len(names)} schemas into {args.root / RELEASED}")
        return 0
    written = write(args.root)
    print(f"{len(written)} artifact(s) written" + "".join(f"\n  {p}" for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
