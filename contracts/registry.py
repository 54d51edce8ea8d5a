"""Decoding of raw bus messages: envelope first, then the payload by its ``type`` and ``schema_version``."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from contracts.commands import ALL_COMMANDS
from contracts.envelope import Envelope, Message
from contracts.events import ALL_EVENTS
from contracts.jobs import DriverJob
from contracts.reports import ALL_REPORTS
from contracts.results import CommandResult

MESSAGES: dict[tuple[str, int], type[Message]] = {
    (m.message_type, m.schema_version): m
    for m in (*ALL_COMMANDS, *ALL_EVENTS, *ALL_REPORTS, DriverJob, CommandResult)
}


class UndecodableMessage(ValueError):
    """A message that is not valid JSON, has no valid envelope, an unknown type or an invalid payload."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def encode(envelope_fields: dict[str, Any], payload: Message) -> Envelope:
    """Wrap a payload in an envelope carrying its type and version."""
    return Envelope(
        type=payload.message_type,
        schema_version=payload.schema_version,
        payload=payload.model_dump(mode="json"),
        **envelope_fields,
    )


def decode(raw: bytes | str, allowed: tuple[type[Message], ...] | None = None) -> tuple[Envelope, Message]:
    """Decode raw bytes into (envelope, typed payload) or raise :class:`UndecodableMessage` naming the fault."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UndecodableMessage("invalid_json", f"message is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UndecodableMessage("invalid_envelope", "message must be a JSON object")
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        raise UndecodableMessage("invalid_envelope", f"invalid envelope: {_describe(exc)}") from None
    model = MESSAGES.get((envelope.type, envelope.schema_version))
    if model is None or (allowed is not None and model not in allowed):
        raise UndecodableMessage(
            "unknown_type", f"unknown message type {envelope.type!r} version {envelope.schema_version} here"
        )
    try:
        payload = model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise UndecodableMessage("invalid_payload", f"invalid {envelope.type}: {_describe(exc)}") from None
    return envelope, payload
